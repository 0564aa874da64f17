"""Run the suites against a target: live progress, a summary table, reproductions, JUnit.

``genomics-mock conformance`` is :func:`main`; without ``--base-url`` it starts the mock
in-process (:mod:`contracts.local`). ``--workers N`` (or ``--tx``) hands the checks to
pytest-xdist (:mod:`contracts.parallel`); otherwise they run one after the other here.

A verdict is never a false pass. Exit status: 0 when every check passed (or was skipped
with a reason); 1 when any failed, including a check that evaluated no invariant at all;
2 when the run cannot start (a malformed ``--base-url``, a target that does not answer, does
not speak the API or refuses the writer: one line, at once); 130 when interrupted (Ctrl-C:
the check that was running is marked interrupted, the ones not reached "not run").
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import time
from typing import Any

from contracts.outcome import NOT_RUN, Report, Result, not_run, run_check

__all__ = ["NOT_RUN", "Report", "Result", "main", "not_run", "run_check", "run_suites"]

SUITE_NAMES = ("schema", "pagination", "permissions", "fields", "model")
INTERRUPTED_EXIT = 130


def base_url(value: str) -> str:
    """argparse type of ``--base-url``: an absolute http(s) URL (checked before anything runs)."""
    from contracts.preflight import validate_base_url

    try:
        return validate_base_url(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def workers(value: str) -> int:
    """argparse type of ``--workers``: a positive number, or ``auto`` (one per CPU)."""
    if value == "auto":
        return os.cpu_count() or 1
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"--workers takes a positive number or 'auto', got {value!r}")
    return count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--base-url",
        type=base_url,
        default=env("GENOMICS_CONFORMANCE_URL"),
        metavar="URL",
        help="[GENOMICS_CONFORMANCE_URL] server to test (default: start the mock in-process and test that)",
    )
    tokens = {
        "writer": "owner of --project: creates datasets there and sets their IAM policies",
        "admin": "for the mock's admin API (/_mock/principals): a superuser (default: the writer's)",
        "reader": "a caller with roles/viewer on --project",
        "outsider": "an authenticated caller with no role on --project",
        "readonly": "roles/editor on --project, but only the genomics.readonly scope",
    }
    for role, meaning in tokens.items():
        parser.add_argument(
            f"--{role}-token",
            default=env(f"GENOMICS_{role.upper()}_TOKEN"),
            metavar="T",
            help=f"[GENOMICS_{role.upper()}_TOKEN] {meaning}",
        )
    parser.add_argument(
        "--reader-member",
        default=env("GENOMICS_READER_MEMBER"),
        metavar="MEMBER",
        help="[GENOMICS_READER_MEMBER] IAM member behind --reader-token (user:EMAIL), to grant it "
        "dataset roles",
    )
    parser.add_argument(
        "--outsider-member",
        default=env("GENOMICS_OUTSIDER_MEMBER"),
        metavar="MEMBER",
        help="[GENOMICS_OUTSIDER_MEMBER] IAM member behind --outsider-token",
    )
    parser.add_argument(
        "--project",
        default=env("GENOMICS_PROJECT"),
        help="[GENOMICS_PROJECT] project to create test datasets in (default: a fresh random id per check)",
    )
    parser.add_argument(
        "--reference-set-id",
        default=env("GENOMICS_REFERENCE_SET_ID"),
        metavar="ID",
        help="[GENOMICS_REFERENCE_SET_ID] reference set the annotation sets name (default: the first the "
        "target lists)",
    )
    parser.add_argument(
        "--suite",
        action="append",
        choices=SUITE_NAMES,
        metavar="NAME",
        help=f"run only this suite (repeatable): {', '.join(SUITE_NAMES)}",
    )
    parser.add_argument(
        "--profile",
        choices=("quick", "deep"),
        default="quick",
        help="quick: ~1 minute, for every CI run; deep: thorough, many minutes",
    )
    parser.add_argument("--seed", type=int, help="Hypothesis/Schemathesis seed (default: random, printed)")
    parser.add_argument(
        "--workers",
        type=workers,
        default=1,
        metavar="N",
        help="spread the checks over N processes with pytest-xdist ('auto': one per CPU); "
        "without --base-url each runs its own in-process mock",
    )
    parser.add_argument(
        "--tx",
        action="append",
        metavar="SPEC",
        help="pytest-xdist execution spec, repeatable (e.g. ssh=host//python=python3): run checks there",
    )
    parser.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument(
        "--strict-auth",
        action="store_true",
        help="the target refuses anonymous callers (enables Schemathesis' ignored_auth check)",
    )


def run_suites(target: Any, suites: list[str] | None = None, *, progress: Any = None) -> Report:
    """Run the chosen suites against ``target`` (a :class:`contracts.core.Target`), in this
    process, one check after the other; stops at the first interrupted check."""
    from contracts.core import iter_checks
    from contracts.progress import listener_for

    checks = list(iter_checks(list(suites) if suites else None))
    results: list[Result] = []
    try:
        for check in checks:
            listener = None
            if progress is not None:
                progress.started(check.id)
                listener = listener_for(progress, check.id)
            result = run_check(check, target, listener)
            results.append(result)
            if progress is not None:
                progress.finished(check.id, result.status, result.cases, result.failures, result.seconds)
            if result.status == "interrupted":
                break
    except KeyboardInterrupt:  # between checks, or a second Ctrl-C during a clean-up
        pass
    results += [not_run(check) for check in checks[len(results) :]]
    return Report(results, target.seed or 0, target.base_url)


def print_report(report: Report, console: Any, rerun: str = "") -> None:
    """The summary table, skip reasons and each failure; ``rerun`` holds the options the re-run
    command repeats besides suite and seed (the target, the profile)."""
    from rich.table import Table

    table = Table(title=f"Conformance of {report.base_url} (seed {report.seed})")
    for column in (
        "suite",
        "operations covered",
        "invariants checked",
        "cases run",
        "failures",
        "skipped",
        "time",
    ):
        table.add_column(column, justify="left" if column == "suite" else "right")
    for suite, results in by_suite(report).items():
        ops = set().union(*(r.operations for r in results))
        failed = sum(r.status == "failed" for r in results)
        table.add_row(
            suite,
            str(len(ops)),
            str(sum(r.invariants for r in results)),
            str(sum(r.cases for r in results)),
            f"[red]{failed}" if failed else "0",
            str(sum(r.status == "skipped" for r in results)),
            f"{sum(r.seconds for r in results):.1f}s",
        )
    console.print(table)
    for r in report.results:
        if r.status == "skipped":
            console.print(f"[yellow]skipped[/] {r.id}: {r.message}")
    for r in report.failed:
        console.rule(f"[red]FAILED {r.id}")
        console.print(r.doc, markup=False)
        console.print(r.message, markup=False, highlight=False)
        if r.reproduction:
            console.print("Reproduction (requests in order, as sent):", style="bold")
            console.print(r.reproduction, markup=False, highlight=False, soft_wrap=True)
        console.print(
            f"Re-run: genomics-mock conformance{rerun} --suite {r.suite} --seed {report.seed}",
            markup=False,
        )


def by_suite(report: Report) -> dict[str, list[Result]]:
    grouped: dict[str, list[Result]] = {}
    for r in report.results:
        grouped.setdefault(r.suite, []).append(r)
    return grouped


def write_junit(report: Report, path: str) -> None:
    """One ``<testsuite>`` per suite; failures carry the reproduction, an interrupted check is an
    ``<error>`` and a check the interruption kept from running is ``<skipped>``, both saying so."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="genomics-conformance")
    for suite, results in by_suite(report).items():
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite,
            tests=str(len(results)),
            failures=str(sum(r.status == "failed" for r in results)),
            errors=str(sum(r.status == "interrupted" for r in results)),
            skipped=str(sum(r.status == "skipped" for r in results)),
            time=f"{sum(r.seconds for r in results):.3f}",
        )
        ET.SubElement(ET.SubElement(element, "properties"), "property", name="seed", value=str(report.seed))
        for r in results:
            case = ET.SubElement(
                element, "testcase", classname=f"contracts.{suite}", name=r.check, time=f"{r.seconds:.3f}"
            )
            if r.status == "failed":
                failure = ET.SubElement(case, "failure", message=r.message.split("\n")[0][:500])
                failure.text = f"{r.message}\n\nReproduction:\n{r.reproduction}"
            elif r.status == "interrupted":
                ET.SubElement(case, "error", type="interrupted", message=r.message)
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.message)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def target_from_args(args: argparse.Namespace, seed: int) -> Any:
    from contracts.core import Target

    return Target(
        args.base_url,
        writer_token=args.writer_token,
        admin_token=args.admin_token,
        reader_token=args.reader_token,
        outsider_token=args.outsider_token,
        readonly_token=args.readonly_token,
        reader_member=args.reader_member,
        outsider_member=args.outsider_member,
        project=args.project,
        profile=args.profile,
        seed=seed,
        strict_auth=args.strict_auth,
        reference_set_id=args.reference_set_id,
    )


def execute(args: argparse.Namespace, seed: int, target: Any, console: Any, progress: Any) -> Report:
    """Run the chosen checks: here one by one, or over pytest-xdist workers. ``target`` is the
    prepared target of ``--base-url`` (None: the mock in-process)."""
    from contracts.local import local_mock
    from contracts.preflight import prepare

    what = f"profile {args.profile}, seed {seed}"
    if args.workers > 1 or args.tx:
        from contracts.parallel import run_parallel

        where = args.base_url or "an in-process mock per worker"
        spread = f"{len(args.tx)} --tx" if args.tx else f"{args.workers} workers"
        console.print(f"Testing {where} ({what}, {spread})")
        return run_parallel(args, seed, progress)
    if target is not None:
        console.print(f"Testing {target.base_url} ({what})")
        return run_suites(target, args.suite, progress=progress)
    with local_mock(profile=args.profile, seed=seed) as local:
        console.print(f"Testing the in-process mock at {local.base_url} ({what})")
        return run_suites(prepare(local), args.suite, progress=progress)


def main(args: argparse.Namespace) -> int:
    import warnings

    from rich.console import Console

    from contracts.core import iter_checks
    from contracts.preflight import TargetError, prepare
    from contracts.progress import make_progress

    warnings.filterwarnings("ignore", message=".*starlette.testclient")
    # Ctrl-C / SIGINT stops the run even when the caller started us with SIGINT ignored (a shell's
    # background job): Python keeps an inherited SIG_IGN, and the run would go on to a verdict
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # bound to the real stdout: the parallel runner silences pytest by redirecting sys.stdout
    console = Console(file=sys.stdout) if sys.stdout.isatty() else Console(file=sys.stdout, width=120)
    errors = Console(stderr=True, width=200)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    started = time.monotonic()
    checks = list(iter_checks(args.suite))
    progress = None
    try:
        # unreachable, not the API, writer refused: one line, before anything runs
        target = prepare(target_from_args(args, seed)) if args.base_url else None
        progress = make_progress(console, checks)
        report = execute(args, seed, target, console, progress)
    except TargetError as exc:
        errors.print(f"genomics-mock conformance: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:  # before the first check: nothing ran
        report = Report([not_run(c) for c in checks], seed, args.base_url or "the in-process mock")
    finally:
        if progress is not None:
            progress.close()
    report.seed = seed
    if args.junit_xml:
        write_junit(report, args.junit_xml)
    if report.interrupted:
        finished = sum(r.status in ("passed", "failed") for r in report.results)
        saved = f"; JUnit written to {args.junit_xml}" if args.junit_xml else ""
        errors.print(
            f"genomics-mock conformance: interrupted (SIGINT) after {finished} of {len(report.results)} "
            f"checks, {len(report.failed)} failed{saved}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return INTERRUPTED_EXIT
    rerun = (f" --base-url {args.base_url}" if args.base_url else "") + (
        f" --profile {args.profile}" if args.profile != "quick" else ""
    )
    print_report(report, console, rerun)
    if args.junit_xml:
        console.print(f"JUnit XML written to {args.junit_xml}")
    console.print(f"{summary(report)} in {time.monotonic() - started:.0f}s")
    return 1 if report.failed else 0


def summary(report: Report) -> str:
    """The verdict line: a skipped check is counted apart, never as passed."""
    passed = sum(r.status == "passed" for r in report.results)
    skipped = sum(r.status == "skipped" for r in report.results)
    line = f"{passed}/{len(report.results)} checks passed"
    return line + (f", {skipped} skipped (reasons above)" if skipped else "")
