"""Every registered check as one pytest test (``pytest --pyargs contracts``, ``-n auto`` to spread them).

The test runs the check exactly as ``genomics-mock conformance`` does (:func:`contracts.runner.run_check`)
and hands its figures to the controlling process as user properties, so the runner's
``--workers N`` mode rebuilds the same results from pytest-xdist's reports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from contracts.core import Check, Stats, Target, iter_checks
from contracts.outcome import run_check

#: seconds between two writes of a running check's counts to --contracts-progress-dir
PROGRESS_EVERY = 0.5
#: collection order, longest checks first (the model run is one long property; the schema checks
#: come next): pytest-xdist then starts them early and the run does not end on one long check
#: while the other workers idle
LONGEST_FIRST = ("model", "schema", "pagination", "permissions", "fields")


def checks_longest_first() -> list[Check]:
    return sorted(iter_checks(), key=lambda check: LONGEST_FIRST.index(check.suite))


def progress_writer(directory: str, check: Check) -> Any:
    """A listener that keeps ``<dir>/<check id>.json`` = {cases, failures} current (throttled)."""
    path = Path(directory) / f"{check.id.replace('::', '--')}.json"
    last = [0.0]

    def write(stats: Stats) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"cases": stats.cases, "failures": stats.failures}))
        tmp.replace(path)

    return write


@pytest.mark.parametrize("check", checks_longest_first(), ids=lambda c: c.id)
def test_contract(check: Check, contracts_target: Target, request: pytest.FixtureRequest) -> None:
    directory = request.config.getoption("contracts_progress_dir", None)
    listener = progress_writer(directory, check) if directory else None
    result = run_check(check, contracts_target, listener)
    request.node.user_properties.extend(
        [
            ("status", result.status),
            ("cases", result.cases),
            ("invariants", result.invariants),
            ("failures", result.failures),
            ("seconds", round(result.seconds, 3)),
            ("operations", ",".join(sorted(result.operations))),
            ("message", result.message),
            ("reproduction", result.reproduction),
        ]
    )
    if result.status == "interrupted":
        raise KeyboardInterrupt
    if result.status == "skipped":
        pytest.skip(result.message)
    if result.status == "failed":
        pytest.fail(
            f"{result.message}\n\nReproduction (requests in order):\n{result.reproduction}", pytrace=False
        )
