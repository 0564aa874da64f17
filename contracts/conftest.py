"""pytest integration: ``pytest --pyargs contracts --contracts-base-url URL`` (or ``--genomics-mock-url``).

Without a URL the suites run against an in-process mock (strict auth, four
callers), exactly like ``genomics-mock conformance`` without ``--base-url``.
``--genomics-mock-url`` belongs to the project's pytest plugin; it is only
added here when that plugin is not loaded, and ``--contracts-base-url`` wins.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

import pytest

from contracts.core import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "Genomics contract suites")
    group.addoption(
        "--contracts-base-url",
        default=None,
        metavar="URL",
        help="server to test (default: the mock in-process)",
    )
    for role in ("writer", "reader", "outsider", "readonly"):
        group.addoption(
            f"--contracts-{role}-token", default=None, metavar="T", help=f"bearer token of the {role} caller"
        )
    group.addoption("--contracts-reader-member", default=None, metavar="MEMBER")
    group.addoption("--contracts-outsider-member", default=None, metavar="MEMBER")
    group.addoption("--contracts-project", default=None)
    group.addoption("--contracts-profile", default=None, choices=("quick", "deep"))
    group.addoption("--contracts-seed", type=int, default=None)
    group.addoption("--contracts-strict-auth", action="store_true", default=None)
    try:
        group.addoption(
            "--genomics-mock-url",
            dest="genomics_mock_url",
            default=None,
            metavar="URL",
            help="server to test (same as --contracts-base-url)",
        )
    except (ValueError, argparse.ArgumentError):  # the project's pytest plugin defines it already
        pass


def _option(config: pytest.Config, name: str, env: str | None = None) -> Any:
    """An option of ours, else its environment variable: our options exist only when this conftest is
    an initial one (pytest run from the project root, or ``-p contracts.conftest``)."""
    value = config.getoption(name, None)
    if value is None and env:
        value = os.environ.get(env)
    return value


@pytest.fixture(scope="session")
def contracts_target(pytestconfig: pytest.Config) -> Iterator[Target]:
    def opt(name: str, env: str | None = None) -> Any:
        return _option(pytestconfig, name, env)

    url = opt("contracts_base_url", "GENOMICS_CONFORMANCE_URL") or opt("genomics_mock_url")
    profile = opt("contracts_profile", "GENOMICS_CONFORMANCE_PROFILE") or "quick"
    seed_text = opt("contracts_seed", "GENOMICS_CONFORMANCE_SEED")
    seed = int(seed_text) if seed_text is not None else None
    if not url:
        from contracts.local import local_mock

        with local_mock(profile=profile, seed=seed) as target:
            yield target
        return
    yield Target(
        url,
        writer_token=opt("contracts_writer_token", "GENOMICS_WRITER_TOKEN"),
        reader_token=opt("contracts_reader_token", "GENOMICS_READER_TOKEN"),
        outsider_token=opt("contracts_outsider_token", "GENOMICS_OUTSIDER_TOKEN"),
        readonly_token=opt("contracts_readonly_token", "GENOMICS_READONLY_TOKEN"),
        reader_member=opt("contracts_reader_member", "GENOMICS_READER_MEMBER"),
        outsider_member=opt("contracts_outsider_member", "GENOMICS_OUTSIDER_MEMBER"),
        project=opt("contracts_project", "GENOMICS_PROJECT"),
        profile=profile,
        seed=seed,
        strict_auth=bool(opt("contracts_strict_auth")),
    )
