"""The /_mock/ admin API: reset, seed, state, clock, operations, request log, principals, access."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver.admin import RequestLog
from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock, SystemClock
from mockserver.backend.operations import Job


@pytest.fixture
def admin_app():
    tokens = TokenRegistry().load(
        {
            "tokens": {
                "root-token": {"principal": "user:root@example.com", "superuser": True},
                "user-token": {"principal": "user:u@example.com"},
            },
            "apiKeys": {"some-key": {}},
        }
    )
    return create_app(Backend(clock=FakeClock()), tokens=tokens)


@pytest.fixture
def mock(admin_app) -> Iterator[TestClient]:
    with TestClient(admin_app, raise_server_exceptions=False) as client:
        yield client


def _datasets(mock: TestClient, project: str = "p1") -> list[str]:
    return [
        d["name"] for d in mock.get("/v1/datasets", params={"projectId": project}).json().get("datasets", [])
    ]


def test_health_is_on_even_without_admin():
    with TestClient(create_app(Backend(), admin=False), raise_server_exceptions=False) as client:
        assert client.get("/_mock/health").json()["status"] == "ok"
        off = client.post("/_mock/reset")
        assert off.status_code == 404 and off.json()["error"]["status"] == "NOT_FOUND"


def test_reset_forgets_data_tokens_faults_and_moves_the_clock_back(mock, admin_app):
    start = mock.get("/_mock/clock").json()["time"]
    mock.post("/v1/datasets", json={"projectId": "p1", "name": "gone"})
    mock.post("/_mock/principals", json={"name": "alice", "roles": ["viewer"], "projectId": "p1"})
    mock.post("/_mock/faults", json={"path": "/v1/nothing", "action": "drop"})
    mock.post("/_mock/clock", json={"days": 3})
    assert mock.post("/_mock/reset").json() == {}
    assert _datasets(mock) == []
    assert mock.get("/_mock/faults").json() == {"faults": []}
    assert mock.get("/_mock/clock").json()["time"] == start
    assert admin_app.state.tokens.principal_for_token("alice-token") is None
    assert admin_app.state.tokens.principal_for_token("root-token") is not None  # start-up tokens stay
    assert admin_app.state.backend.iam.project_bindings("p1") == []


def test_seed_json_and_yaml_and_a_bad_seed_changes_nothing(mock):
    created = mock.post(
        "/_mock/seed", json={"projects": {"p1": {"datasets": [{"name": "a"}, {"name": "b"}]}}}
    )
    assert created.json() == {"created": {"datasets": 2}}
    yaml_seed = "projects:\n  p1:\n    datasets:\n      - name: c\n"
    assert (
        mock.post("/_mock/seed", content=yaml_seed, headers={"content-type": "application/yaml"}).status_code
        == 200
    )
    bad = mock.post(
        "/_mock/seed",
        json={
            "projects": {
                "p1": {
                    "datasets": [
                        {"name": "d"},
                        {"name": "e", "annotationSets": [{"name": "no-reference-set"}]},
                    ]
                }
            }
        },
    )
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert "projects.p1.datasets[1].annotationSets[0]" in message and "referenceSetId" in message
    assert sorted(_datasets(mock)) == ["a", "b", "c"]  # "d" was rolled back
    unknown = mock.post("/_mock/seed", json={"datasets": []})
    assert unknown.status_code == 400 and "unknown seed keys: datasets" in unknown.json()["error"]["message"]


def test_state_round_trip_and_foreign_documents_are_refused(mock):
    mock.post("/v1/datasets", json={"projectId": "p1", "name": "kept"})
    state = mock.get("/_mock/state").json()
    assert state["format"] == "genomics-mock-state" and state["version"] == 2
    mock.post("/_mock/reset")
    assert mock.put("/_mock/state", json=state).status_code == 200
    assert _datasets(mock) == ["kept"]
    for bad, reason in (
        ({"hello": 1}, "not a genomics-mock state"),
        ({**state, "version": 99}, "/version: state version 99 was written by a newer genomics-mock"),
        ({**state, "state": {"datasets": {"$object": "os:system"}}},
         "/state/datasets/$object: no such table"),
        ({**state, "state": {"os": {}}}, "/state/os: this server keeps no state named 'os'"),
    ):
        refused = mock.put("/_mock/state", json=bad)
        assert refused.status_code == 400 and reason in refused.json()["error"]["message"]
    assert _datasets(mock) == ["kept"]


def test_clock_read_set_advance(mock):
    assert (
        mock.post("/_mock/clock", json={"time": "2030-05-01T00:00:00Z"}).json()["time"]
        == "2030-05-01T00:00:00Z"
    )
    assert mock.post("/_mock/clock", json={"days": 1, "seconds": 30}).json()["time"] == "2030-05-02T00:00:30Z"
    created = mock.post("/v1/datasets", json={"projectId": "p1"}).json()
    assert created["createTime"] == "2030-05-02T00:00:30Z"
    for body, reason in (
        ({"days": -1}, "only moves forward"),
        ({"weeks": 1}, "unknown clock fields"),
        ({"time": "yesterday"}, "RFC 3339"),
        ({"time": "2030-01-01T00:00:00Z", "days": 1}, "not both"),
    ):
        bad = mock.post("/_mock/clock", json=body)
        assert bad.status_code == 400 and reason in bad.json()["error"]["message"]


def test_a_system_clock_becomes_fake_when_moved():
    backend = Backend(clock=SystemClock())
    with TestClient(create_app(backend)) as client:
        assert client.get("/_mock/clock").json()["fake"] is False
        moved = client.post("/_mock/clock", json={"days": 8}).json()
        assert moved["fake"] is True and isinstance(backend.clock, FakeClock)


def test_reset_brings_back_a_system_clock_that_was_moved():
    backend = Backend(clock=SystemClock())
    with TestClient(create_app(backend)) as client:
        client.post("/_mock/clock", json={"days": 8})
        client.post("/_mock/reset")
        assert client.get("/_mock/clock").json()["fake"] is False
        assert isinstance(backend.clock, SystemClock)


def test_complete_a_manual_operation(mock, admin_app):
    operations = admin_app.state.backend.operations
    assert mock.get("/_mock/operations").json() == {"mode": "background"}
    assert mock.post("/_mock/operations", json={"mode": "manual"}).json() == {"mode": "manual"}
    bad = mock.post("/_mock/operations", json={"mode": "lazy"})
    assert bad.status_code == 400 and "manual" in bad.json()["error"]["message"]
    assert operations.mode == "manual"
    mock.post("/_mock/reset")
    assert operations.mode == "background"  # reset restores the start-up mode
    operations.mode = "manual"
    op = operations.start("p1", {}, Job(lambda: None, lambda _p: {"@type": "done"}))
    assert not op.get("done")
    op_id = op["name"].split("/")[1]
    done = mock.post(f"/_mock/operations/{op_id}:complete")
    assert done.status_code == 200 and done.json()["done"] is True
    assert mock.get(f"/v1/operations/{op_id}").json()["done"] is True
    missing = mock.post("/_mock/operations/nope:complete")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_request_log_records_operation_principal_and_status(mock):
    mock.post("/v1/datasets", json={"projectId": "p1"})
    mock.get("/v1/datasets/unknown-id")
    mock.get("/v1/datasets", params={"projectId": "p1"}, headers={"Authorization": "Bearer user-token"})
    log = mock.get("/_mock/requests").json()["requests"]
    assert [(r["method"], r["operationId"], r["status"]) for r in log] == [
        ("POST", "genomics.datasets.create", 200),
        ("GET", "genomics.datasets.get", 404),
        ("GET", "genomics.datasets.list", 403),
    ]
    assert log[0]["principal"] == DEFAULT_OWNER.member and log[2]["principal"] == "user:u@example.com"
    assert all(not r["path"].startswith("/_mock") for r in log)
    assert mock.delete("/_mock/requests").status_code == 200
    assert mock.get("/_mock/requests").json() == {"requests": []}


def test_request_log_is_bounded():
    log = RequestLog(maxlen=3)
    for i in range(5):
        log.append({"i": i})
    assert [e["i"] for e in log.entries()] == [2, 3, 4]


def test_principals_get_a_token_and_roles(mock):
    mock.post("/v1/datasets", json={"projectId": "p1", "name": "x"})
    made = mock.post("/_mock/principals", json={"name": "bob", "roles": ["viewer"], "projectId": "p1"}).json()
    assert made["token"] == "bob-token" and made["member"] == "user:bob@example.com"
    listed = mock.get(
        "/v1/datasets", params={"projectId": "p1"}, headers={"Authorization": "Bearer bob-token"}
    )
    assert listed.status_code == 200 and listed.json()["datasets"][0]["name"] == "x"
    bad = mock.post("/_mock/principals", json={"name": "eve", "roles": ["wizard"], "projectId": "p1"})
    assert bad.status_code == 400 and "unknown role 'wizard'" in bad.json()["error"]["message"]


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({}, 200),
        ({"headers": {"Authorization": "Bearer root-token"}}, 200),
        ({"headers": {"Authorization": "Bearer user-token"}}, 403),
        ({"params": {"key": "some-key"}}, 403),
        ({"params": {"access_token": "user-token"}}, 403),
        ({"headers": {"Authorization": "Bearer forged"}}, 401),
    ],
)
def test_admin_refuses_api_keys_and_ordinary_principals(mock, kwargs, status):
    response = mock.get("/_mock/state", **kwargs)
    assert response.status_code == status
    if status != 200:
        assert response.json()["error"]["code"] == status


def test_unknown_admin_path_is_a_google_404(mock):
    response = mock.get("/_mock/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": 404,
        "message": "No such admin endpoint: GET /_mock/nothing-here",
        "status": "NOT_FOUND",
    }


@pytest.mark.parametrize("admin", [True, False])
def test_the_root_url_is_an_index_whose_links_all_answer(admin):
    from mockserver import __version__

    with TestClient(create_app(Backend(), admin=admin), raise_server_exceptions=False) as client:
        index = client.get("/")
        assert index.status_code == 200
        body = index.json()
        assert (body["service"], body["version"]) == ("genomics-mock", __version__)
        assert {"discovery", "swaggerUi", "health", "openapi", "api"} <= set(body["links"])
        assert ("admin" in body["links"]) is admin
        for name, url in body["links"].items():
            if name != "api":  # /v1/ itself is no method; its operations are in the discovery document
                assert client.get(url).status_code == 200, name
        assert "docs/usage.md" in body["docs"]
        refused = client.post("/")
        assert refused.status_code == 405 and refused.headers["allow"] == "GET, HEAD"


def test_the_served_openapi_document_names_this_server():
    with TestClient(create_app(Backend()), base_url="http://mock.example:8123") as client:
        document = client.get("/openapi.json").json()
    assert [server["url"] for server in document["servers"]] == ["http://mock.example:8123"]
    assert not [key for key in document if key.startswith("x-genomics-mock")]
    assert "/v1/datasets" in document["paths"]
