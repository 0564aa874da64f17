"""Transport conventions over raw HTTP: X-HTTP-Method-Override, the batch endpoint, CORS."""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.batch import MAX_PARTS

FORM = {"X-HTTP-Method-Override": "GET", "Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def strict() -> Iterator[TestClient]:
    registry = TokenRegistry()
    registry.add_token("owner-token", "user:owner@example.com", superuser=True)
    registry.add_token("other-token", "user:other@example.com")
    app = create_app(Backend(clock=FakeClock(), id_seed=7), auth="strict", tokens=registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


# -- method override ---------------------------------------------------------------------------------


def test_tunnelled_get_merges_the_form_body_into_the_query(client):
    made = client.post("/v1/datasets", json={"projectId": "p", "name": "x"}).json()
    direct = client.get("/v1/datasets", params={"projectId": "p", "pageSize": "5"})
    tunnelled = client.post("/v1/datasets?projectId=p", headers=FORM, content=b"pageSize=5")
    assert tunnelled.status_code == 200 and tunnelled.json() == direct.json()
    assert [d["id"] for d in tunnelled.json()["datasets"]] == [made["id"]]


def test_tunnelled_get_is_validated_like_the_direct_one(client):
    for params in (b"projectId=p&bogus=1", b"projectId=p&pageSize=ten"):
        direct = client.get("/v1/datasets?" + params.decode())
        tunnelled = client.post("/v1/datasets", headers=FORM, content=params)
        assert tunnelled.status_code == direct.status_code == 400
        assert tunnelled.json() == direct.json()


def test_tunnelled_methods_route_like_direct_ones(client):
    made = client.post("/v1/datasets", json={"projectId": "p", "name": "before"}).json()
    path = f"/v1/datasets/{made['id']}"
    patched = client.post(
        path + "?updateMask=name", headers={"X-HTTP-Method-Override": "PATCH"}, json={"name": "b"}
    )
    assert patched.status_code == 200 and patched.json()["name"] == "b"
    dataset = client.post("/v1/datasets", json={"projectId": "p"}).json()["id"]
    aset = client.post(
        "/v1/annotationsets", json={"datasetId": dataset, "referenceSetId": "EMud_c37lKPXTQ", "name": "a"}
    ).json()
    put = client.post(
        f"/v1/annotationsets/{aset['id']}",
        headers={"X-HTTP-Method-Override": "PUT"},
        json={"name": "renamed"},
    )
    assert put.status_code == 200 and put.json()["name"] == "renamed"
    deleted = client.post(path, headers={"X-HTTP-Method-Override": "DELETE"})
    assert deleted.status_code == 200 and client.get(path).status_code == 404
    # a tunnelled method the path does not take is the direct call's 405
    wrong = client.post("/v1/datasets/x:undelete", headers={"X-HTTP-Method-Override": "GET"})
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"


def test_tunnelled_calls_are_authenticated_like_direct_ones(strict):
    anonymous = strict.post("/v1/datasets", headers=FORM, content=b"projectId=p")
    assert anonymous.status_code == 401
    owner = strict.post(
        "/v1/datasets", headers={**FORM, "Authorization": "Bearer owner-token"}, content=b"projectId=p"
    )
    assert owner.status_code == 200


@pytest.mark.parametrize(
    ("headers", "body", "named"),
    [
        ({"X-HTTP-Method-Override": "TRACE"}, b"", "'TRACE'"),
        (
            {"X-HTTP-Method-Override": "GET", "Content-Type": "application/json"},
            b'{"projectId": "p"}',
            "json",
        ),
    ],
)
def test_bad_overrides_are_400_naming_the_problem(client, headers, body, named):
    response = client.post("/v1/datasets", headers=headers, content=body)
    error = response.json()["error"]
    assert response.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert "X-HTTP-Method-Override" in error["message"] and named in error["message"]


def test_the_override_counts_on_post_only(client):
    client.post("/v1/datasets", json={"projectId": "p"})
    response = client.get(
        "/v1/datasets", params={"projectId": "p"}, headers={"X-HTTP-Method-Override": "DELETE"}
    )
    assert response.status_code == 200 and len(response.json()["datasets"]) == 1


# -- batch ----------------------------------------------------------------------------------------


def batch_body(parts: list[tuple[str | None, str]], boundary: str = "XyZ") -> tuple[bytes, dict[str, str]]:
    """A multipart/mixed batch of ``(Content-ID, raw HTTP request)`` parts, as clients write it."""
    chunks = []
    for content_id, request in parts:
        head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        if content_id is not None:
            head += f"Content-ID: <{content_id}>\r\n"
        chunks.append(f"--{boundary}\r\n{head}\r\n{request}\r\n")
    body = "".join(chunks) + f"--{boundary}--\r\n"
    return body.encode(), {"Content-Type": f'multipart/mixed; boundary="{boundary}"'}


def answers(response: Any) -> list[dict[str, Any]]:
    """The parts of a batch response: Content-ID, status, headers, JSON body."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=")
    raw = b"Content-Type: " + response.headers["content-type"].encode() + b"\r\n\r\n" + response.content
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    out = []
    for part in message.iter_parts():
        assert part.get_content_type() == "application/http"
        payload = part.get_payload(decode=True)
        status_line, _, rest = payload.partition(b"\r\n")
        head, _, body = rest.partition(b"\r\n\r\n")
        import json

        out.append(
            {
                "id": part.get("Content-ID"),
                "status": int(status_line.split()[1]),
                "reason": status_line.decode().split(" ", 2)[2],
                "headers": head.decode().lower(),
                "body": json.loads(body),
            }
        )
    return out


def test_batch_answers_each_part_independently_and_echoes_content_ids(client):
    made = client.post("/v1/datasets", json={"projectId": "p", "name": "known"}).json()
    body, headers = batch_body(
        [
            ("a+1", f"GET /v1/datasets/{made['id']} HTTP/1.1\r\nAccept: application/json\r\n"),
            ("a+2", "GET /v1/datasets/missing HTTP/1.1\r\n"),
            ("a+3", 'POST /v1/datasets HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"projectId": "p"}'),
            ("a+4", 'POST /v1/datasets HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"colour": "red"}'),
        ]
    )
    parts = answers(client.post("/batch", content=body, headers=headers))
    assert [p["id"] for p in parts] == [
        "<response-a+1>",
        "<response-a+2>",
        "<response-a+3>",
        "<response-a+4>",
    ]
    assert [p["status"] for p in parts] == [200, 404, 200, 400]
    assert parts[0]["body"] == made and parts[0]["reason"] == "OK"
    assert parts[1]["body"]["error"]["status"] == "NOT_FOUND"
    assert "content-type: application/json" in parts[2]["headers"]
    assert "colour" in parts[3]["body"]["error"]["message"]
    assert client.get(f"/v1/datasets/{parts[2]['body']['id']}").status_code == 200


def test_the_per_api_batch_path_and_the_request_log(client, app):
    body, headers = batch_body([("x", "GET /v1/datasets?projectId=p HTTP/1.1\r\n")])
    parts = answers(client.post("/batch/genomics/v1", content=body, headers=headers))
    assert parts[0]["status"] == 200
    logged = app.state.control.requests.entries()[-1]
    assert (logged["method"], logged["path"], logged["operationId"]) == (
        "GET",
        "/v1/datasets",
        "genomics.datasets.list",
    )


def test_a_malformed_part_gets_its_own_400_and_the_others_still_run(client):
    body, headers = batch_body(
        [
            ("bad-line", "this is not a request\r\n"),
            ("outside", "POST /_mock/reset HTTP/1.1\r\n"),
            ("nested", "POST /batch HTTP/1.1\r\n"),
            (
                "good",
                'POST /v1/datasets HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"projectId": "p"}',
            ),
        ]
    )
    parts = answers(client.post("/batch", content=body, headers=headers))
    assert [p["status"] for p in parts] == [400, 400, 400, 200]
    for part in parts[:3]:
        assert part["body"]["error"]["status"] == "INVALID_ARGUMENT"
        assert part["body"]["error"]["message"].startswith("Batch part: ")
    body, headers = batch_body([("z", "GET /v1/datasets?projectId=p HTTP/1.1\r\n")])
    not_http = body.replace(b"application/http", b"text/plain")
    assert answers(client.post("/batch", content=not_http, headers=headers))[0]["status"] == 400


def test_whole_batch_errors(client):
    too_many, headers = batch_body(
        [(str(i), "GET /v1/datasets?projectId=p HTTP/1.1\r\n") for i in range(MAX_PARTS + 1)]
    )
    response = client.post("/batch", content=too_many, headers=headers)
    assert response.status_code == 400 and str(MAX_PARTS) in response.json()["error"]["message"]
    at_limit, headers = batch_body(
        [(str(i), "GET /v1/datasets?projectId=p HTTP/1.1\r\n") for i in range(MAX_PARTS)]
    )
    assert len(answers(client.post("/batch", content=at_limit, headers=headers))) == MAX_PARTS
    empty = client.post(
        "/batch", content=b"--XyZ--\r\n", headers={"Content-Type": 'multipart/mixed; boundary="XyZ"'}
    )
    assert empty.status_code == 400
    not_multipart = client.post("/batch", json={"a": 1})
    assert not_multipart.status_code == 400 and "multipart/mixed" in not_multipart.json()["error"]["message"]
    wrong_method = client.get("/batch")
    assert wrong_method.status_code == 405 and wrong_method.headers["allow"] == "POST"


def test_parts_use_the_outer_credentials_unless_they_name_their_own(strict):
    body, headers = batch_body(
        [
            (
                "inherits",
                'POST /v1/datasets HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"projectId": "p"}',
            ),
            (
                "own",
                "POST /v1/datasets HTTP/1.1\r\nAuthorization: Bearer other-token\r\n"
                'Content-Type: application/json\r\n\r\n{"projectId": "p"}',
            ),
        ]
    )
    parts = answers(
        strict.post("/batch", content=body, headers={**headers, "Authorization": "Bearer owner-token"})
    )
    assert [p["status"] for p in parts] == [200, 403]  # the owner may create; "other" holds no role
    keyless = answers(strict.post("/batch", content=body, headers=headers))
    assert keyless[0]["status"] == 401 and keyless[1]["status"] == 403


# -- CORS -------------------------------------------------------------------------------------------

ORIGIN = {"Origin": "https://app.example"}


def test_any_answer_to_a_request_with_origin_echoes_it(client):
    for response in (
        client.post("/v1/datasets", json={"projectId": "p"}, headers=ORIGIN),
        client.get("/v1/datasets/missing", headers=ORIGIN),
        client.get("/$discovery/rest", headers=ORIGIN),
    ):
        assert response.headers["access-control-allow-origin"] == "https://app.example"
        assert "Origin" in response.headers["vary"]
        assert "WWW-Authenticate" in response.headers["access-control-expose-headers"]
    assert "access-control-allow-origin" not in client.get("/v1/datasets/missing").headers


def test_a_401_to_a_browser_is_readable(strict):
    response = strict.get("/v1/datasets", params={"projectId": "p"}, headers=ORIGIN)
    assert response.status_code == 401 and response.headers["access-control-allow-origin"] == ORIGIN["Origin"]


def test_preflight_is_200_with_methods_and_the_allowed_request_headers(strict):
    asked = "Authorization, content-type, X-Goog-Api-Client, X-HTTP-Method-Override, X-Custom"
    response = strict.options(
        "/v1/datasets",
        headers={**ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked},
    )
    assert response.status_code == 200 and response.content == b""
    assert response.headers["access-control-allow-origin"] == ORIGIN["Origin"]
    assert set(response.headers["access-control-allow-methods"].split(", ")) >= {
        "GET",
        "POST",
        "PATCH",
        "PUT",
        "DELETE",
    }
    granted = response.headers["access-control-allow-headers"].split(", ")
    assert granted == ["Authorization", "content-type", "X-Goog-Api-Client", "X-HTTP-Method-Override"]


def test_the_admin_api_and_no_cors_take_no_part(client, backend):
    admin = client.get("/_mock/health", headers=ORIGIN)
    assert "access-control-allow-origin" not in admin.headers
    with TestClient(create_app(backend, cors=False), raise_server_exceptions=False) as plain:
        answered = plain.get("/v1/datasets", params={"projectId": "p"}, headers=ORIGIN)
        assert answered.status_code == 200 and "access-control-allow-origin" not in answered.headers
        preflight = plain.options("/v1/datasets", headers={**ORIGIN, "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 405
