"""Call sets (and the variant sets and references they sit beside) through the app.

Routes, handler wiring, parameter names, wire format and Google error bodies;
the rules themselves are tested at the backend level.
"""

from __future__ import annotations

from typing import Any

import pytest
from envelopes import assert_error

from mockserver.backend import Backend

#: paging loops stop here, so a cursor that never advances fails instead of hanging
MAX_PAGES = 1000


@pytest.fixture
def dataset(client) -> dict[str, Any]:
    return client.post("/v1/datasets", json={"projectId": "p1"}).json()


@pytest.fixture
def variant_set(client, dataset) -> dict[str, Any]:
    r = client.post("/v1/variantsets", json={"datasetId": dataset["id"], "name": "calls"})
    assert r.status_code == 200, r.text
    return r.json()



def test_call_set_lifecycle(client, variant_set, backend: Backend) -> None:
    r = client.post(
        "/v1/callsets",
        json={
            "variantSetIds": [variant_set["id"]],
            "name": "NA12878",
            "sampleId": "S1",
            "info": {"k": ["v"]},
        },
    )
    assert r.status_code == 200, r.text
    cs = r.json()
    assert cs["variantSetIds"] == [variant_set["id"]]
    assert isinstance(cs["created"], str) and cs["created"] == str(
        int(backend.clock.now().timestamp() * 1000)
    )
    assert client.get(f"/v1/callsets/{cs['id']}").json() == cs

    r = client.patch(f"/v1/callsets/{cs['id']}", params={"updateMask": "name"}, json={"name": "HG002"})
    assert r.status_code == 200, r.text
    assert r.json() == {**cs, "name": "HG002"}

    found = client.post("/v1/callsets/search", json={"variantSetIds": [variant_set["id"]], "name": "HG"})
    assert found.status_code == 200, found.text
    assert found.json() == {"callSets": [r.json()]}
    assert (
        client.post("/v1/callsets/search", json={"variantSetIds": [variant_set["id"]], "name": "hg"}).json()
        == {}
    )

    assert client.delete(f"/v1/callsets/{cs['id']}").json() == {}
    assert_error(client.get(f"/v1/callsets/{cs['id']}"), 404, "NOT_FOUND", cs["id"])


def test_call_set_errors(client, variant_set) -> None:
    assert_error(client.post("/v1/callsets", json={"name": "x"}), 400, "INVALID_ARGUMENT", "variantSetIds")
    assert_error(
        client.post("/v1/callsets", json={"variantSetIds": ["nope"]}), 404, "NOT_FOUND", "variantSetIds"
    )
    cs = client.post("/v1/callsets", json={"variantSetIds": [variant_set["id"]]}).json()
    assert_error(
        client.patch(f"/v1/callsets/{cs['id']}", params={"updateMask": "sampleId"}, json={"sampleId": "s"}),
        400,
        "INVALID_ARGUMENT",
        "sampleId",
    )
    assert_error(client.post("/v1/callsets/search", json={}), 400, "INVALID_ARGUMENT", "variantSetIds")
    assert_error(
        client.post(
            "/v1/callsets/search", json={"variantSetIds": [variant_set["id"]], "pageToken": "garbage"}
        ),
        400,
        "INVALID_ARGUMENT",
        "page token",
    )


def test_call_set_search_pages(client, variant_set) -> None:
    made = sorted(
        client.post("/v1/callsets", json={"variantSetIds": [variant_set["id"]], "name": f"s{i}"}).json()["id"]
        for i in range(5)
    )
    seen, token = [], None
    for _ in range(MAX_PAGES):
        body = {"variantSetIds": [variant_set["id"]], "pageSize": 2}
        if token:
            body["pageToken"] = token
        page = client.post("/v1/callsets/search", json=body).json()
        seen += [c["id"] for c in page["callSets"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == made


def test_variant_set_lifecycle_and_dataset_soft_delete(client, dataset, variant_set) -> None:
    vs_id = variant_set["id"]
    assert client.get(f"/v1/variantsets/{vs_id}").json() == variant_set
    r = client.patch(
        f"/v1/variantsets/{vs_id}", params={"updateMask": "description"}, json={"description": "DeepVariant"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {**variant_set, "description": "DeepVariant"}
    assert_error(
        client.patch(f"/v1/variantsets/{vs_id}", params={"updateMask": "datasetId"}, json={}),
        400,
        "INVALID_ARGUMENT",
        "datasetId",
    )
    assert client.post("/v1/variantsets/search", json={"datasetIds": [dataset["id"]]}).json() == {
        "variantSets": [r.json()]
    }
    assert_error(
        client.post("/v1/variantsets/search", json={"datasetIds": [dataset["id"], dataset["id"]]}),
        400,
        "INVALID_ARGUMENT",
        "datasetIds",
    )
    cs = client.post("/v1/callsets", json={"variantSetIds": [vs_id]}).json()
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 200
    assert_error(client.get(f"/v1/callsets/{cs['id']}"), 404, "NOT_FOUND", cs["id"])
    assert client.post(f"/v1/datasets/{dataset['id']}:undelete", json={}).status_code == 200
    assert client.get(f"/v1/callsets/{cs['id']}").json() == cs
    assert client.delete(f"/v1/variantsets/{vs_id}").json() == {}
    assert_error(client.get(f"/v1/callsets/{cs['id']}"), 404, "NOT_FOUND", cs["id"])


def test_reference_sets_and_references(client, backend: Backend) -> None:
    rs = backend.reference_sets.create(
        [{"name": "chr1", "length": 4, "bases": "ACGT", "sourceAccessions": ["NC_000001.11"]}],
        assembly_id="GRCh38.test",
    )
    ref_id = rs["referenceIds"][0]
    assert client.get(f"/v1/referencesets/{rs['id']}").json() == rs
    ref = client.get(f"/v1/references/{ref_id}").json()
    assert ref["length"] == "4" and ref["name"] == "chr1"
    assert client.post("/v1/referencesets/search", json={"assemblyId": "grch38.t"}).json() == {
        "referenceSets": [rs]
    }
    found = client.post(
        "/v1/references/search", json={"accessions": ["NC_000001"], "referenceSetId": rs["id"]}
    )
    assert found.json() == {"references": [ref]}
    assert_error(client.get("/v1/referencesets/nope"), 404, "NOT_FOUND", "nope")
    assert_error(client.get("/v1/references/nope"), 404, "NOT_FOUND", "nope")
    assert client.post("/v1/references/search", json={"pageSize": 5000}).status_code == 400
