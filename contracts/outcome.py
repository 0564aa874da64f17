"""One check's outcome, and a run's: what the serial runner, the pytest-xdist workers and the
reports (table, JUnit) share.

:func:`run_check` is the one place a check is executed: a fresh Context, the verdict, the
clean-up. A check that evaluated no invariant fails (no evidence is no pass), and Ctrl-C
makes the result ``interrupted`` instead of escaping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

NOT_RUN = "not run: the run was interrupted"


@dataclass
class Result:
    suite: str
    check: str
    doc: str
    status: str  # passed | failed | skipped | interrupted
    seconds: float
    cases: int = 0
    invariants: int = 0
    operations: set[str] = field(default_factory=set)
    message: str = ""
    reproduction: str = ""
    failures: int = 0

    @property
    def id(self) -> str:
        return f"{self.suite}::{self.check}"


@dataclass
class Report:
    results: list[Result]
    seed: int
    base_url: str

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" or r.message == NOT_RUN for r in self.results)

    def suites_failed(self) -> set[str]:
        return {r.suite for r in self.failed}


def not_run(check: Any) -> Result:
    return Result(check.suite, check.name, check.doc, "skipped", 0.0, message=NOT_RUN)


def run_check(check: Any, target: Any, listener: Any = None) -> Result:
    """One check in a fresh Context; never raises for a server's fault, nor for Ctrl-C (the
    result is then ``interrupted``). A check that evaluated no invariant fails."""
    from contracts.core import Context, SkipCheck

    ctx = Context(target, listener=listener)
    started = time.monotonic()
    status, message, repro = "passed", "", ""
    try:
        check.fn(ctx)
    except SkipCheck as skip:
        status, message = "skipped", str(skip)
    except KeyboardInterrupt:
        status, message = "interrupted", f"interrupted (SIGINT) after {ctx.stats.cases} cases"
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
    if status == "passed" and ctx.stats.invariants == 0:
        status = "failed"
        message = (
            f"checked nothing: {ctx.stats.cases} cases ran but no invariant was evaluated, "
            "so there is no evidence the target keeps this rule"
        )
    failures = max(1, ctx.stats.failures) if status == "failed" else 0
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
        failures,
    )


