"""Annotation sets and annotations through the app: routes, handlers, wire format, errors."""

from __future__ import annotations

from typing import Any

import pytest
from envelopes import assert_error

from mockserver.backend.public_references import GRCH38


@pytest.fixture
def dataset(client) -> dict[str, Any]:
    return client.post("/v1/datasets", json={"projectId": "p1"}).json()


@pytest.fixture
def aset(client, dataset) -> dict[str, Any]:
    r = client.post(
        "/v1/annotationsets",
        json={"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENE", "name": "Genes"},
    )
    assert r.status_code == 200, r.text
    return r.json()


def ann(set_id: str, start: Any = "10", end: Any = "20", ref: str = "chr1", **fields: Any) -> dict[str, Any]:
    return {"annotationSetId": set_id, "referenceName": ref, "start": start, "end": end, **fields}



# -- annotation sets ------------------------------------------------------------------


def test_annotation_set_lifecycle(client, dataset, aset) -> None:
    assert client.get(f"/v1/annotationsets/{aset['id']}").json() == aset
    r = client.put(
        f"/v1/annotationsets/{aset['id']}",
        params={"updateMask": "name,source_uri"},
        json={"name": "Renamed", "sourceUri": "gs://b/genes.gff"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {**aset, "name": "Renamed", "sourceUri": "gs://b/genes.gff"}
    found = client.post("/v1/annotationsets/search", json={"datasetIds": [dataset["id"]], "name": "renam"})
    assert found.json() == {"annotationSets": [r.json()]}
    assert client.delete(f"/v1/annotationsets/{aset['id']}").json() == {}
    assert_error(client.get(f"/v1/annotationsets/{aset['id']}"), 404, "NOT_FOUND", aset["id"])


def test_annotation_set_errors(client, dataset, aset) -> None:
    assert_error(
        client.post("/v1/annotationsets", json={"datasetId": dataset["id"]}),
        400,
        "INVALID_ARGUMENT",
        "referenceSetId",
    )
    r = client.put(f"/v1/annotationsets/{aset['id']}", params={"updateMask": "type"}, json={"type": "GENE"})
    assert_error(r, 400, "INVALID_ARGUMENT", "type")
    assert_error(client.post("/v1/annotationsets/search", json={}), 400, "INVALID_ARGUMENT", "datasetIds")
    assert_error(client.get("/v1/annotationsets/nope"), 404, "NOT_FOUND", "nope")


# -- annotations ----------------------------------------------------------------------


def test_annotation_lifecycle_and_int64_strings(client, aset) -> None:
    r = client.post("/v1/annotations", json=ann(aset["id"], 5, "7", name="g"))
    assert r.status_code == 200, r.text
    created = r.json()
    assert (created["start"], created["end"], created["type"]) == ("5", "7", "GENE")
    assert '"start": "5"' in r.text
    assert client.get(f"/v1/annotations/{created['id']}").json() == created
    r = client.put(f"/v1/annotations/{created['id']}", params={"updateMask": "name"}, json={"name": "h"})
    assert r.json() == {**created, "name": "h"}
    r = client.put(f"/v1/annotations/{created['id']}", params={"updateMask": "start"}, json={"start": "1"})
    assert_error(r, 400, "INVALID_ARGUMENT", "start")
    assert client.delete(f"/v1/annotations/{created['id']}").json() == {}
    assert_error(client.get(f"/v1/annotations/{created['id']}"), 404, "NOT_FOUND", created["id"])


def test_annotation_create_errors_name_the_field(client, aset) -> None:
    r = client.post("/v1/annotations", json=ann(aset["id"], "0", "100000001"))
    assert_error(r, 400, "INVALID_ARGUMENT", "annotation.end - annotation.start must be at most 100000000")
    r = client.post("/v1/annotations", json=ann(aset["id"], type="VARIANT"))
    assert_error(r, 400, "INVALID_ARGUMENT", "type")
    r = client.post("/v1/annotations", json={"annotationSetId": aset["id"]})
    assert_error(r, 400, "INVALID_ARGUMENT", "referenceName")
    r = client.post("/v1/annotations", json=ann(aset["id"], start="ten"))
    assert_error(r, 400, "INVALID_ARGUMENT", "start")
    assert_error(client.post("/v1/annotations", json=ann("nope")), 404, "NOT_FOUND", "nope")


def test_batch_create_entries(client, aset) -> None:
    body = {"requestId": "once", "annotations": [ann(aset["id"]), ann(aset["id"], "9", "3")]}
    r = client.post("/v1/annotations:batchCreate", json=body)
    assert r.status_code == 200, r.text
    first, second = r.json()["entries"]
    assert first["annotation"]["annotationSetId"] == aset["id"]
    assert second["status"]["code"] == 3 and "annotations[1].end" in second["status"]["message"]
    assert client.post("/v1/annotations:batchCreate", json=body).json() == r.json()
    found = client.post("/v1/annotations/search", json={"annotationSetIds": [aset["id"]]}).json()
    assert [a["id"] for a in found["annotations"]] == [first["annotation"]["id"]]
    r = client.post("/v1/annotations:batchCreate", json={"annotations": [ann(aset["id"])] * 4097})
    # the schema's maxItems answers before the backend; either way a 400 about `annotations`
    assert r.status_code == 400 and r.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert "annotations" in r.json()["error"]["message"][:200]


def test_search_pages_over_http(client, aset) -> None:
    client.post(
        "/v1/annotations:batchCreate",
        json={
            "annotations": [
                ann(aset["id"], str(i), str(i + 5), ref=("chr3", "chr1", "chr2")[i % 3]) for i in range(25)
            ]
        },
    )
    seen: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):  # bounded: a cursor that never advances fails, not hangs
        body: dict[str, Any] = {"annotationSetIds": [aset["id"]], "pageSize": 4}
        if token:
            body["pageToken"] = token
        page = client.post("/v1/annotations/search", json=body).json()
        seen.extend(page["annotations"])
        token = page.get("nextPageToken")
        if not token:
            break
    else:
        raise AssertionError("paging did not terminate")
    keys = [(a["referenceName"], int(a.get("start", "0")), a["id"]) for a in seen]
    assert len(keys) == 25 and keys == sorted(keys)
    r = client.post(
        "/v1/annotations/search",
        json={"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "3", "end": "8"},
    )
    assert [a["start"] for a in r.json()["annotations"]] == ["1", "4", "7"]
    first = client.post(
        "/v1/annotations/search", json={"annotationSetIds": [aset["id"]], "pageSize": 1}
    ).json()
    r = client.post(
        "/v1/annotations/search",
        json={"annotationSetIds": [aset["id"]], "referenceName": "chr1", "pageToken": first["nextPageToken"]},
    )
    assert_error(r, 400, "INVALID_ARGUMENT", "invalid page token")
    r = client.post("/v1/annotations/search", json={"annotationSetIds": [aset["id"]], "start": "5"})
    assert_error(r, 400, "INVALID_ARGUMENT", "referenceName")


def test_deleted_dataset_hides_annotations(client, dataset, aset) -> None:
    created = client.post("/v1/annotations", json=ann(aset["id"])).json()
    client.delete(f"/v1/datasets/{dataset['id']}")
    assert client.get(f"/v1/annotations/{created['id']}").status_code == 404
    assert client.get(f"/v1/annotationsets/{aset['id']}").status_code == 404
    client.post(f"/v1/datasets/{dataset['id']}:undelete", json={})
    assert client.get(f"/v1/annotations/{created['id']}").json() == created
