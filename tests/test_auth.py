"""Identity: token files, open/strict modes, where credentials are read, scopes; end to end over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.auth import (
    INSUFFICIENT_SCOPES,
    TokenFileError,
    TokenRegistry,
    check_scopes,
    identify,
    make_authenticator,
)
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.principals import (
    ANONYMOUS,
    DEFAULT_OWNER,
    SCOPE_CLOUD_PLATFORM,
    SCOPE_GENOMICS,
    SCOPE_READONLY,
    Principal,
)
from mockserver.errors import ApiError
from mockserver.live import LiveServer

ALICE = "user:alice@example.com"
CI = "serviceAccount:ci@p1.iam.gserviceaccount.com"
TOKEN_FILE = {
    "tokens": {
        "viewer-token": {"principal": ALICE, "scopes": ["genomics.readonly"]},
        "editor-token": {"principal": CI},
        "full-url-token": {"principal": ALICE, "scopes": [SCOPE_GENOMICS]},
        "root-token": {"principal": "user:root@example.com", "superuser": True},
        "short-token": ALICE,
        "stranger-token": "user:stranger@elsewhere.org",
    },
    "apiKeys": {"public-key": {}, "alice-key": {"principal": ALICE}},
}


@pytest.fixture
def registry() -> TokenRegistry:
    return TokenRegistry().load(TOKEN_FILE)


# -- token registry ----------------------------------------------------------------------


def test_token_file_entries_become_principals(registry: TokenRegistry) -> None:
    viewer = registry.principal_for_token("viewer-token")
    assert viewer == Principal(ALICE, frozenset({SCOPE_READONLY}))
    assert registry.principal_for_token("editor-token") == Principal(CI, frozenset({SCOPE_CLOUD_PLATFORM}))
    assert registry.principal_for_token("full-url-token").scopes == frozenset({SCOPE_GENOMICS})
    assert registry.principal_for_token("root-token").superuser
    assert registry.principal_for_token("short-token").member == ALICE
    assert registry.principal_for_key("public-key") is ANONYMOUS
    assert registry.principal_for_key("alice-key") == Principal(ALICE, frozenset({SCOPE_CLOUD_PLATFORM}))
    assert registry.principal_for_token("nope") is None


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_token_file_loads_from_yaml_and_json(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tokens{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(TOKEN_FILE))
    else:
        path.write_text(
            "tokens:\n"
            "  viewer-token: {principal: 'user:alice@example.com', scopes: [genomics.readonly]}\n"
            "apiKeys:\n  public-key: {}\n"
        )
    registry = TokenRegistry.from_file(path)
    assert registry.principal_for_token("viewer-token").scopes == frozenset({SCOPE_READONLY})
    assert registry.principal_for_key("public-key") is ANONYMOUS


def test_snapshot_round_trips(registry: TokenRegistry) -> None:
    again = TokenRegistry().load(registry.snapshot())
    assert again.snapshot() == registry.snapshot()
    assert again.principal_for_token("root-token").superuser


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"tokens": {"t": {"principal": "group:g@example.com"}}}, "tokens.t.principal"),
        ({"tokens": {"t": {"principal": "allUsers"}}}, "tokens.t.principal"),
        ({"tokens": {"t": {"principal": "user:nobody"}}}, "tokens.t.principal"),
        ({"tokens": {"t": {"scopes": ["genomics"]}}}, "tokens.t.principal is required"),
        ({"tokens": {"t": {"principal": ALICE, "scopes": [1]}}}, "tokens.t.scopes"),
        ({"tokens": {"t": {"principal": ALICE, "role": "x"}}}, "tokens.t: unknown fields role"),
        ({"apiKeys": {"k": {"principal": "domain:example.com"}}}, "apiKeys.k.principal"),
        ({"tokens": ["t"]}, "tokens must be an object"),
        ({"users": {}}, "unknown token file keys: users"),
        (["t"], "a token file must hold an object"),
    ],
)
def test_bad_token_file_is_rejected_naming_the_entry(data: object, named: str) -> None:
    registry = TokenRegistry().load({"tokens": {"keep": ALICE}})
    with pytest.raises(TokenFileError) as info:
        registry.load(data)  # type: ignore[arg-type]
    assert named in str(info.value)
    assert list(registry.snapshot()["tokens"]) == ["keep"]  # nothing half-loaded


def test_unparsable_token_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    with pytest.raises(TokenFileError) as info:
        TokenRegistry.from_file(path)
    assert str(path) in str(info.value)


# -- identify ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "query", "member"),
    [
        ({"authorization": "Bearer editor-token"}, {}, CI),
        ({"Authorization": "bearer   editor-token "}, {}, CI),
        ({}, {"access_token": ["editor-token"]}, CI),
        ({}, {"oauth_token": "editor-token"}, CI),
        ({}, {"key": ["alice-key"]}, ALICE),
        ({}, {"key": "public-key"}, ANONYMOUS.member),
        ({"authorization": "Bearer editor-token"}, {"access_token": ["viewer-token"]}, CI),  # header first
        ({}, {"key": ["alice-key"], "access_token": ["editor-token"]}, CI),  # a token beats a key
    ],
)
@pytest.mark.parametrize("mode", ["open", "strict"])
def test_credentials_are_read_from_header_query_and_key(
    registry: TokenRegistry, mode: str, headers: dict, query: dict, member: str
) -> None:
    assert identify(registry, mode, headers, query).member == member


def test_open_mode_without_credentials_is_the_built_in_owner(registry: TokenRegistry) -> None:
    assert identify(registry, "open", {}, {}) is DEFAULT_OWNER
    assert identify(None, "open", {}, {"alt": ["json"]}) is DEFAULT_OWNER


def test_strict_mode_without_credentials_is_401_with_www_authenticate(registry: TokenRegistry) -> None:
    with pytest.raises(ApiError) as info:
        identify(registry, "strict", {}, {"alt": ["json"]})
    assert (info.value.code, info.value.status) == (401, "UNAUTHENTICATED")
    # no credentials sent: a challenge without an error code (RFC 6750 section 3)
    assert info.value.headers["WWW-Authenticate"] == 'Bearer realm="https://accounts.google.com/"'
    assert info.value.details == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "CREDENTIALS_MISSING",
            "domain": "googleapis.com",
            "metadata": {"service": "genomics.googleapis.com"},
        }
    ]


@pytest.mark.parametrize("mode", ["open", "strict"])
@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"authorization": "Bearer unknown"}, {}),
        ({"authorization": "Basic YWxpY2U6cHc="}, {}),
        ({"authorization": "Bearer"}, {}),
        ({}, {"access_token": ["unknown"]}),
    ],
)
def test_unknown_or_malformed_credentials_are_401_in_both_modes(
    registry: TokenRegistry, mode: str, headers: dict, query: dict
) -> None:
    with pytest.raises(ApiError) as info:
        identify(registry, mode, headers, query)
    assert info.value.status == "UNAUTHENTICATED"
    assert info.value.headers["WWW-Authenticate"] == (
        'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    )
    (detail,) = info.value.details
    assert detail["reason"] == "ACCESS_TOKEN_TYPE_UNSUPPORTED" and detail["domain"] == "googleapis.com"


@pytest.mark.parametrize("mode", ["open", "strict"])
def test_unknown_api_key_is_400_api_key_invalid(registry: TokenRegistry, mode: str) -> None:
    """Google answers an unknown key 400 INVALID_ARGUMENT, not 401."""
    with pytest.raises(ApiError) as info:
        identify(registry, mode, {}, {"key": ["unknown-key"]})
    assert (info.value.code, info.value.status) == (400, "INVALID_ARGUMENT")
    assert info.value.message == "API key not valid. Please pass a valid API key."
    assert "WWW-Authenticate" not in info.value.headers
    (detail,) = info.value.details
    assert detail["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
    assert (detail["reason"], detail["domain"]) == ("API_KEY_INVALID", "googleapis.com")
    assert detail["metadata"]["service"] == "genomics.googleapis.com"


def test_unknown_mode_is_a_programming_error(registry: TokenRegistry) -> None:
    with pytest.raises(ValueError):
        identify(registry, "lenient", {}, {})
    with pytest.raises(ValueError):
        make_authenticator(registry, "lenient")


# -- scopes ---------------------------------------------------------------------------------

WRITE_SCOPES = [SCOPE_CLOUD_PLATFORM, SCOPE_GENOMICS]
READ_SCOPES = [SCOPE_CLOUD_PLATFORM, SCOPE_GENOMICS, SCOPE_READONLY]


def test_readonly_token_may_read_but_not_write(registry: TokenRegistry) -> None:
    viewer = registry.principal_for_token("viewer-token")
    check_scopes(viewer, READ_SCOPES)
    with pytest.raises(ApiError) as info:
        check_scopes(viewer, WRITE_SCOPES)
    assert (info.value.code, info.value.status, info.value.message) == (
        403,
        "PERMISSION_DENIED",
        INSUFFICIENT_SCOPES,
    )
    assert "insufficient_scope" in info.value.headers["WWW-Authenticate"]


def test_cloud_platform_and_genomics_scopes_may_write(registry: TokenRegistry) -> None:
    check_scopes(registry.principal_for_token("editor-token"), WRITE_SCOPES)
    check_scopes(registry.principal_for_token("full-url-token"), WRITE_SCOPES)
    check_scopes(DEFAULT_OWNER, WRITE_SCOPES)
    check_scopes(registry.principal_for_token("viewer-token"), [])  # an operation without scopes


def test_authenticator_identifies_then_checks_the_operations_scopes(registry: TokenRegistry) -> None:
    authenticate = make_authenticator(registry, "strict")
    write_op = SimpleNamespace(scopes=frozenset(WRITE_SCOPES))
    read_op = SimpleNamespace(scopes=frozenset(READ_SCOPES))
    viewer_headers = {"authorization": "Bearer viewer-token"}
    assert authenticate(viewer_headers, {}, read_op).member == ALICE
    with pytest.raises(ApiError) as info:
        authenticate(viewer_headers, {}, write_op)
    assert info.value.code == 403


# -- over HTTP --------------------------------------------------------------------------------


@pytest.fixture
def strict_app(registry: TokenRegistry):
    backend = Backend(clock=FakeClock(), id_seed=5)
    backend.iam.load_config(
        {
            "projects": {
                "p1": {
                    "bindings": [
                        {"role": "roles/genomics.viewer", "members": [ALICE]},
                        {"role": "roles/genomics.editor", "members": [CI]},
                    ]
                }
            }
        }
    )
    return create_app(backend, auth="strict", tokens=registry)


@pytest.fixture
def http(strict_app) -> Iterator[TestClient]:
    with TestClient(strict_app, raise_server_exceptions=False) as client:
        yield client


EDITOR = {"Authorization": "Bearer editor-token"}
VIEWER_FULL = {"Authorization": "Bearer short-token"}  # alice, cloud-platform scope
VIEWER_RO = {"Authorization": "Bearer viewer-token"}  # alice, genomics.readonly only


def test_http_strict_mode_without_token_is_401(http: TestClient) -> None:
    response = http.get("/v1/datasets", params={"projectId": "p1"})
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == 'Bearer realm="https://accounts.google.com/"'
    assert response.json()["error"]["details"][0]["reason"] == "CREDENTIALS_MISSING"


def test_http_editor_writes_viewer_gets_403_and_readonly_scope_is_403(http: TestClient) -> None:
    created = http.post("/v1/datasets", json={"projectId": "p1", "name": "a"}, headers=EDITOR)
    assert created.status_code == 200, created.text
    dataset_id = created.json()["id"]
    denied = http.patch(f"/v1/datasets/{dataset_id}", json={"name": "b"}, headers=VIEWER_FULL)
    assert denied.status_code == 403
    assert "genomics.datasets.update" in denied.json()["error"]["message"]
    scoped = http.patch(f"/v1/datasets/{dataset_id}", json={"name": "b"}, headers=VIEWER_RO)
    assert scoped.status_code == 403
    assert scoped.json()["error"]["message"] == INSUFFICIENT_SCOPES
    read = http.get(f"/v1/datasets/{dataset_id}", params={"access_token": "viewer-token"})
    assert read.status_code == 200
    assert read.json()["name"] == "a"


def test_http_dataset_iam_methods(http: TestClient, strict_app) -> None:
    dataset_id = http.post("/v1/datasets", json={"projectId": "p1"}, headers=EDITOR).json()["id"]
    strict_app.state.backend.iam.add_project_binding("p1", "roles/owner", CI)
    base = f"/v1/datasets/{dataset_id}"
    empty = http.post(f"{base}:getIamPolicy", json={}, headers=EDITOR)
    assert empty.json() == {"etag": "ACAB"}
    policy = {"bindings": [{"role": "roles/viewer", "members": ["user:bob@example.com"]}], "etag": "ACAB"}
    written = http.post(f"{base}:setIamPolicy", json={"policy": policy}, headers=EDITOR)
    assert written.status_code == 200
    assert written.json()["etag"] != "ACAB"
    stale = http.post(f"{base}:setIamPolicy", json={"policy": policy}, headers=EDITOR)
    assert (stale.status_code, stale.json()["error"]["status"]) == (409, "ABORTED")
    tested = http.post(
        f"{base}:testIamPermissions",
        json={"permissions": ["genomics.datasets.get", "genomics.datasets.setIamPolicy"]},
        headers=VIEWER_FULL,
    )
    assert tested.json() == {"permissions": ["genomics.datasets.get"]}
    wildcard = http.post(f"{base}:testIamPermissions", json={"permissions": ["genomics.*"]}, headers=EDITOR)
    assert wildcard.status_code == 400


def test_http_invisible_dataset_answers_exactly_like_an_unknown_one(http: TestClient) -> None:
    dataset_id = http.post("/v1/datasets", json={"projectId": "p1"}, headers=EDITOR).json()["id"]
    stranger = {"Authorization": "Bearer stranger-token"}
    hidden = http.get(f"/v1/datasets/{dataset_id}", headers=stranger)
    unknown = http.get("/v1/datasets/123456789", headers=stranger)
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json() == json.loads(unknown.text.replace("123456789", dataset_id))
    listed = http.get("/v1/datasets", params={"projectId": "p1"}, headers=stranger)
    assert listed.status_code == 403


def test_real_google_client_viewer_token_gets_403_editor_token_succeeds(strict_app) -> None:
    from google.oauth2.credentials import Credentials
    from googleapiclient.discovery import build_from_document
    from googleapiclient.errors import HttpError

    with LiveServer(strict_app) as server:
        doc = httpx.get(f"{server.url}/$discovery/rest").json()

        def client(token: str):
            return build_from_document(
                doc, client_options={"api_endpoint": server.url + "/"}, credentials=Credentials(token=token)
            )

        editor, viewer = client("editor-token"), client("short-token")
        dataset = editor.datasets().create(body={"projectId": "p1", "name": "x"}).execute()
        assert viewer.datasets().get(datasetId=dataset["id"]).execute()["name"] == "x"
        with pytest.raises(HttpError) as info:
            viewer.datasets().patch(datasetId=dataset["id"], body={"name": "y"}).execute()
        assert info.value.resp.status == 403
        patched = editor.datasets().patch(datasetId=dataset["id"], body={"name": "y"}).execute()
        assert patched["name"] == "y"
