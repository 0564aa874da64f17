"""pytest integration: ``pytest --pyargs contracts [--genomics-mock-url URL | --contracts-base-url URL]``.

Registered by the ``pytest11`` entry point, so the ``--contracts-*`` options exist wherever
pytest runs (each also read from the environment variable ``genomics-mock conformance`` uses).
Without a URL every session (every pytest-xdist worker: ``-n auto``) runs the suites against an
in-process mock of its own (strict auth, four callers), exactly like ``genomics-mock
conformance`` without ``--base-url``.

A contracts URL given with ``--contracts-base-url`` (or ``GENOMICS_CONFORMANCE_URL``) is checked
once, by the controlling process, before any test: an unreachable target ends the session with
one line (exit 2). ``--genomics-mock-url`` belongs to the project's own plugin, which checks it
the same way. Heavy imports happen inside the hooks and fixtures only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from contracts.core import Target

#: option (without ``--contracts-``) -> environment variable read when the option is absent
OPTIONS_ENV = {
    "base-url": "GENOMICS_CONFORMANCE_URL",
    "writer-token": "GENOMICS_WRITER_TOKEN",
    "admin-token": "GENOMICS_ADMIN_TOKEN",
    "reader-token": "GENOMICS_READER_TOKEN",
    "outsider-token": "GENOMICS_OUTSIDER_TOKEN",
    "readonly-token": "GENOMICS_READONLY_TOKEN",
    "reader-member": "GENOMICS_READER_MEMBER",
    "outsider-member": "GENOMICS_OUTSIDER_MEMBER",
    "project": "GENOMICS_PROJECT",
    "reference-set-id": "GENOMICS_REFERENCE_SET_ID",
    "profile": "GENOMICS_CONFORMANCE_PROFILE",
    "seed": "GENOMICS_CONFORMANCE_SEED",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "Genomics contract suites (pytest --pyargs contracts)")
    for name, env in OPTIONS_ENV.items():
        group.addoption(f"--contracts-{name}", default=None, metavar="V", help=f"[{env}]")
    group.addoption(
        "--contracts-strict-auth",
        action="store_true",
        default=None,
        help="the target refuses anonymous callers",
    )
    group.addoption(
        "--contracts-suite",
        action="append",
        default=None,
        metavar="NAME",
        help="run only this suite's checks (repeatable)",
    )
    group.addoption(
        "--contracts-progress-dir",
        default=None,
        metavar="DIR",
        help="write each running check's counts there (used by genomics-mock conformance --workers)",
    )


def option(config: pytest.Config, name: str) -> Any:
    """``--contracts-<name>``, else its environment variable."""
    value = config.getoption(f"contracts_{name.replace('-', '_')}", None)
    if value is None and name in OPTIONS_ENV:
        value = os.environ.get(OPTIONS_ENV[name])
    return value


def target_from_config(config: pytest.Config) -> Target | None:
    """The Target the options describe, or None for the in-process mock."""
    from contracts.core import Target

    url = option(config, "base-url") or config.getoption("genomics_mock_url", None)
    if not url:
        return None
    seed = option(config, "seed")
    return Target(
        url,
        writer_token=option(config, "writer-token"),
        admin_token=option(config, "admin-token"),
        reader_token=option(config, "reader-token"),
        outsider_token=option(config, "outsider-token"),
        readonly_token=option(config, "readonly-token"),
        reader_member=option(config, "reader-member"),
        outsider_member=option(config, "outsider-member"),
        project=option(config, "project"),
        reference_set_id=option(config, "reference-set-id"),
        profile=option(config, "profile") or "quick",
        seed=int(seed) if seed is not None else None,
        strict_auth=bool(option(config, "strict-auth")),
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """The controlling process checks a contracts URL once: one line and exit 2 when unusable."""
    config = session.config
    if hasattr(config, "workerinput") or not option(config, "base-url"):
        return
    from contracts.preflight import TargetError, prepare

    target = target_from_config(config)
    assert target is not None
    try:
        prepare(target)
    except (TargetError, ValueError) as exc:
        pytest.exit(f"genomics-mock contracts: {exc}", returncode=2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--contracts-suite NAME``: keep only that suite's checks."""
    suites = config.getoption("contracts_suite", None)
    if not suites:
        return
    keep, drop = [], []
    for item in items:
        check = getattr(item, "callspec", None) and item.callspec.params.get("check")
        (keep if check is None or check.suite in suites else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def contracts_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The target of this session (this worker): the URL given, else an in-process mock."""
    from contracts.preflight import TargetError, prepare

    target = target_from_config(pytestconfig)
    if target is None:
        from contracts.local import local_mock

        seed = option(pytestconfig, "seed")
        profile = option(pytestconfig, "profile") or "quick"
        with local_mock(profile=profile, seed=int(seed) if seed is not None else None) as local:
            yield prepare(local)
        return
    try:
        prepared = prepare(target)
    except TargetError as exc:  # the controller checked --contracts-base-url; this is --genomics-mock-url
        pytest.fail(str(exc), pytrace=False)
    yield prepared
