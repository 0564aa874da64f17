"""Every failure, ours or Connexion's, is Google's error envelope with a canonical status."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from mockserver.backend.public_references import GRCH38
from mockserver.routing import HTTP_METHODS
from mockserver.specfile import openapi_path


def assert_google_error(response, code: int, status: str, *words: str) -> dict:
    assert response.status_code == code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert error["status"] == status
    for word in words:
        assert word in error["message"], error["message"]
    return error


@pytest.fixture
def dataset(client) -> dict:
    return client.post("/v1/datasets", json={"projectId": "p1", "name": "d"}).json()


def test_malformed_json_is_400(client):
    r = client.post("/v1/datasets", content=b"{bad", headers={"content-type": "application/json"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "Invalid JSON payload")


def test_invalid_utf8_is_400_not_500(client):
    body = b'{"projectId": "\xff\xfe"}'
    r = client.post("/v1/datasets", content=body, headers={"content-type": "application/json"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "UTF-8")


def test_wrong_type_in_body_names_field(client):
    r = client.post("/v1/datasets", json={"projectId": 12})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "projectId")


def test_unknown_body_field_is_rejected_by_name(client):
    r = client.post("/v1/datasets", json={"projectId": "p", "colour": "red"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "colour")


def test_unknown_query_parameter_is_rejected_by_name(client):
    r = client.get("/v1/datasets", params={"projectId": "p", "bogus": "1"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "bogus")


def test_wrong_query_type_names_parameter(client):
    r = client.get("/v1/datasets", params={"projectId": "p", "pageSize": "many"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "pageSize")


def test_missing_required_body_is_400(client):
    r = client.post("/v1/datasets", headers={"content-type": "application/json"})
    assert_google_error(r, 400, "INVALID_ARGUMENT")


def test_unsupported_media_type_is_google_error(client):
    r = client.post("/v1/datasets", content=b"projectId=p", headers={"content-type": "text/plain"})
    error = assert_google_error(r, 400, "INVALID_ARGUMENT", "media type")
    assert "problem" not in r.headers["content-type"]
    assert error["message"]


@pytest.mark.parametrize("path", ["/nowhere", "/v1/nowhere", "/v1/datasets/a/b/c"])
def test_unknown_path_is_404(client, path):
    assert_google_error(client.get(path), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_exact_allow(client):
    r = client.put("/v1/datasets")
    assert_google_error(r, 405, "UNIMPLEMENTED")
    assert sorted(r.headers["allow"].split(", ")) == ["GET", "POST"]


def _urls() -> list[str]:
    """One URL per path template of the document, every parameter an unknown id."""
    paths = yaml.safe_load(openapi_path().read_text(encoding="utf-8"))["paths"]
    return sorted({re.sub(r"\{[^}]+\}", "no-such-id", path) for path in paths})


def test_every_405_lists_exactly_the_methods_its_url_answers(client):
    """``Allow`` on a 405 names every method that URL does not refuse with 405 and no other.

    Where a literal path shares its shape with a template (``/v1/annotations/search`` and
    ``/v1/annotations/{annotationId}``), both serve the URL: GET on it is annotations.get of
    the id ``search`` (a 404), so GET is in ``Allow``. Checkers that compare ``Allow`` with one
    path item of the document (Schemathesis' ST205 allow_header_conformance) count it as
    undocumented; the header is right and the check is left off in contracts/schema.py.
    """
    urls = _urls() + ["/v1/annotations/search", "/v1/callsets/search", "/v1/variants/search"]
    checked = 0
    for url in urls:
        refused, answered = {}, set()
        for method in HTTP_METHODS:
            r = client.request(method.upper(), url)
            if r.status_code == 405:
                assert_google_error(r, 405, "UNIMPLEMENTED", method.upper())
                refused[method.upper()] = set(r.headers["allow"].split(", "))
            else:
                answered.add(method.upper())
        for method, allow in refused.items():
            assert allow == answered, (url, method, allow, answered)
            checked += 1
    assert checked > len(urls)  # most URLs refuse several methods


def test_colon_verb_with_wrong_method_is_405_not_a_get(client, dataset):
    # Starlette alone would route this to datasets.get with id "<id>:undelete"
    r = client.get(f"/v1/datasets/{dataset['id']}:undelete")
    assert_google_error(r, 405, "UNIMPLEMENTED")
    assert r.headers["allow"] == "POST"


def test_unknown_colon_verb_is_404(client, dataset):
    assert_google_error(client.post(f"/v1/datasets/{dataset['id']}:explode"), 404, "NOT_FOUND")


def test_unknown_id_is_404_naming_it(client):
    assert_google_error(client.get("/v1/datasets/424242"), 404, "NOT_FOUND", "424242")
    assert_google_error(client.get("/v1/annotationsets/nope-set"), 404, "NOT_FOUND", "nope-set")


def test_bad_page_token_is_400(client):
    r = client.get("/v1/datasets", params={"projectId": "p", "pageToken": "garbage"})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "invalid page token")


def test_page_token_from_another_server_is_rejected(client, backend):
    from starlette.testclient import TestClient

    from mockserver.app import create_app
    from mockserver.backend import Backend

    for _ in range(3):
        client.post("/v1/datasets", json={"projectId": "p"})
    token = client.get("/v1/datasets", params={"projectId": "p", "pageSize": 1}).json()["nextPageToken"]
    other = TestClient(create_app(Backend()))
    for _ in range(3):
        other.post("/v1/datasets", json={"projectId": "p"})
    r = other.get("/v1/datasets", params={"projectId": "p", "pageSize": 1, "pageToken": token})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "invalid page token")


def test_page_size_over_documented_maximum_is_400(client):
    r = client.get("/v1/datasets", params={"projectId": "p", "pageSize": 1025})
    assert_google_error(r, 400, "INVALID_ARGUMENT", "pageSize")


def test_internal_errors_are_enveloped(client, backend, monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr(backend.datasets, "get", boom)
    assert_google_error(client.get("/v1/datasets/1"), 500, "INTERNAL")


def test_unimplemented_operation_is_501(client, monkeypatch):
    from mockserver import resolver

    handler = resolver._unimplemented("genomics.datasets.frobnicate")
    import asyncio

    with pytest.raises(Exception) as info:
        asyncio.run(handler())
    assert info.value.code == 501  # type: ignore[attr-defined]


def test_limit_errors_do_not_echo_the_request(client):
    dataset = client.post("/v1/datasets", json={"projectId": "p"}).json()
    body = {"datasetId": dataset["id"], "referenceSetId": GRCH38}
    aset = client.post("/v1/annotationsets", json=body).json()
    item = {"annotationSetId": aset["id"], "referenceName": "chr1", "start": "1", "end": "2"}
    r = client.post("/v1/annotations:batchCreate", json={"annotations": [item] * 4097})
    error = assert_google_error(r, 400, "INVALID_ARGUMENT", "annotations", "4096")
    assert len(error["message"]) < 300


def _request_schemas() -> list[tuple[str, str, dict]]:
    """(method, URL with unknown ids, body schema) of every operation whose body names required fields."""
    spec = yaml.safe_load(openapi_path().read_text(encoding="utf-8"))
    found = []
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            ref = ((((item.get(method) or {}).get("requestBody") or {}).get("content") or {})
                   .get("application/json", {}).get("schema", {}).get("$ref", ""))
            schema = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1]) if ref else None
            if schema and schema.get("required"):
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "no-such-id", path), schema))
    return found


def _filled(schema: dict) -> dict:
    """A body holding every required field, each a smallest value its schema takes."""
    smallest = {"string": "x", "array": [], "object": {}}
    body = {}
    for name in schema["required"]:
        field = schema["properties"][name]
        value = smallest.get(field.get("type"), {})
        if field.get("minItems"):
            value = ["x"] * field["minItems"]
        body[name] = value
    return body


def test_fields_the_document_requires_are_refused_by_name_when_missing_or_empty(client):
    """The request-only messages (searches, imports, exports, merge, IAM) require in the document
    what the API requires; the mock refuses a body breaking it with 400 naming the field, before
    looking up any id (so a schema-valid body is never refused for these reasons)."""
    cases = _request_schemas()
    assert len(cases) >= 12
    for method, url, schema in cases:
        body = _filled(schema)
        for name in schema["required"]:
            missing = {k: v for k, v in body.items() if k != name}
            error = assert_google_error(client.request(method, url, json=missing), 400, "INVALID_ARGUMENT")
            assert name in json.dumps(error["details"]), (url, name, error)
            field = schema["properties"][name]
            empty = [] if field.get("minItems") else "" if field.get("minLength") else None
            if empty is not None:
                error = assert_google_error(client.request(method, url, json={**body, name: empty}),
                                            400, "INVALID_ARGUMENT")
                assert name in json.dumps(error["details"]), (url, name, error)


@pytest.mark.parametrize(("method", "url", "refused", "accepted", "field"), [
    ("POST", "/v1/variantsets/no-such-id:export",
     {"projectId": "-p1", "bigqueryDataset": "d", "bigqueryTable": "t"},
     {"projectId": "p1", "bigqueryDataset": "d", "bigqueryTable": "t"}, "projectId"),
    ("POST", "/v1/variantsets/no-such-id:export",
     {"projectId": "p1", "bigqueryDataset": "my-dataset", "bigqueryTable": "t"},
     {"projectId": "p1", "bigqueryDataset": "my_dataset", "bigqueryTable": "t-1"}, "bigqueryDataset"),
])
def test_patterns_of_request_messages_are_the_servers_rules(client, method, url, refused, accepted, field):
    """A value outside the document's pattern is 400 naming the field; one inside it gets past
    validation (to the 404 of the unknown id). No enums are added where Google's discovery
    document has none: the mock serves a discovery document derived from this one, and clients
    check values against its enums."""
    error = assert_google_error(client.request(method, url, json=refused), 400, "INVALID_ARGUMENT")
    assert field in json.dumps(error["details"]), error
    assert_google_error(client.request(method, url, json=accepted), 404, "NOT_FOUND")


@pytest.mark.parametrize("names", [("p1\n", "d"), ("p1", "d\n")])
def test_bigquery_names_with_a_trailing_newline_are_refused_by_the_backend_too(tmp_path, names):
    from mockserver.backend.storage import BigQuery, Storage
    from mockserver.errors import ApiError

    with pytest.raises(ApiError, match="not a valid"):
        BigQuery(Storage(tmp_path), tmp_path / "bq").dataset(*names)
    with pytest.raises(ApiError, match="not a valid"):
        BigQuery.check_table("t\n")
