"""Shared fixtures for the toolkit's own tests: a backend, an app over it, clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.live import LiveServer


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> Backend:
    return Backend(clock=clock, id_seed=1234)


@pytest.fixture
def dataset(backend: Backend) -> dict[str, Any]:
    """A dataset of project p1, made by the built-in owner."""
    return backend.datasets.create(DEFAULT_OWNER, {"projectId": "p1", "name": "ds"})


#: the two ways an API request can be answered (mockserver.plans): each operation's compiled
#: plan, or Connexion's middleware chain. The HTTP suites (test_http_*.py) run on both.
REQUEST_PATHS = {"plans": True, "connexion-chain": False}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if "request_path" in metafunc.fixturenames and module.startswith("test_http_"):
        metafunc.parametrize("request_path", list(REQUEST_PATHS))


@pytest.fixture
def request_path() -> str:
    """How the ``app`` fixture answers API requests (both, for the HTTP suites)."""
    return "plans"


@pytest.fixture
def app(backend: Backend, request_path: str):
    return create_app(backend, fast_path=REQUEST_PATHS[request_path])


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    with LiveServer(app) as server:
        yield server


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The kill count of tests/test_contracts_kill.py: broken mocks caught / tried. Counted from
    the test reports (the controlling process sees every worker's under pytest-xdist)."""
    reports = [
        report
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        if report.when == "call" and "test_contracts_kill.py::test_mutant_is_caught" in report.nodeid
    ]
    if reports:
        caught = sum(report.passed for report in reports)
        terminalreporter.write_line(f"kill count: {caught}/{len(reports)} broken servers caught")
