"""``genomics-mock conformance --workers N`` (or ``--tx SPEC``): the checks over pytest-xdist.

Nothing here schedules work: pytest-xdist does (``--dist worksteal``, so an idle worker takes
checks queued on a busy one). This module runs ``pytest --pyargs contracts.test_suites`` in
this process with the same options a user would give, then rebuilds each check's
:class:`~contracts.runner.Result` from the reports' user properties. Without ``--base-url``
each worker starts its own in-process mock. While checks run, the workers keep their counts in
small files in a temporary directory, which a thread here feeds to the live progress.
A check still running at Ctrl-C is ``interrupted``; the ones not started are "not run".
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from contracts.outcome import NOT_RUN, Report, Result

#: seconds between two looks at the workers' progress files
POLL = 0.5


def pytest_args(args: argparse.Namespace, seed: int, progress_dir: str, rootdir: str) -> list[str]:
    """The pytest command line of the run (no ini file of the current directory applies)."""
    argv = [
        "--pyargs",
        "contracts.test_suites",
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        "-c",
        os.devnull,
        "--rootdir",
        rootdir,
        "--dist",
        "worksteal",
        "--contracts-progress-dir",
        progress_dir,
        "--contracts-seed",
        str(seed),
        "--contracts-profile",
        args.profile,
    ]
    for spec in args.tx or []:
        argv += ["--tx", spec]
    if not args.tx:
        argv += ["-n", str(args.workers)]
    values = {
        "base-url": args.base_url,
        "writer-token": args.writer_token,
        "admin-token": args.admin_token,
        "reader-token": args.reader_token,
        "outsider-token": args.outsider_token,
        "readonly-token": args.readonly_token,
        "reader-member": args.reader_member,
        "outsider-member": args.outsider_member,
        "project": args.project,
        "reference-set-id": args.reference_set_id,
    }
    for name, value in values.items():
        if value is not None:
            argv += [f"--contracts-{name}", value]
    if args.strict_auth:
        argv.append("--contracts-strict-auth")
    for suite in args.suite or []:
        argv += ["--contracts-suite", suite]
    return argv


class Collector:
    """pytest plugin on the controlling process: results from the workers' reports."""

    def __init__(self, checks: list[Any], progress: Any) -> None:
        self.checks = {c.id: c for c in checks}
        self.progress = progress
        self.results: dict[str, Result] = {}
        self.running: set[str] = set()
        self.lock = threading.Lock()

    @staticmethod
    def check_id(nodeid: str) -> str:
        return nodeid.rsplit("[", 1)[-1].rstrip("]")

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        check_id = self.check_id(nodeid)
        with self.lock:
            self.running.add(check_id)
        if self.progress is not None:
            self.progress.started(check_id)

    def pytest_runtest_logreport(self, report: Any) -> None:
        check_id = self.check_id(report.nodeid)
        check = self.checks.get(check_id)
        props = dict(report.user_properties)
        if check is None or (report.when != "call" and report.passed) or check_id in self.results:
            return
        if "status" in props:
            result = Result(
                check.suite,
                check.name,
                check.doc,
                str(props["status"]),
                float(props["seconds"]),
                int(props["cases"]),
                int(props["invariants"]),
                set(filter(None, str(props["operations"]).split(","))),
                str(props["message"]),
                str(props["reproduction"]),
                int(props["failures"]),
            )
        else:  # the worker failed before the check ran (its session fixture, a crashed worker)
            message = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else report.outcome
            status = "skipped" if report.skipped else "failed"
            result = Result(check.suite, check.name, check.doc, status, report.duration, message=message)
        with self.lock:
            self.results[check_id] = result
            self.running.discard(check_id)
        if self.progress is not None:
            self.progress.finished(check_id, result.status, result.cases, result.failures, result.seconds)

    def poll(self, directory: Path) -> None:
        """Feed the running checks' counts (written by the workers) to the live progress."""
        if self.progress is None:
            return
        for path in directory.glob("*.json"):
            check_id = path.stem.replace("--", "::")
            if check_id in self.results:
                continue
            with contextlib.suppress(OSError, ValueError):
                counts = json.loads(path.read_text())
                self.progress.update(check_id, int(counts["cases"]), int(counts["failures"]))

    def report(self, seed: int, base_url: str, interrupted: bool) -> Report:
        results = []
        for check_id, check in self.checks.items():
            if check_id in self.results:
                results.append(self.results[check_id])
            elif interrupted and check_id in self.running:
                results.append(
                    Result(
                        check.suite,
                        check.name,
                        check.doc,
                        "interrupted",
                        0.0,
                        message="interrupted (SIGINT) while running",
                    )
                )
            else:
                results.append(Result(check.suite, check.name, check.doc, "skipped", 0.0, message=NOT_RUN))
        return Report(results, seed, base_url)


def run_parallel(args: argparse.Namespace, seed: int, progress: Any) -> Report:
    import pytest

    from contracts.core import iter_checks

    checks = list(iter_checks(args.suite))
    collector = Collector(checks, progress)
    with tempfile.TemporaryDirectory(prefix="genomics-conformance-") as tmp:
        directory = Path(tmp, "progress")
        directory.mkdir()
        done = threading.Event()

        def watch() -> None:
            while not done.wait(POLL):
                collector.poll(directory)

        watcher = threading.Thread(target=watch, name="conformance-progress", daemon=True)
        watcher.start()
        try:
            with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
                code = pytest.main(pytest_args(args, seed, str(directory), tmp), plugins=[collector])
        finally:
            done.set()
            watcher.join()
    interrupted = code == pytest.ExitCode.INTERRUPTED
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and not interrupted:
        missing = [c for c in collector.checks if c not in collector.results]
        if missing:
            raise RuntimeError(f"pytest-xdist ended with {code!r} before running {', '.join(missing)}")
    return collector.report(seed, args.base_url or "in-process mocks", interrupted)
