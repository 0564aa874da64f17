"""Google's wire conventions: standard parameters, proto3 JSON, partial responses, ids."""

from __future__ import annotations

import json
import re

import pytest

from mockserver.backend.public_references import GRCH38

STANDARD = {
    "alt": "json",
    "quotaUser": "tester",
    "$.xgafv": "2",
    "callback": "cb",
    "uploadType": "media",
    "upload_protocol": "raw",
}


@pytest.fixture
def dataset(client) -> dict:
    return client.post("/v1/datasets", json={"projectId": "p1", "name": "d"}).json()


def test_api_key_parameter_is_understood(app, client, dataset):
    # a key identifies a caller (here one with no grants): not an "unknown parameter" 400
    app.state.tokens.add_api_key("some-api-key")
    r = client.get(f"/v1/datasets/{dataset['id']}", params={"key": "some-api-key"})
    assert r.status_code in (403, 404), r.text


def test_standard_query_parameters_are_accepted_everywhere(client, dataset):
    assert client.get(f"/v1/datasets/{dataset['id']}", params=STANDARD).status_code == 200
    r = client.post("/v1/datasets", params=STANDARD, json={"projectId": "p1"})
    assert r.status_code == 200
    r = client.post("/v1/annotationsets/search", params={"alt": "json"}, json={"datasetIds": [dataset["id"]]})
    assert r.status_code == 200


def test_pretty_print_default_and_off(client, dataset):
    pretty = client.get(f"/v1/datasets/{dataset['id']}")
    assert "\n  " in pretty.text
    compact = client.get(f"/v1/datasets/{dataset['id']}", params={"prettyPrint": "false"})
    assert "\n" not in compact.text and ": " not in compact.text
    assert json.loads(compact.text) == pretty.json()


def test_fields_selects_top_level(client, dataset):
    r = client.get(f"/v1/datasets/{dataset['id']}", params={"fields": "id,name"})
    assert r.json() == {"id": dataset["id"], "name": "d"}


def test_fields_selects_nested_through_lists(client, dataset):
    client.post("/v1/datasets", json={"projectId": "p1", "name": "e"})
    r = client.get(
        "/v1/datasets",
        params={"projectId": "p1", "pageSize": 1, "fields": "datasets(id,name),nextPageToken"},
    )
    body = r.json()
    assert set(body) == {"datasets", "nextPageToken"}
    assert all(set(d) == {"id", "name"} for d in body["datasets"])


def test_fields_slash_path(client, dataset):
    r = client.get("/v1/datasets", params={"projectId": "p1", "fields": "datasets/id"})
    assert r.json() == {"datasets": [{"id": dataset["id"]}]}


def test_malformed_fields_is_400(client, dataset):
    r = client.get(f"/v1/datasets/{dataset['id']}", params={"fields": "id,(name"})
    assert r.status_code == 400
    assert r.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_proto3_json_omits_defaults_and_uses_rfc3339(client):
    created = client.post("/v1/datasets", json={"projectId": "p1"}).json()
    assert "name" not in created  # default value omitted
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", created["createTime"])


def test_int64_fields_are_strings(client, dataset):
    aset = client.post(
        "/v1/annotationsets", json={"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENERIC"}
    ).json()
    ann = client.post(
        "/v1/annotations",
        json={"annotationSetId": aset["id"], "referenceName": "chr1", "start": 5, "end": "9"},
    ).json()
    assert ann["start"] == "5" and ann["end"] == "9"


def test_server_ids_are_opaque_and_route_safe(client):
    ids = set()
    for _ in range(50):
        created = client.post("/v1/datasets", json={"projectId": "p1", "id": "chosen:by/client"}).json()
        assert ":" not in created["id"] and "/" not in created["id"]
        assert created["id"] != "chosen:by/client"
        ids.add(created["id"])
    assert len(ids) == 50


def test_discovery_document_is_served_with_own_root_url(client):
    for path in ("/$discovery/rest?version=v1", "/discovery/v1/apis/genomics/v1/rest"):
        doc = client.get(path).json()
        assert doc["rootUrl"] == "http://testserver/"
        assert doc["name"] == "genomics" and doc["version"] == "v1"
        methods = doc["resources"]["datasets"]["methods"]
        assert methods["undelete"]["path"] == "v1/datasets/{datasetId}:undelete"
        assert methods["get"]["parameterOrder"] == ["datasetId"]
        assert doc["resources"]["readgroupsets"]["resources"]["coveragebuckets"]["methods"]["list"]
        assert "Dataset" in doc["schemas"]
