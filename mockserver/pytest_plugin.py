"""pytest plugin: a live, stateful Genomics API for every test (registered by the ``pytest11`` entry point).

Fixtures
    ``genomics_mock``     the server: ``.url``, ``.backend`` (None for an external server),
                          ``.clock`` (``advance(days=8)``), helpers ``create_dataset``,
                          ``create_annotation_set``, ``add_principal``, ``add_fault``, ``requests``.
                          One server per session; its state is reset before each test.
    ``genomics_client``   an ``httpx.Client`` on the server; ``.as_user("alice")`` sends alice's token.
    ``genomics_service``  a google-api-python-client service built from the mock's discovery
                          document (skipped when that package is missing).

Options (or ini settings ``genomics_mock_url`` / ``genomics_mock_seed`` / ``genomics_mock_admin_token``)
    ``--genomics-mock-url URL``   run against an already running server (admin API required:
                                  state is reset with ``POST /_mock/reset``); an unreachable URL
                                  ends the session at once with one line (exit 2);
    ``--genomics-mock-seed FILE`` load a seed file (YAML/JSON) once; every reset returns to it;
    ``--genomics-mock-admin-token T`` bearer token the harness sends to that server (resets,
                                  principals, faults, helpers): a superuser token of a strict
                                  server (also ``GENOMICS_MOCK_ADMIN_TOKEN``).

Heavy imports happen inside the fixtures, so merely having the plugin installed costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import httpx

DEFAULT_PROJECT = "test-project"
#: Google's GRCh38, built into every server (references chr1 ... chr22, chrX, chrY, chrM)
DEFAULT_REFERENCE_SET = "EMud_c37lKPXTQ"

#: Deprecation warnings that importing the mock's web stack (Connexion 3.3) raises. They are
#: about our dependencies, not the user's code, so the plugin hides them in its users' sessions.
LIBRARY_WARNINGS = (
    "ignore:Using `httpx` with `starlette.testclient`",
    "ignore:jsonschema.RefResolver is deprecated:DeprecationWarning",
    "ignore:jsonschema.exceptions.RefResolutionError is deprecated:DeprecationWarning",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genomics-mock", "Google Genomics v1 mock server")
    group.addoption("--genomics-mock-url", dest="genomics_mock_url", default=None, metavar="URL",
                    help="use the genomics-mock (or compatible) server at URL instead of starting one")
    group.addoption("--genomics-mock-seed", dest="genomics_mock_seed", default=None, metavar="FILE",
                    help="seed file (YAML/JSON) loaded into the mock once; resets return to it")
    group.addoption("--genomics-mock-admin-token", dest="genomics_mock_admin_token", default=None,
                    metavar="TOKEN", help="bearer token for the harness calls to --genomics-mock-url "
                    "(a superuser of a strict server) [GENOMICS_MOCK_ADMIN_TOKEN]")
    parser.addini("genomics_mock_url", "default for --genomics-mock-url", default="")
    parser.addini("genomics_mock_seed", "default for --genomics-mock-seed", default="")
    parser.addini("genomics_mock_admin_token", "default for --genomics-mock-admin-token", default="")


def pytest_configure(config: pytest.Config) -> None:
    # appended after the user's own filters, so they win over a blanket "error" but not over -W
    for spec in LIBRARY_WARNINGS:
        config.addinivalue_line("filterwarnings", spec)


def _option(config: pytest.Config, name: str) -> str | None:
    return config.getoption(name) or config.getini(name) or None


def _admin_token(config: pytest.Config) -> str | None:
    return _option(config, "genomics_mock_admin_token") or os.environ.get("GENOMICS_MOCK_ADMIN_TOKEN") or None


def pytest_sessionstart(session: pytest.Session) -> None:
    """An unreachable ``--genomics-mock-url`` ends the session here, once, with one line (the
    controlling process checks it; pytest-xdist workers trust it)."""
    url = _option(session.config, "genomics_mock_url")
    if not url or hasattr(session.config, "workerinput"):
        return
    from contracts.preflight import TargetError, reachable

    try:
        reachable(url)
    except (TargetError, ValueError) as exc:
        pytest.exit(f"genomics-mock: {exc} (--genomics-mock-url)", returncode=2)


class RemoteClock:
    """The clock of an external server, moved through ``/_mock/clock``."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def now(self) -> Any:
        from mockserver.backend.clock import parse_rfc3339

        return parse_rfc3339(_check(self._http.get("/_mock/clock"))["time"])

    def set(self, when: Any) -> None:
        from mockserver.backend.clock import rfc3339

        _check(self._http.post("/_mock/clock", json={"time": rfc3339(when)}))

    def advance(self, delta: Any = None, **kwargs: float) -> Any:
        if delta is not None:
            kwargs = {"seconds": delta.total_seconds()}
        _check(self._http.post("/_mock/clock", json=kwargs))
        return self.now()


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        hint = ""
        if response.status_code in (401, 403) and response.request.url.path.startswith("/_mock"):
            hint = ("; the server's admin API wants a superuser's token or its --admin-token: pass "
                    "--genomics-mock-admin-token (or GENOMICS_MOCK_ADMIN_TOKEN)\n")
        raise AssertionError(
            f"genomics-mock admin call {response.request.method} {response.request.url.path} "
            f"failed: {response.status_code}{hint} {response.text}"
        )
    return response.json()


class GenomicsMock:
    """One mock server, as the tests see it (see module docstring)."""

    def __init__(self, url: str, *, app: Any = None, http: httpx.Client, transport: Any = None) -> None:
        self.url = url.rstrip("/")
        self.app = app
        self.backend = app.state.backend if app is not None else None
        self.control = app.state.control if app is not None else None
        self._http = http
        #: the session's connection pool, shared by every client the fixtures hand out
        self.transport = transport
        self._discovery: dict[str, Any] | None = None
        self.tokens: dict[str, str] = {}  # principal name -> bearer token
        self._operations_mode = self.backend.operations.mode if self.backend is not None else None

    @property
    def clock(self) -> Any:
        return self.backend.clock if self.backend is not None else RemoteClock(self._http)

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/$discovery/rest?version=v1"

    def discovery_document(self) -> dict[str, Any]:
        """The served discovery document, fetched and parsed once per session (the server
        derives it from its OpenAPI document at start-up, so it never changes)."""
        if self._discovery is None:
            self._discovery = _check(self._http.get(self.discovery_url))
        return self._discovery

    def reset(self) -> None:
        """Back to the session's start state (empty, or the seed): microseconds for a local server."""
        self.tokens.clear()
        if self.control is not None and self.backend is not None:
            self.control.reset()
            self.backend.operations.mode = self._operations_mode
        else:
            _check(self._http.post("/_mock/reset"))

    # -- helpers ------------------------------------------------------------------------

    def _create(self, path: str, method: Any, body: dict[str, Any]) -> dict[str, Any]:
        if self.backend is not None:
            from mockserver.backend.principals import DEFAULT_OWNER

            return method(DEFAULT_OWNER, body)
        return _check(self._http.post(path, json=body))

    def create_dataset(self, project_id: str = DEFAULT_PROJECT, name: str | None = None) -> dict[str, Any]:
        body = {"projectId": project_id, **({"name": name} if name else {})}
        return self._create("/v1/datasets", self.backend and self.backend.datasets.create, body)

    def create_annotation_set(
        self,
        dataset_id: str | None = None,
        n_annotations: int = 0,
        type: str = "GENERIC",
        *,
        name: str | None = None,
        reference_set_id: str = DEFAULT_REFERENCE_SET,
        reference_name: str = "chr1",
        project_id: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """An annotation set (in a new dataset unless one is given) with ``n_annotations`` annotations
        on ``reference_name`` at 100-base steps, each 50 bases long."""
        if dataset_id is None:
            dataset_id = self.create_dataset(project_id)["id"]
        body = {"datasetId": dataset_id, "referenceSetId": reference_set_id, "type": type,
                **({"name": name} if name else {})}
        create = self.backend and self.backend.annotation_sets.create
        created = self._create("/v1/annotationsets", create, body)
        for start in range(0, n_annotations, 4096):
            chunk = [
                {"annotationSetId": created["id"], "referenceName": reference_name,
                 "start": str(i * 100), "end": str(i * 100 + 50), "name": f"a{i}", "type": type}
                for i in range(start, min(n_annotations, start + 4096))
            ]
            result = self._create(
                "/v1/annotations:batchCreate", self.backend and self.backend.annotations.batch_create,
                {"annotations": chunk},
            )
            failed = [e["status"] for e in result.get("entries", []) if e.get("status", {}).get("code")]
            if failed:
                raise AssertionError(f"create_annotation_set: annotations rejected: {failed[0]}")
        return created

    def add_principal(
        self,
        name: str,
        roles: list[str] | tuple[str, ...] = (),
        project_id: str = DEFAULT_PROJECT,
        scopes: list[str] | None = None,
        *,
        token: str | None = None,
        member: str | None = None,
    ) -> str:
        """Register a bearer token for ``user:<name>@example.com`` (or ``member``) with project roles
        (``viewer``, ``editor``, ``roles/genomics.admin`` ...); returns the token."""
        body = {"name": name, "roles": list(roles), "projectId": project_id, "token": token,
                "member": member, "scopes": scopes}
        if self.backend is not None:
            from mockserver.seed import add_principal

            result = add_principal(self.backend, self.app.state.tokens, name=name, member=member, token=token,
                                   roles=list(roles), project_id=project_id, scopes=scopes)
        else:
            result = _check(self._http.post("/_mock/principals",
                                            json={k: v for k, v in body.items() if v is not None}))
        self.tokens[name] = result["token"]
        return result["token"]

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        """Add a fault rule (mockserver.faults): ``add_fault(operationId=..., action="unavailable")``."""
        return _check(self._http.post("/_mock/faults", json=rule))["faults"][0]

    def requests(self) -> list[dict[str, Any]]:
        """The request log (method, path, operationId, principal, status) since the last reset."""
        return _check(self._http.get("/_mock/requests"))["requests"]

    def set_operations_mode(self, mode: str) -> None:
        """``background`` (default), ``immediate`` or ``manual`` (then ``complete_operation``)."""
        _check(self._http.post("/_mock/operations", json={"mode": mode}))

    def complete_operation(self, name: str) -> dict[str, Any]:
        op_id = name.rpartition("/")[2]
        return _check(self._http.post(f"/_mock/operations/{op_id}:complete"))

    def seed(self, data: dict[str, Any]) -> dict[str, int]:
        return _check(self._http.post("/_mock/seed", json=data))["created"]


@pytest.fixture(scope="session")
def genomics_mock_session(pytestconfig: pytest.Config) -> Iterator[GenomicsMock]:
    """The session's server (started once); use ``genomics_mock`` in tests."""
    import httpx

    url = _option(pytestconfig, "genomics_mock_url")
    seed_path = _option(pytestconfig, "genomics_mock_seed")
    from mockserver.plugin_clients import SessionTransport

    transport = SessionTransport()
    try:
        if url:
            yield from _external_session(url, pytestconfig, seed_path, transport)
            return
        from mockserver.app import create_app
        from mockserver.backend import Backend
        from mockserver.backend.clock import FakeClock
        from mockserver.live import LiveServer

        app = create_app(Backend(clock=FakeClock()))
        if seed_path:
            from mockserver.seed import load_seed, read_seed_file

            base_dir = Path(seed_path).resolve().parent  # relative BAM paths are the seed file's
            load_seed(app.state.backend, read_seed_file(seed_path), app.state.tokens, base_dir=base_dir)
            app.state.control.capture_baseline()
        server = LiveServer(app).start()
        try:
            with httpx.Client(base_url=server.url, timeout=30, transport=transport) as http:
                yield GenomicsMock(server.url, app=app, http=http, transport=transport)
        finally:
            server.stop()
            app.state.backend.operations.shutdown()
    finally:
        transport.shutdown()


def _external_session(
    url: str, config: pytest.Config, seed_path: str | None, transport: httpx.BaseTransport
) -> Iterator[GenomicsMock]:
    import httpx

    token = _admin_token(config)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), timeout=30, headers=headers, transport=transport) as http:
        mock = GenomicsMock(url, http=http, transport=transport)
        if seed_path:
            from mockserver.seed import read_seed_file

            mock.reset()
            _check(http.post("/_mock/seed", json=read_seed_file(seed_path)))
        yield mock


@pytest.fixture
def genomics_mock(genomics_mock_session: GenomicsMock) -> GenomicsMock:
    """The live mock, reset to its start state before this test."""
    genomics_mock_session.reset()
    return genomics_mock_session


@pytest.fixture
def genomics_client(genomics_mock: GenomicsMock) -> Iterator[Any]:
    """A new ``httpx.Client`` per test, bound to the mock's URL (no credentials: the owner in open
    auth mode); it shares the session's connection pool, never its cookies or headers."""
    from mockserver.plugin_clients import GenomicsClient

    with GenomicsClient(genomics_mock) as client:
        yield client


@pytest.fixture
def genomics_service(genomics_mock: GenomicsMock) -> Iterator[Any]:
    """``googleapiclient`` ``genomics`` v1 service built from the mock's own discovery document.

    What ``build(..., discoveryServiceUrl=...)`` does, minus fetching and parsing the document
    for every test (~1 ms of 1.3): a new service, HTTP connection and credentials per test, built
    from the session's parsed document. (The library's only changes to a document it is given
    are idempotent: it adds the standard parameters to each method it builds.)
    """
    try:
        from google.auth.credentials import AnonymousCredentials
        from googleapiclient.discovery import build_from_document
    except ImportError:
        pytest.skip("genomics_service needs google-api-python-client: pip install google-api-python-client")
    service = build_from_document(
        genomics_mock.discovery_document(),
        base=f"{genomics_mock.url}/$discovery/rest?version={{apiVersion}}",
        credentials=AnonymousCredentials(),
    )
    yield service
    service.close()
