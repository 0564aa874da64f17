"""Run the suites against a target: progress on the terminal, a summary table, reproductions.

``genomics-mock conformance`` is :func:`main`; without ``--base-url`` it
starts the mock in-process (:mod:`contracts.local`). Exit status: 0 when
every check passed (or was skipped with a reason), 1 when any failed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

SUITE_NAMES = ("schema", "pagination", "permissions", "fields", "model")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument(
        "--base-url",
        default=env("GENOMICS_CONFORMANCE_URL"),
        metavar="URL",
        help="[GENOMICS_CONFORMANCE_URL] server to test (default: start the mock in-process and test that)",
    )
    parser.add_argument(
        "--writer-token",
        default=env("GENOMICS_WRITER_TOKEN"),
        metavar="T",
        help="[GENOMICS_WRITER_TOKEN] bearer token allowed to create datasets in --project and set "
        "their IAM policies",
    )
    parser.add_argument(
        "--reader-token",
        default=env("GENOMICS_READER_TOKEN"),
        metavar="T",
        help="[GENOMICS_READER_TOKEN] bearer token of a caller with read access only",
    )
    parser.add_argument(
        "--outsider-token",
        default=env("GENOMICS_OUTSIDER_TOKEN"),
        metavar="T",
        help="[GENOMICS_OUTSIDER_TOKEN] bearer token of a caller with no access to --project",
    )
    parser.add_argument(
        "--readonly-token",
        default=env("GENOMICS_READONLY_TOKEN"),
        metavar="T",
        help="[GENOMICS_READONLY_TOKEN] bearer token with write roles but only the genomics.readonly scope",
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
        help="[GENOMICS_PROJECT] project to create test datasets in (default: a fresh random id)",
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
    parser.add_argument("--junit-xml", metavar="FILE", help="write a JUnit XML report")
    parser.add_argument(
        "--strict-auth",
        action="store_true",
        help="the target refuses anonymous callers (enables Schemathesis' ignored_auth check)",
    )


@dataclass
class Result:
    suite: str
    check: str
    doc: str
    status: str  # passed | failed | skipped
    seconds: float
    cases: int = 0
    invariants: int = 0
    operations: set[str] = field(default_factory=set)
    message: str = ""
    reproduction: str = ""


@dataclass
class Report:
    results: list[Result]
    seed: int
    base_url: str

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "failed"]

    def suites_failed(self) -> set[str]:
        return {r.suite for r in self.failed}


def run_check(check: Any, target: Any) -> Result:
    """One check in a fresh Context; never raises for a server's fault."""
    from contracts.core import Context, SkipCheck

    ctx = Context(target)
    started = time.monotonic()
    status, message, repro = "passed", "", ""
    try:
        check.fn(ctx)
    except SkipCheck as skip:
        status, message = "skipped", str(skip)
    except Exception as exc:  # noqa: BLE001 - a failing server, or a broken check: both are reported
        status = "failed"
        notes = "\n".join(getattr(exc, "__notes__", []) or [])
        kind = "" if isinstance(exc, AssertionError) else f"{type(exc).__name__}: "
        message = f"{kind}{exc}" + (f"\n{notes}" if notes else "")
        repro = getattr(exc, "reproduction", "") or ctx.recorder.reproduction()
    finally:
        try:
            ctx.cleanup()
        except Exception:  # noqa: BLE001 - cleanup is best effort
            pass
    return Result(
        check.suite,
        check.name,
        check.doc,
        status,
        time.monotonic() - started,
        ctx.stats.cases,
        ctx.stats.invariants,
        set(ctx.stats.operations),
        message,
        repro,
    )


def run_suites(target: Any, suites: list[str] | None = None, *, console: Any = None) -> Report:
    """Run the chosen suites against ``target`` (a :class:`contracts.core.Target`)."""
    from contracts.core import iter_checks

    checks = list(iter_checks(list(suites) if suites else None))
    results: list[Result] = []
    if console is None:
        for check in checks:
            results.append(run_check(check, target))
        return Report(results, target.seed or 0, target.base_url)
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("conformance", total=len(checks))
        for check in checks:
            progress.update(task, description=f"{check.suite}: {check.name}")
            result = run_check(check, target)
            results.append(result)
            mark = {"passed": "[green]PASS", "failed": "[red]FAIL", "skipped": "[yellow]SKIP"}[result.status]
            progress.console.print(
                f"  {mark}[/] {check.suite}::{check.name}  "
                f"[dim]{result.cases} cases, {result.seconds:.1f}s[/]"
            )
            progress.advance(task)
    return Report(results, target.seed or 0, target.base_url)


def print_report(report: Report, console: Any) -> None:
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
    by_suite: dict[str, list[Result]] = {}
    for r in report.results:
        by_suite.setdefault(r.suite, []).append(r)
    for suite, results in by_suite.items():
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
            console.print(f"[yellow]skipped[/] {r.suite}::{r.check}: {r.message}")
    for r in report.failed:
        console.rule(f"[red]FAILED {r.suite}::{r.check}")
        console.print(r.doc, markup=False)
        console.print(r.message, markup=False, highlight=False)
        if r.reproduction:
            console.print("Reproduction (requests in order, as sent):", style="bold")
            console.print(r.reproduction, markup=False, highlight=False, soft_wrap=True)
        console.print(
            f"Re-run: genomics-mock conformance --base-url {report.base_url} --suite {r.suite} "
            f"--seed {report.seed}",
            markup=False,
        )


def write_junit(report: Report, path: str) -> None:
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="genomics-conformance")
    by_suite: dict[str, list[Result]] = {}
    for r in report.results:
        by_suite.setdefault(r.suite, []).append(r)
    for suite, results in by_suite.items():
        element = ET.SubElement(
            root,
            "testsuite",
            name=suite,
            tests=str(len(results)),
            failures=str(sum(r.status == "failed" for r in results)),
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
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message=r.message)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def main(args: argparse.Namespace) -> int:
    import warnings

    from rich.console import Console

    from contracts.core import Target
    from contracts.local import local_mock

    warnings.filterwarnings("ignore", message=".*starlette.testclient")
    console = Console() if sys.stdout.isatty() else Console(width=120)
    seed = args.seed if args.seed is not None else random.randrange(2**31)
    started = time.monotonic()
    if args.base_url:
        target = Target(
            args.base_url,
            writer_token=args.writer_token,
            reader_token=args.reader_token,
            outsider_token=args.outsider_token,
            readonly_token=args.readonly_token,
            reader_member=args.reader_member,
            outsider_member=args.outsider_member,
            project=args.project,
            profile=args.profile,
            seed=seed,
            strict_auth=args.strict_auth,
        )
        console.print(f"Testing {target.base_url} (profile {args.profile}, seed {seed})")
        report = run_suites(target, args.suite, console=console)
    else:
        with local_mock(profile=args.profile, seed=seed) as target:
            console.print(
                f"Testing the in-process mock at {target.base_url} (profile {args.profile}, seed {seed})"
            )
            report = run_suites(target, args.suite, console=console)
    report.seed = seed
    print_report(report, console)
    if args.junit_xml:
        write_junit(report, args.junit_xml)
        console.print(f"JUnit XML written to {args.junit_xml}")
    total = len(report.results)
    console.print(f"{total - len(report.failed)}/{total} checks passed in {time.monotonic() - started:.0f}s")
    return 1 if report.failed else 0
