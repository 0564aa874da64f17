"""Live progress of a conformance run: cases run and failures so far, per suite.

On a terminal, a rich progress display with one line per suite (checks done, cases, failures,
elapsed time) that updates while a check runs; elsewhere (CI logs, pipes) plain lines: one per
finished check, and a heartbeat line for a long check every :data:`HEARTBEAT` seconds. Both
are fed the same three events by the serial runner and by the parallel one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any, Protocol

from contracts.core import Check, Stats

#: seconds between plain "still running" lines for one check
HEARTBEAT = 30.0
MARKS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP", "interrupted": "STOP"}


class Progress(Protocol):
    def started(self, check_id: str) -> None: ...

    def update(self, check_id: str, cases: int, failures: int) -> None: ...

    def finished(self, check_id: str, status: str, cases: int, failures: int, seconds: float) -> None: ...

    def close(self) -> None: ...


def suite_of(check_id: str) -> str:
    return check_id.split("::", 1)[0]


class _Tally:
    """Per-suite counts, kept from per-check figures (a check's counts replace its last ones)."""

    def __init__(self, checks: Iterable[Check]) -> None:
        self.totals: dict[str, int] = {}
        for check in checks:
            self.totals[check.suite] = self.totals.get(check.suite, 0) + 1
        self.cases: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.done: dict[str, int] = {}
        self.lock = threading.Lock()

    def set(self, check_id: str, cases: int, failures: int) -> None:
        with self.lock:
            self.cases[check_id] = cases
            self.failures[check_id] = failures

    def suite(self, suite: str) -> tuple[int, int, int]:
        """(checks done, cases, failures) of one suite."""
        with self.lock:
            ids = [c for c in self.cases if suite_of(c) == suite]
            return (
                self.done.get(suite, 0),
                sum(self.cases[c] for c in ids),
                sum(self.failures[c] for c in ids),
            )


class RichProgress:
    """One live line per suite on a terminal."""

    def __init__(self, console: Any, checks: list[Check]) -> None:
        from rich.progress import BarColumn, SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as RichBar

        self.tally = _Tally(checks)
        self.console = console
        self.bar = RichBar(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(bar_width=20),
            TextColumn("{task.completed}/{task.total} checks"),
            TextColumn("{task.fields[cases]:>7} cases"),
            TextColumn("{task.fields[failures]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.tasks = {
            suite: self.bar.add_task(suite, total=total, cases=0, failures="[green]0 failures", start=False)
            for suite, total in self.tally.totals.items()
        }
        self.bar.start()

    def _refresh(self, suite: str) -> None:
        done, cases, failures = self.tally.suite(suite)
        shown = f"[red]{failures} failures" if failures else "[green]0 failures"
        self.bar.update(self.tasks[suite], completed=done, cases=cases, failures=shown)

    def started(self, check_id: str) -> None:
        self.bar.start_task(self.tasks[suite_of(check_id)])

    def update(self, check_id: str, cases: int, failures: int) -> None:
        self.tally.set(check_id, cases, failures)
        self._refresh(suite_of(check_id))

    def finished(self, check_id: str, status: str, cases: int, failures: int, seconds: float) -> None:
        suite = suite_of(check_id)
        with self.tally.lock:
            self.tally.done[suite] = self.tally.done.get(suite, 0) + 1
        self.tally.set(check_id, cases, failures)
        self._refresh(suite)
        style = {"passed": "green", "failed": "red", "skipped": "yellow", "interrupted": "yellow"}[status]
        self.bar.console.print(
            f"  [{style}]{MARKS[status]}[/] {check_id}  [dim]{cases} cases, {seconds:.1f}s[/]"
        )

    def close(self) -> None:
        self.bar.stop()


class PlainProgress:
    """Plain lines for logs: one per finished check, a heartbeat for long ones."""

    def __init__(self, console: Any, checks: list[Check]) -> None:
        self.console = console
        self.last: dict[str, float] = {}
        self.lock = threading.Lock()

    def _print(self, line: str) -> None:
        with self.lock:
            self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def started(self, check_id: str) -> None:
        self.last[check_id] = time.monotonic()

    def update(self, check_id: str, cases: int, failures: int) -> None:
        now = time.monotonic()
        if now - self.last.get(check_id, now) >= HEARTBEAT:
            self.last[check_id] = now
            self._print(f"  ... {check_id}: {cases} cases, {failures} failures so far")

    def finished(self, check_id: str, status: str, cases: int, failures: int, seconds: float) -> None:
        self._print(f"  {MARKS[status]} {check_id}  {cases} cases, {seconds:.1f}s")

    def close(self) -> None:
        pass


def make_progress(console: Any, checks: list[Check]) -> Progress:
    return RichProgress(console, checks) if console.is_terminal else PlainProgress(console, checks)


def listener_for(progress: Progress, check_id: str) -> Any:
    """A :data:`contracts.core.Listener` that forwards a check's statistics to ``progress``."""

    def listen(stats: Stats) -> None:
        progress.update(check_id, stats.cases, stats.failures)

    return listen
