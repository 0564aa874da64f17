"""Every contract suite passes on the unbroken mock (the other half of the kill-count test)."""

from __future__ import annotations

from contracts.core import SUITE_MODULES, Target
from contracts.local import local_mock
from contracts.runner import run_suites


def test_all_suites_pass_on_the_mock() -> None:
    with local_mock(seed=0) as target:
        report = run_suites(Target(**{**target.__dict__, "max_examples": 6}))
    assert {r.suite for r in report.results} == set(SUITE_MODULES)
    failed = [f"{r.suite}::{r.check}: {r.message[:300]}\n{r.reproduction[-1500:]}" for r in report.failed]
    assert not failed, "\n\n".join(failed)
    assert not [r for r in report.results if r.status == "skipped"], (
        "the in-process mock must enable every check"
    )
    assert all(r.cases > 0 for r in report.results)
