"""The pytest plugin, exercised the way users meet it: through pytester runs of small test files."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator

import pytest

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.live import LiveServer

pytest_plugins = ["pytester"]


def _plugin_args() -> list[str]:
    """Load the plugin explicitly only when the package's entry point is not installed."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="pytest11")}
    return [] if "genomics_mock" in names else ["-p", "mockserver.pytest_plugin"]


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*_plugin_args(), "-p", "no:randomly", "-p", "no:cacheprovider", *args)


BASIC = """
def test_first_writes(genomics_mock, genomics_client):
    assert genomics_mock.url.startswith("http://127.0.0.1:")
    made = genomics_client.post("/v1/datasets", json={"projectId": "test-project", "name": "one"})
    assert made.status_code == 200
    assert genomics_mock.backend.datasets.get(
        __import__("mockserver.backend").backend.DEFAULT_OWNER, made.json()["id"])["name"] == "one"

def test_second_sees_a_clean_server(genomics_client):
    assert genomics_client.get("/v1/datasets", params={"projectId": "test-project"}).json() == {}

def test_helpers(genomics_mock, genomics_client):
    aset = genomics_mock.create_annotation_set(n_annotations=3, type="GENERIC")
    found = genomics_client.post("/v1/annotations/search", json={
        "annotationSetIds": [aset["id"]], "referenceName": "chr1"}).json()
    assert [a.get("start", "0") for a in found["annotations"]] == ["0", "100", "200"]  # proto3 omits 0
    token = genomics_mock.add_principal("alice", roles=["viewer"])
    assert token == "alice-token"
    alice = genomics_client.as_user("alice")
    assert alice.get(f"/v1/annotationsets/{aset['id']}").status_code == 200
    assert alice.delete(f"/v1/annotationsets/{aset['id']}").status_code == 403
    stranger = genomics_client.as_user("mallory")  # registered on the fly, holds no roles
    assert stranger.get(f"/v1/annotationsets/{aset['id']}").status_code == 404

def test_clock(genomics_mock, genomics_client):
    genomics_mock.clock.advance(days=8)
    made = genomics_client.post("/v1/datasets", json={"projectId": "p"}).json()
    assert made["createTime"] == "2026-01-09T00:00:00Z"  # the server reads the fixture's clock

def test_clock_was_reset(genomics_mock):
    assert genomics_mock.clock.now().isoformat().startswith("2026-01-01")

def test_service(genomics_mock, genomics_service):
    genomics_mock.create_dataset(name="via-client")
    result = genomics_service.datasets().list(projectId="test-project").execute()
    assert [d["name"] for d in result["datasets"]] == ["via-client"]
"""


def test_fixtures_reset_state_between_tests(pytester: pytest.Pytester):
    pytester.makepyfile(test_basic=BASIC)
    result = _run(pytester, "-q")
    result.assert_outcomes(passed=6)


ISOLATION = """
import ssl

seen = {}
contexts = []
_original = ssl.create_default_context


def counting(*args, **kwargs):
    contexts.append(1)
    return _original(*args, **kwargs)


ssl.create_default_context = counting  # every verifying httpx client loads one


def test_leaves_headers_cookies_and_users_behind(genomics_client, genomics_service):
    genomics_client.headers["X-Leak"] = "1"
    genomics_client.cookies.set("leak", "1")
    alice = genomics_client.as_user("alice")
    assert alice.get("/v1/datasets", params={"projectId": "p"}).request.headers["authorization"]
    seen.update(client=genomics_client, alice=alice, service=genomics_service)


def test_gets_a_new_client_and_service(genomics_mock, genomics_client, genomics_service):
    assert genomics_client is not seen["client"] and genomics_service is not seen["service"]
    assert seen["client"].is_closed and seen["alice"].is_closed
    assert genomics_mock.tokens == {}  # alice's token is not kept either
    sent = genomics_client.get("/v1/datasets", params={"projectId": "p"}).request
    assert "x-leak" not in sent.headers and "cookie" not in sent.headers
    assert "authorization" not in sent.headers
    assert not genomics_client.cookies
    assert genomics_service.datasets().list(projectId="p").execute() == {}


def test_no_client_loaded_an_ssl_context(genomics_client):
    assert contexts == []  # http:// needs none; one per client cost ~27 ms
"""


def test_each_test_gets_new_clients_that_carry_nothing_over(pytester: pytest.Pytester):
    pytester.makepyfile(test_isolation=ISOLATION)
    _run(pytester, "-q").assert_outcomes(passed=3)


def test_genomics_service_skips_with_a_clear_reason_without_the_client(pytester: pytest.Pytester):
    pytester.makeconftest(
        """
import sys, pytest

@pytest.fixture(autouse=True)
def no_google_client(monkeypatch):
    monkeypatch.setitem(sys.modules, "googleapiclient.discovery", None)
"""
    )
    pytester.makepyfile("def test_it(genomics_service):\n    raise AssertionError('not reached')\n")
    result = _run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*genomics_service needs google-api-python-client*"])


def test_seed_option_preloads_and_every_test_starts_from_the_seed(pytester: pytest.Pytester):
    seed = pytester.makefile(
        ".yaml", seed="projects:\n  test-project:\n    datasets:\n      - name: seeded\n"
    )
    pytester.makepyfile(
        """
def names(client):
    listed = client.get("/v1/datasets", params={"projectId": "test-project"}).json()
    return sorted(d["name"] for d in listed.get("datasets", []))

def test_a(genomics_client):
    assert names(genomics_client) == ["seeded"]
    genomics_client.post("/v1/datasets", json={"projectId": "test-project", "name": "extra"})
    assert names(genomics_client) == ["extra", "seeded"]

def test_b(genomics_client):
    assert names(genomics_client) == ["seeded"]
"""
    )
    result = _run(pytester, f"--genomics-mock-seed={seed}")
    result.assert_outcomes(passed=2)


@pytest.fixture
def external() -> Iterator[LiveServer]:
    app = create_app(Backend(clock=FakeClock()))
    with LiveServer(app) as server:
        yield server


EXTERNAL = """
def test_external_write(genomics_mock, genomics_client):
    assert genomics_mock.backend is None
    ds = genomics_mock.create_dataset(name="remote")
    aset = genomics_mock.create_annotation_set(dataset_id=ds["id"], n_annotations=2)
    token = genomics_mock.add_principal("bob", roles=["editor"])
    assert genomics_client.as_user("bob").get(f"/v1/annotationsets/{aset['id']}").status_code == 200
    genomics_mock.clock.advance(days=1)
    assert genomics_mock.clock.now().day == 2
    genomics_mock.add_fault(operationId="genomics.datasets.get", action="unavailable", count=1)
    assert genomics_client.get(f"/v1/datasets/{ds['id']}").status_code == 503
    assert [r["status"] for r in genomics_mock.requests()][-1] == 503

def test_external_was_reset(genomics_mock, genomics_client):
    assert genomics_client.get("/v1/datasets", params={"projectId": "test-project"}).json() == {}
    assert genomics_mock.clock.now().day == 1
"""


def test_url_option_runs_against_an_external_server(pytester: pytest.Pytester, external: LiveServer):
    pytester.makepyfile(test_external=EXTERNAL)
    result = _run(pytester, f"--genomics-mock-url={external.url}")
    result.assert_outcomes(passed=2)
    # the inner tests really used this server, and its reset ran before the second test
    log = external.app.state.control.requests.entries()
    assert [(r["method"], r["operationId"]) for r in log] == [("GET", "genomics.datasets.list")]


def test_url_ini_setting(pytester: pytest.Pytester, external: LiveServer):
    pytester.makeini(f"[pytest]\ngenomics_mock_url = {external.url}\n")
    pytester.makepyfile("def test_it(genomics_mock):\n    assert genomics_mock.backend is None\n")
    _run(pytester).assert_outcomes(passed=1)


def test_a_clock_advance_does_not_leak_into_the_next_test_on_a_real_time_server(pytester: pytest.Pytester):
    """``genomics-mock serve`` runs on the system clock; a test moving it must not move the next one."""
    pytester.makepyfile(
        """
from datetime import UTC, datetime, timedelta

def test_moves_the_clock(genomics_mock):
    genomics_mock.clock.advance(days=8)
    assert genomics_mock.clock.now() > datetime.now(UTC) + timedelta(days=7)

def test_sees_real_time(genomics_mock):
    assert abs(genomics_mock.clock.now() - datetime.now(UTC)) < timedelta(hours=1)
"""
    )
    with LiveServer(create_app(Backend())) as server:
        _run(pytester, f"--genomics-mock-url={server.url}").assert_outcomes(passed=2)


def test_users_do_not_see_the_libraries_deprecation_warnings(pytester: pytest.Pytester):
    """A fresh interpreter (the warnings fire on first import) whose ini turns warnings into errors."""
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile("def test_it(genomics_client):\n    assert genomics_client.get('/_mock/health')\n")
    result = pytester.runpytest_subprocess(*_plugin_args(), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "DeprecationWarning" not in result.stdout.str()


def test_unreachable_url_is_one_line_for_the_session(pytester: pytest.Pytester):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    pytester.makepyfile("def test_a(genomics_mock):\n    pass\n\ndef test_b(genomics_mock):\n    pass\n")
    # a subprocess: the session must end by itself, as a user's would
    result = pytester.runpytest_subprocess(
        *_plugin_args(), "-p", "no:cacheprovider", f"--genomics-mock-url={closed}"
    )
    assert result.ret == 2
    lines = [line for line in result.outlines + result.errlines if "cannot reach" in line]
    assert lines and all(f"cannot reach {closed}: connection refused" in line for line in lines)
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert "test_a" not in result.stdout.str()  # no test ran, none reported a traceback


STRICT = """
def test_harness_calls_carry_the_admin_token(genomics_mock, genomics_client):
    ds = genomics_mock.create_dataset(name="strict")       # POST /v1/datasets as the admin
    token = genomics_mock.add_principal("carol", roles=["viewer"])
    assert genomics_client.as_user("carol").get(f"/v1/datasets/{ds['id']}").status_code == 200
    assert genomics_client.get(f"/v1/datasets/{ds['id']}").status_code == 401   # tests' own client: anonymous
"""


@pytest.fixture
def strict_external() -> Iterator[LiveServer]:
    from mockserver.auth import TokenRegistry

    tokens = TokenRegistry()
    tokens.add_token("harness-admin", "serviceAccount:harness@example.com", superuser=True)
    with LiveServer(create_app(Backend(clock=FakeClock()), auth="strict", tokens=tokens)) as server:
        yield server


@pytest.mark.parametrize("how", ["option", "ini", "env"])
def test_admin_token_reaches_a_strict_server(
    pytester: pytest.Pytester, strict_external: LiveServer, how: str, monkeypatch: pytest.MonkeyPatch
):
    pytester.makepyfile(test_strict=STRICT)
    args = [f"--genomics-mock-url={strict_external.url}"]
    if how == "option":
        args.append("--genomics-mock-admin-token=harness-admin")
    elif how == "ini":
        pytester.makeini("[pytest]\ngenomics_mock_admin_token = harness-admin\n")
    else:
        monkeypatch.setenv("GENOMICS_MOCK_ADMIN_TOKEN", "harness-admin")
    _run(pytester, *args).assert_outcomes(passed=1)


def test_without_the_admin_token_a_strict_server_refuses_the_harness(
    pytester: pytest.Pytester, strict_external: LiveServer
):
    pytester.makepyfile(test_strict=STRICT)
    result = _run(pytester, f"--genomics-mock-url={strict_external.url}")
    result.assert_outcomes(errors=1)  # the per-test reset, before the test itself
    result.stdout.fnmatch_lines(["*POST /_mock/reset failed: 401*pass --genomics-mock-admin-token*"])
