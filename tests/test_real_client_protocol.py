"""google-api-python-client + httplib2 through Google's transport conventions, against a live
uvicorn server: long GETs tunnelled as POST, ``tunnel_patch``, the batch endpoint, and a 401
the client can read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httplib2
import pytest

pytest.importorskip("googleapiclient")
from google_auth_httplib2 import AuthorizedHttp  # noqa: E402
from googleapiclient.discovery import build  # noqa: E402
from googleapiclient.errors import HttpError  # noqa: E402
from googleapiclient.http import tunnel_patch  # noqa: E402

from mockserver.app import create_app  # noqa: E402
from mockserver.auth import TokenRegistry  # noqa: E402
from mockserver.live import LiveServer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class RecordingHttp(httplib2.Http):
    """httplib2 that remembers what went on the wire: (method, uri, headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, dict[str, str]]] = []

    def request(self, uri: str, method: str = "GET", body: Any = None, headers: Any = None, **kw: Any) -> Any:
        self.sent.append((method, uri, dict(headers or {})))
        return super().request(uri, method, body=body, headers=headers, **kw)


def service(url: str, http: Any) -> Any:
    return build(
        "genomics",
        "v1",
        discoveryServiceUrl=url + "/$discovery/rest?version={apiVersion}",
        http=http,
        cache_discovery=False,
        static_discovery=False,
    )


@pytest.fixture
def wire():
    return RecordingHttp()


@pytest.fixture
def genomics(live_server, wire):
    return service(live_server.url, wire)


def test_a_get_longer_than_2048_characters_is_tunnelled_and_answered(genomics, wire):
    project = "p" * 2100
    made = genomics.datasets().create(body={"projectId": project, "name": "long"}).execute()
    listed = genomics.datasets().list(projectId=project).execute()
    assert [d["id"] for d in listed["datasets"]] == [made["id"]]
    method, uri, headers = wire.sent[-1]
    assert (method, headers["x-http-method-override"]) == ("POST", "GET")  # the client tunnelled it
    assert "?" not in uri and headers["content-type"] == "application/x-www-form-urlencoded"


def test_tunnel_patch_sends_patch_as_post_with_the_override(live_server, wire):
    genomics = service(live_server.url, tunnel_patch(wire))
    made = genomics.datasets().create(body={"projectId": "p", "name": "before"}).execute()
    patched = (
        genomics.datasets().patch(datasetId=made["id"], updateMask="name", body={"name": "after"}).execute()
    )
    assert patched["name"] == "after"
    assert genomics.datasets().get(datasetId=made["id"]).execute()["name"] == "after"
    method, _uri, headers = wire.sent[-2]
    assert (method, headers["x-http-method-override"]) == ("POST", "PATCH")
    # validated exactly like the direct PATCH: a bad mask is the same 400
    with pytest.raises(HttpError) as info:
        genomics.datasets().patch(datasetId=made["id"], updateMask="projectId", body={}).execute()
    assert info.value.status_code == 400 and "projectId" in info.value.reason


def test_a_batch_of_successes_and_failures_answers_each_call(genomics, wire):
    made = genomics.datasets().create(body={"projectId": "batch", "name": "known"}).execute()
    answers: dict[str, tuple[Any, Any]] = {}

    def collect(request_id: str, response: Any, exception: Any) -> None:
        answers[request_id] = (response, exception)

    batch = genomics.new_batch_http_request(callback=collect)
    batch.add(genomics.datasets().get(datasetId=made["id"]), request_id="known")
    batch.add(genomics.datasets().get(datasetId="no-such-dataset"), request_id="missing")
    batch.add(genomics.datasets().create(body={"projectId": "batch", "name": "new"}), request_id="create")
    batch.add(genomics.datasets().create(body={"name": "no project"}), request_id="invalid")
    batch.add(genomics.datasets().delete(datasetId=made["id"]), request_id="delete")
    batch.execute()

    assert wire.sent[-1][0] == "POST" and wire.sent[-1][1].endswith("/batch")  # one round trip
    assert answers["known"] == (made, None)
    assert answers["missing"][1].status_code == 404
    assert answers["create"][1] is None and answers["create"][0]["name"] == "new"
    assert answers["invalid"][1].status_code == 400 and "projectId" in answers["invalid"][1].reason
    assert answers["delete"] == ({}, None)
    listed = genomics.datasets().list(projectId="batch").execute()
    assert [d["name"] for d in listed["datasets"]] == ["new"]  # the batch's writes happened


def test_batch_parts_run_with_the_outer_credentials(tmp_path):
    registry = TokenRegistry()
    registry.add_token("bob-token", "user:bob@example.com", superuser=True)
    with LiveServer(create_app(auth="strict", tokens=registry)) as server:
        from google.oauth2.credentials import Credentials

        genomics = service(server.url, AuthorizedHttp(Credentials("bob-token"), http=RecordingHttp()))
        answers: list[Any] = []
        batch = genomics.new_batch_http_request(
            callback=lambda _id, response, exc: answers.append(exc or response)
        )
        batch.add(genomics.datasets().create(body={"projectId": "p", "name": "by bob"}))
        batch.execute()
        assert answers[0]["name"] == "by bob"
        anonymous = service(server.url, httplib2.Http())  # no credentials on the batch, none in its parts
        answers.clear()
        batch = anonymous.new_batch_http_request(callback=lambda _id, response, exc: answers.append(exc))
        batch.add(anonymous.datasets().list(projectId="p"))
        batch.execute()
        assert answers[0].status_code == 401


def readme_client_snippet() -> str:
    """The README's Python client snippet (the one a reader pastes next to a strict server)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (snippet,) = [block for block in blocks if "discoveryServiceUrl" in block]
    return snippet


def test_the_readme_snippet_with_a_wrong_token_gets_http_error_401(tmp_path):
    registry = TokenRegistry()
    registry.add_token("bob-token", "user:bob@example.com")
    with LiveServer(create_app(auth="strict", tokens=registry)) as server:
        snippet = readme_client_snippet().replace("bob-token", "wrong-token")
        snippet = snippet.replace("http://127.0.0.1:8080", server.url)
        assert server.url in snippet and "wrong-token" in snippet
        with pytest.raises(HttpError) as info:
            exec(compile(snippet, "README.md", "exec"), {})  # noqa: S102 - the document's own code
    assert info.value.status_code == 401
    assert (
        info.value.resp["www-authenticate"]
        == 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    )
