"""Fault injection: rule parsing, determinism, and faults as a real client sees them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from mockserver.app import create_app
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.faults import FaultInjector, FaultRuleError, parse_rule
from mockserver.live import LiveServer

googleapiclient = pytest.importorskip("googleapiclient", reason="needs google-api-python-client")


# -- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ([], "must be a JSON object"),
        ({"action": "unavailable"}, "operationId or path"),
        ({"path": "/v1/", "action": "explode"}, "action must be one of"),
        ({"path": "v1", "action": "drop"}, "path must start with '/'"),
        ({"path": "/v1/", "action": "latency"}, "fixedMs, or both minMs and maxMs"),
        ({"path": "/v1/", "action": "latency", "minMs": 9, "maxMs": 3}, "must not exceed"),
        ({"path": "/v1/", "action": "latency", "fixedMs": 5, "minMs": 1}, "not both"),
        ({"path": "/v1/", "action": "error"}, "needs code"),
        ({"path": "/v1/", "action": "error", "code": 302}, "code must be an integer from 400 to 599"),
        ({"path": "/v1/", "action": "error", "code": 500, "status": "BROKEN"}, "canonical error status"),
        ({"path": "/v1/", "action": "drop", "probability": 0}, "probability must be a number in (0, 1]"),
        ({"path": "/v1/", "action": "drop", "count": 0}, "count must be an integer"),
        ({"path": "/v1/", "action": "drop", "when": "now"}, "unknown fault rule fields: when"),
    ],
)
def test_unparsable_rules_name_the_problem(rule, reason):
    with pytest.raises(FaultRuleError, match=None) as err:
        parse_rule(rule, "f1")
    assert reason in str(err.value)


def test_error_status_defaults_from_code_and_count_expires_the_rule():
    injector = FaultInjector()
    injector.add({"path": "/v1/datasets", "action": "error", "code": 500, "count": 2})
    errors = [injector.pick("GET", "/v1/datasets/1", None) for _ in range(3)]
    assert [f.error.status if f else None for f in errors] == ["INTERNAL", "INTERNAL", None]
    assert injector.list()[0]["remaining"] == 0


def test_probability_with_seed_is_deterministic():
    def fired(seed: int) -> list[bool]:
        injector = FaultInjector()
        injector.add({"path": "/", "action": "unavailable", "probability": 0.5, "seed": seed})
        return [injector.pick("GET", "/v1/x", None) is not None for _ in range(40)]

    assert fired(7) == fired(7)
    assert fired(7) != fired(8)
    assert 5 < sum(fired(7)) < 35


def test_method_and_operation_id_narrow_the_match():
    injector = FaultInjector()
    injector.add({"operationId": "genomics.datasets.get", "method": "get", "action": "drop"})
    assert injector.pick("DELETE", "/v1/datasets/1", "genomics.datasets.delete") is None
    assert injector.pick("GET", "/v1/datasets/1", "genomics.datasets.list") is None
    assert injector.pick("GET", "/v1/datasets/1", "genomics.datasets.get").drop


def test_a_bad_rule_in_a_list_adds_none_of_them():
    injector = FaultInjector()
    with pytest.raises(FaultRuleError, match=r"rules\[1\]: action"):
        injector.add([{"path": "/v1/", "action": "drop"}, {"path": "/v1/", "action": "nope"}])
    assert injector.list() == []


# -- over HTTP, seen by real clients ------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    app = create_app(Backend(clock=FakeClock()))
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def mock(server: LiveServer) -> Iterator[httpx.Client]:
    server.app.state.control.reset()
    server.app.state.backend.datasets.create(DEFAULT_OWNER, {"projectId": "p1", "name": "d1"})
    with httpx.Client(base_url=server.url) as client:
        yield client


@pytest.fixture
def service(server: LiveServer):
    from google.auth.credentials import AnonymousCredentials
    from googleapiclient.discovery import build

    return build(
        "genomics", "v1", discoveryServiceUrl=f"{server.url}/$discovery/rest?version={{apiVersion}}",
        credentials=AnonymousCredentials(), static_discovery=False, cache_discovery=False,
    )


def _no_sleep(request, sleeps: list[float]):
    request._sleep = sleeps.append  # googleapiclient's back-off: record instead of waiting
    request._rand = lambda: 0.5
    return request


def _statuses(mock: httpx.Client, operation_id: str) -> list[int | None]:
    log = mock.get("/_mock/requests").json()["requests"]
    return [r["status"] for r in log if r["operationId"] == operation_id]


def test_503_then_success_with_the_clients_retry(mock, service):
    added = mock.post("/_mock/faults", json={"operationId": "genomics.datasets.list",
                                             "action": "unavailable", "count": 1})
    assert added.status_code == 200
    sleeps: list[float] = []
    result = _no_sleep(service.datasets().list(projectId="p1"), sleeps).execute(num_retries=2)
    assert [d["name"] for d in result["datasets"]] == ["d1"]
    assert len(sleeps) == 1
    assert _statuses(mock, "genomics.datasets.list") == [503, 200]


def test_429_carries_retry_after_and_the_client_gives_up_after_its_retries(mock, service):
    from googleapiclient.errors import HttpError

    mock.post("/_mock/faults", json={"operationId": "genomics.datasets.list", "action": "rateLimit",
                                     "retryAfter": 2, "count": 5})
    sleeps: list[float] = []
    with pytest.raises(HttpError) as err:
        _no_sleep(service.datasets().list(projectId="p1"), sleeps).execute(num_retries=2)
    assert err.value.resp.status == 429 and err.value.resp["retry-after"] == "2"
    assert err.value.error_details == "" or "RESOURCE_EXHAUSTED" in err.value.content.decode()
    assert len(sleeps) == 2
    assert _statuses(mock, "genomics.datasets.list") == [429, 429, 429]
    raw = mock.get("/v1/datasets", params={"projectId": "p1"})
    assert raw.status_code == 429 and raw.headers["retry-after"] == "2"
    assert raw.json()["error"]["status"] == "RESOURCE_EXHAUSTED"


def test_dropped_connection_is_retried_by_the_client(mock, service):
    # httplib2 re-sends once by itself on a dropped connection; the second drop reaches
    # googleapiclient, whose retry (one back-off sleep) then succeeds
    mock.post("/_mock/faults", json={"path": "/v1/datasets", "method": "GET", "action": "drop", "count": 2})
    sleeps: list[float] = []
    result = _no_sleep(service.datasets().list(projectId="p1"), sleeps).execute(num_retries=2)
    assert result["datasets"][0]["name"] == "d1" and len(sleeps) == 1
    assert _statuses(mock, "genomics.datasets.list") == [None, None, 200]  # no response at all, then 200


def test_dropped_connection_has_no_response_for_httpx(mock):
    mock.post("/_mock/faults", json={"path": "/v1/datasets", "action": "drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        mock.get("/v1/datasets", params={"projectId": "p1"})
    assert mock.get("/v1/datasets", params={"projectId": "p1"}).status_code == 200


def test_error_rule_answers_googles_envelope(mock, service):
    from googleapiclient.errors import HttpError

    mock.post("/_mock/faults", json={"operationId": "genomics.datasets.get", "action": "error",
                                     "code": 409, "status": "ABORTED", "message": "try later"})
    dataset_id = mock.get("/v1/datasets", params={"projectId": "p1"}).json()["datasets"][0]["id"]
    with pytest.raises(HttpError) as err:
        service.datasets().get(datasetId=dataset_id).execute()
    assert err.value.resp.status == 409
    body = mock.get(f"/v1/datasets/{dataset_id}").json()
    assert body == {"error": {"code": 409, "message": "try later", "status": "ABORTED"}}


def test_latency_delays_then_runs_the_request(mock):
    mock.post("/_mock/faults", json={"path": "/v1/datasets", "action": "latency", "fixedMs": 300, "count": 1})
    started = time.perf_counter()
    slow = mock.get("/v1/datasets", params={"projectId": "p1"})
    elapsed = time.perf_counter() - started
    assert slow.status_code == 200 and elapsed >= 0.3
    listed = mock.get("/_mock/faults").json()["faults"]
    assert listed[0]["hits"] == 1 and listed[0]["remaining"] == 0


def test_bad_rule_is_400_with_the_reason_and_faults_can_be_removed(mock):
    bad = mock.post("/_mock/faults", json={"path": "/v1/", "action": "latency", "minMs": 5})
    assert bad.status_code == 400
    assert bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "minMs and maxMs" in bad.json()["error"]["message"]
    not_json = mock.post("/_mock/faults", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["error"]["message"]
    rule = mock.post("/_mock/faults", json={"path": "/v1/", "action": "unavailable"}).json()["faults"][0]
    assert mock.get("/v1/datasets", params={"projectId": "p1"}).status_code == 503
    assert mock.delete(f"/_mock/faults/{rule['id']}").status_code == 200
    assert mock.delete(f"/_mock/faults/{rule['id']}").status_code == 404
    assert mock.get("/v1/datasets", params={"projectId": "p1"}).status_code == 200
