"""Attacks on the admin API (/_mock/): strict means strict, secrets stay with superusers, errors are JSON.

Each test is written as the attack a security review found, and asserts the attack fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock

ADMIN_TOKEN = "operator-secret"
#: every admin endpoint with a body that would change state if it were accepted
ADMIN_CALLS: list[tuple[str, str, Any]] = [
    ("GET", "/_mock/", None),
    ("GET", "/_mock/state", None),
    ("PUT", "/_mock/state", {"format": "genomics-mock-state"}),
    ("POST", "/_mock/reset", None),
    ("POST", "/_mock/seed", {"projects": {"p1": {"datasets": [{"name": "planted"}]}}}),
    ("GET", "/_mock/clock", None),
    ("POST", "/_mock/clock", {"days": 30}),
    ("GET", "/_mock/operations", None),
    ("POST", "/_mock/operations", {"mode": "manual"}),
    ("POST", "/_mock/operations/operations%2Fx:complete", None),
    ("GET", "/_mock/requests", None),
    ("DELETE", "/_mock/requests", None),
    ("GET", "/_mock/faults", None),
    ("POST", "/_mock/faults", {"path": "/v1/", "action": "drop"}),
    ("DELETE", "/_mock/faults", None),
    ("POST", "/_mock/principals", {"member": "user:owner@example.com", "token": "owner-token",
                                   "roles": ["owner"], "projectId": "p1"}),
]
#: RFC 7235 challenge: scheme, then auth-params (name="quoted" or name=token), comma separated
CHALLENGE = re.compile(r'^Bearer( [a-z_]+=("[^"]*"|[^\s,"]+)(, [a-z_]+=("[^"]*"|[^\s,"]+))*)?$')


def _registry() -> TokenRegistry:
    return TokenRegistry().load({
        "tokens": {
            "root-token": {"principal": "user:root@example.com", "superuser": True},
            "owner-token": {"principal": "user:owner@example.com"},
            "outsider-token": {"principal": "user:outsider@example.com"},
        },
        "apiKeys": {"some-key": {}},
    })


@pytest.fixture
def strict() -> Iterator[TestClient]:
    app = create_app(Backend(clock=FakeClock()), auth="strict", tokens=_registry(), admin_token=ADMIN_TOKEN)
    app.state.backend.iam.add_project_binding("p1", "roles/genomics.admin", "user:owner@example.com")
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def open_mode() -> Iterator[TestClient]:
    app = create_app(Backend(clock=FakeClock()), tokens=_registry(), admin_token=ADMIN_TOKEN)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
def test_anonymous_admin_calls_on_a_strict_server_are_401_and_change_nothing(strict, method, path, body):
    before = strict.get("/_mock/state", headers=_as("root-token")).json()
    response = strict.request(method, path, json=body)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    challenge = response.headers["WWW-Authenticate"]
    assert CHALLENGE.match(challenge) and 'realm="genomics-mock admin"' in challenge
    after = strict.get("/_mock/state", headers=_as("root-token")).json()
    assert {k: v for k, v in after.items() if k != "savedAt"} == {
        k: v for k, v in before.items() if k != "savedAt"
    }


def test_a_strict_server_cannot_be_made_to_rebind_a_token(strict):
    """The attack: POST /_mock/principals rebinding the outsider's token to an owner of p1."""
    created = strict.post("/v1/datasets", json={"projectId": "p1", "name": "hidden"},
                          headers=_as("owner-token"))
    hidden = created.json()["id"]
    rebind = {"member": "user:owner@example.com", "token": "outsider-token", "roles": ["owner"],
              "projectId": "p1"}
    for credentials in ({}, _as("outsider-token"), {"X-Api-Key": "some-key"}):
        assert strict.post("/_mock/principals", json=rebind, headers=credentials).status_code in (401, 403)
    assert strict.get(f"/v1/datasets/{hidden}", headers=_as("outsider-token")).status_code == 404


@pytest.mark.parametrize(
    ("headers", "params", "status"),
    [
        (_as("root-token"), {}, 200),
        (_as(ADMIN_TOKEN), {}, 200),
        ({}, {"access_token": ADMIN_TOKEN}, 200),
        (_as("owner-token"), {}, 403),
        ({}, {"key": "some-key"}, 403),
        (_as("forged"), {}, 401),
        ({"Authorization": "Basic cm9vdDpyb290"}, {}, 401),
        ({}, {}, 401),
    ],
)
def test_who_may_call_the_admin_api_of_a_strict_server(strict, headers, params, status):
    response = strict.get("/_mock/clock", headers=headers, params=params)
    assert response.status_code == status, response.text
    if status == 401:
        assert CHALLENGE.match(response.headers["WWW-Authenticate"])
        if headers:
            assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_health_needs_nothing_and_the_admin_token_is_no_api_identity(strict):
    assert strict.get("/_mock/health").json()["status"] == "ok"
    refused = strict.get("/v1/datasets", params={"projectId": "p1"}, headers=_as(ADMIN_TOKEN))
    assert refused.status_code == 401


def test_state_holds_tokens_and_the_page_secret_only_for_privileged_callers(open_mode):
    def secret(document: dict) -> str | None:
        return document["state"]["server"]["settings"].get("pageTokenSecret")

    anonymous = open_mode.get("/_mock/state").json()
    assert "tokens" not in anonymous["state"] and secret(anonymous) is None
    assert "root-token" not in open_mode.get("/_mock/state").text
    for headers in (_as("root-token"), _as(ADMIN_TOKEN)):
        full = open_mode.get("/_mock/state", headers=headers).json()
        assert "root-token" in full["state"]["tokens"]["tokens"] and secret(full)
    # a redacted document restores the data and keeps the server's tokens and secret
    open_mode.post("/v1/datasets", json={"projectId": "p1", "name": "kept"})
    redacted = open_mode.get("/_mock/state").json()
    before = secret(open_mode.get("/_mock/state", headers=_as("root-token")).json())
    assert open_mode.put("/_mock/state", json=redacted).status_code == 200
    after = open_mode.get("/_mock/state", headers=_as("root-token")).json()
    assert secret(after) == before and "root-token" in after["state"]["tokens"]["tokens"]
    listed = open_mode.get("/v1/datasets", params={"projectId": "p1"}).json()["datasets"]
    assert [d["name"] for d in listed] == ["kept"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"days": 1e400}',
        b'{"days": 3000000}',
        b'{"seconds": 1e300}',
        b'{"days": 999999999}',
        b'{"time": "9999-12-31T00:00:00Z"}',
        b'{"time": "1900-01-01T00:00:00Z"}',
        b'{"time": 12}',
        b'{"days": NaN}',
    ],
)
def test_clock_out_of_range_is_400_and_the_clock_stays(open_mode, body):
    before = open_mode.get("/_mock/clock").json()["time"]
    response = open_mode.post("/_mock/clock", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert open_mode.get("/_mock/clock").json()["time"] == before


def test_the_clock_may_move_to_the_end_of_its_range(open_mode):
    assert open_mode.post("/_mock/clock", json={"time": "9998-12-31T00:00:00Z"}).status_code == 200
    assert open_mode.post("/_mock/clock", json={"days": 1}).status_code == 400  # exactly the end


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("PUT", "/_mock/state", {"content": b"[" * 1000 + b"]" * 1000}, 400),
        ("POST", "/_mock/faults", {"content": b'{"path": "\\ud800", "action": "drop"}'}, 400),
        ("POST", "/_mock/seed", {"content": b"projects: [[[[" + b"[" * 2000, "yaml": True}, 400),
        ("POST", "/_mock/clock", {"content": b'{"days": 1}', "type": None}, 400),
        ("POST", "/_mock/clock", {"content": b"days=1", "type": "application/x-www-form-urlencoded"}, 400),
        ("GET", "/_mock/nothing", {}, 404),
        ("PATCH", "/_mock/state", {}, 405),
    ],
)
def test_every_admin_error_is_the_json_envelope(open_mode, method, path, kwargs, status):
    headers = {}
    if "content" in kwargs:
        kind = "application/yaml" if kwargs.get("yaml") else kwargs.get("type", "application/json")
        if kind:
            headers["Content-Type"] = kind
    response = open_mode.request(method, path, content=kwargs.get("content"), headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == status and error["message"] and error["status"]


def test_an_internal_failure_in_the_admin_api_is_still_the_envelope(open_mode, monkeypatch):
    import mockserver.admin as admin

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise TypeError("boom")

    monkeypatch.setattr(admin, "snapshot_bytes", broken)
    response = open_mode.get("/_mock/state")
    assert response.status_code == 500
    assert response.json()["error"]["status"] == "INTERNAL" and "boom" not in response.text


def test_a_yaml_alias_bomb_is_refused_before_it_is_walked(open_mode):
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = "\n".join(layers) + "\nprojects: {p1: {datasets: *a8}}\n"
    response = open_mode.post("/_mock/seed", content=bomb, headers={"Content-Type": "application/yaml"})
    assert response.status_code == 400 and "values" in response.json()["error"]["message"]


@pytest.mark.parametrize("how", ["option", "env"])
def test_serve_takes_the_admin_token_from_its_option_or_variable(tmp_path, how):
    import os
    import subprocess
    import sys

    import httpx

    url_file = tmp_path / "url"
    command = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--auth", "strict",
               "--url-file", str(url_file)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENOMICS_")}
    if how == "option":
        command += ["--admin-token", ADMIN_TOKEN]
    else:
        env["GENOMICS_MOCK_ADMIN_TOKEN"] = ADMIN_TOKEN
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        done = subprocess.run([sys.executable, "-m", "mockserver.cli", "health", "--url-file", str(url_file),
                               "--wait", "60"], env=env, capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        url = url_file.read_text().strip().rstrip("/")
        assert httpx.get(f"{url}/_mock/clock").status_code == 401
        assert httpx.get(f"{url}/_mock/clock", headers=_as(ADMIN_TOKEN)).status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert ADMIN_TOKEN not in out + err  # the token is never printed
