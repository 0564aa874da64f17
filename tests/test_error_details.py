"""Google's error model over HTTP: BadRequest field violations on validation errors, ErrorInfo
on authentication and authorization errors, ``fields=`` checked against the response, and
Google's answers to an unknown API key and to a 401."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock

BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


def violations(response: Any) -> list[dict[str, str]]:
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT", response.text
    (detail,) = [d for d in error["details"] if d["@type"] == BAD_REQUEST]
    for violation in detail["fieldViolations"]:
        assert violation["description"] == error["message"]
    return detail["fieldViolations"]


def info(response: Any) -> dict[str, Any]:
    (detail,) = [d for d in response.json()["error"]["details"] if d["@type"] == ERROR_INFO]
    return detail


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/v1/datasets", {"params": {"projectId": "p", "bogus": "1"}}, "bogus"),
        ("get", "/v1/datasets", {"params": {"projectId": "p", "pageSize": "ten"}}, "pageSize"),
        ("get", "/v1/datasets", {}, "projectId"),
        ("post", "/v1/datasets", {"json": {"projectId": "p", "colour": "red"}}, "colour"),
        ("post", "/v1/datasets", {"json": {"projectId": 7}}, "projectId"),
        (
            "post",
            "/v1/annotations:batchCreate",
            {"json": {"annotations": [{"annotationSetId": "s", "start": {"x": 1}}]}},
            "annotations[0].start",
        ),
        ("post", "/v1/annotationsets/search", {"json": {}}, "datasetIds"),  # a backend rule
        ("post", "/v1/datasets", {"json": {"name": "no project"}}, "projectId"),  # a backend rule
    ],
)
def test_validation_errors_name_the_field_in_bad_request_details(client, method, path, kwargs, field):
    response = getattr(client, method)(path, **kwargs)
    assert [v["field"] for v in violations(response)] == [field]


def test_a_message_about_no_single_field_has_no_field_violation(client):
    response = client.post("/v1/datasets", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "details" not in response.json()["error"]


# -- fields= -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "named"),
    [("bogusField", "'bogusField'"), ("datasets(id,colour)", "'datasets/colour'"), ("id", "'id'")],
)
def test_unknown_field_selector_is_400_naming_it(client, selector, named):
    response = client.get("/v1/datasets", params={"projectId": "p", "fields": selector})
    assert [v["field"] for v in violations(response)] == ["fields"]
    assert named in response.json()["error"]["message"]


def test_field_selector_is_checked_before_the_method_runs(client):
    response = client.post("/v1/datasets", params={"fields": "nope"}, json={"projectId": "fields-first"})
    assert response.status_code == 400
    assert client.get("/v1/datasets", params={"projectId": "fields-first"}).json() == {}


def test_known_selectors_still_select(client):
    client.post("/v1/datasets", json={"projectId": "p", "name": "n"})
    listed = client.get("/v1/datasets", params={"projectId": "p", "fields": "datasets(name),nextPageToken"})
    assert listed.json() == {"datasets": [{"name": "n"}]}
    # free-form values hold data, not fields: anything may be selected inside them
    made = client.post(
        "/v1/annotationsets/search",
        params={"fields": "annotationSets/info/anything"},
        json={"datasetIds": [client.post("/v1/datasets", json={"projectId": "p"}).json()["id"]]},
    )
    assert made.status_code == 200


# -- identity ------------------------------------------------------------------------------------


@pytest.fixture
def strict() -> Iterator[TestClient]:
    registry = TokenRegistry()
    registry.add_token("viewer-token", "user:alice@example.com", scopes=["genomics.readonly"])
    registry.add_token("outsider-token", "user:eve@example.com")
    registry.add_api_key("known-key", "user:alice@example.com")
    app = create_app(Backend(clock=FakeClock()), auth="strict", tokens=registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_missing_credentials_401_has_a_realm_and_no_error_code(strict):
    response = strict.get("/v1/datasets", params={"projectId": "p"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="https://accounts.google.com/"'
    assert info(response) == {
        "@type": ERROR_INFO,
        "reason": "CREDENTIALS_MISSING",
        "domain": "googleapis.com",
        "metadata": {"service": "genomics.googleapis.com"},
    }


def test_wrong_token_401_says_invalid_token(strict):
    response = strict.get("/v1/datasets", params={"projectId": "p"}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    )
    assert info(response)["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED"


def test_unknown_api_key_is_400_api_key_invalid(strict):
    response = strict.get("/v1/datasets", params={"projectId": "p", "key": "nope"})
    error = response.json()["error"]
    assert (response.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert (info(response)["reason"], info(response)["domain"]) == ("API_KEY_INVALID", "googleapis.com")
    assert "www-authenticate" not in response.headers
    known = strict.get("/v1/datasets", params={"projectId": "p", "key": "known-key"})
    assert known.status_code != 400


def test_insufficient_scope_and_iam_denials_carry_error_info(strict):
    scoped = strict.post(
        "/v1/datasets", json={"projectId": "p"}, headers={"Authorization": "Bearer viewer-token"}
    )
    assert scoped.status_code == 403
    assert info(scoped)["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert 'error="insufficient_scope"' in scoped.headers["www-authenticate"]
    denied = strict.post(
        "/v1/datasets", json={"projectId": "p"}, headers={"Authorization": "Bearer outsider-token"}
    )
    assert denied.status_code == 403
    detail = info(denied)
    assert (detail["reason"], detail["domain"]) == ("IAM_PERMISSION_DENIED", "iam.googleapis.com")
    assert detail["metadata"]["permission"] == "genomics.datasets.create"
    assert detail["metadata"]["resource"] == "projects/p"
