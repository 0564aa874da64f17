"""Variants, variant set export and reference bases through the app.

Routes (colon verbs next to ids), handler wiring, parameter names, wire format and Google
error bodies; the rules themselves are tested at the backend level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from envelopes import assert_error
from vcffiles import write_vcf

from mockserver.backend import Backend


@pytest.fixture
def backend(clock, tmp_path: Path) -> Backend:
    backend = Backend(clock=clock, id_seed=77, storage_root=tmp_path / "storage")
    backend.operations.mode = "immediate"
    return backend


@pytest.fixture
def variant_set(client) -> dict[str, Any]:
    dataset = client.post("/v1/datasets", json={"projectId": "p1"}).json()
    r = client.post("/v1/variantsets", json={"datasetId": dataset["id"]})
    assert r.status_code == 200, r.text
    return r.json()



def test_variant_lifecycle(client, variant_set) -> None:
    body = {
        "variantSetId": variant_set["id"],
        "referenceName": "chr1",
        "start": 41,
        "referenceBases": "AC",
        "alternateBases": ["A"],
        "quality": 12.5,
        "info": {"DP": ["3"]},
    }
    r = client.post("/v1/variants", json=body)
    assert r.status_code == 200, r.text
    made = r.json()
    assert (made["start"], made["end"], made["created"].isdigit()) == ("41", "43", True)  # int64 as strings
    assert client.get(f"/v1/variants/{made['id']}").json() == made
    r = client.patch(
        f"/v1/variants/{made['id']}", params={"updateMask": "info"}, json={"info": {"DP": ["4"]}}
    )
    assert r.status_code == 200 and r.json()["info"] == {"DP": ["4"]}
    assert_error(
        client.patch(f"/v1/variants/{made['id']}", params={"updateMask": "quality"}, json={}),
        400,
        "INVALID_ARGUMENT",
        "quality",
    )
    assert client.delete(f"/v1/variants/{made['id']}").json() == {}
    assert_error(client.get(f"/v1/variants/{made['id']}"), 404, "NOT_FOUND", made["id"])


def test_unknown_fields_and_wrong_types_are_400(client, variant_set) -> None:
    base = {"variantSetId": variant_set["id"], "referenceName": "chr1", "start": "1", "referenceBases": "A"}
    assert_error(client.post("/v1/variants", json={**base, "color": "red"}), 400, "INVALID_ARGUMENT", "color")
    assert_error(client.post("/v1/variants", json={**base, "start": "one"}), 400, "INVALID_ARGUMENT", "start")
    r = client.post(
        "/v1/variants/search",
        json={"variantSetIds": [variant_set["id"]], "referenceName": "chr1", "maxCalls": 20_000},
    )
    assert_error(r, 400, "INVALID_ARGUMENT", "maxCalls")


def test_search_pages_through_http(client, variant_set) -> None:
    for start in (30, 10, 20):
        client.post(
            "/v1/variants",
            json={
                "variantSetId": variant_set["id"],
                "referenceName": "chr1",
                "start": str(start),
                "referenceBases": "A",
            },
        )
    query = {"variantSetIds": [variant_set["id"]], "referenceName": "chr1", "pageSize": 2}
    first = client.post("/v1/variants/search", json=query).json()
    second = client.post("/v1/variants/search", json={**query, "pageToken": first["nextPageToken"]}).json()
    assert [v["start"] for v in first["variants"] + second["variants"]] == ["10", "20", "30"]
    assert "nextPageToken" not in second


def test_import_merge_and_export_through_http(client, variant_set, backend: Backend) -> None:
    write_vcf(backend.storage.root / "bucket" / "calls.vcf")
    r = client.post(
        "/v1/variants:import",
        json={"variantSetId": variant_set["id"], "sourceUris": ["gs://bucket/calls.vcf"]},
    )
    assert r.status_code == 200, r.text
    operation = client.get(f"/v1/{r.json()['name']}").json()
    assert operation["done"] and operation["response"]["callSetIds"], operation
    assert operation["metadata"]["request"]["@type"].endswith("ImportVariantsRequest")
    r = client.post(
        "/v1/variants:merge",
        json={
            "variantSetId": variant_set["id"],
            "variants": [{"referenceName": "chr9", "start": "1", "referenceBases": "A"}],
        },
    )
    assert (r.status_code, r.json()) == (200, {})
    (backend.bigquery.root / "p1" / "out").mkdir(parents=True)
    r = client.post(
        f"/v1/variantsets/{variant_set['id']}:export",
        json={"projectId": "p1", "bigqueryDataset": "out", "bigqueryTable": "t"},
    )
    assert r.status_code == 200 and r.json()["done"] and "error" not in r.json(), r.text
    assert len((backend.bigquery.root / "p1" / "out" / "t.jsonl").read_text().splitlines()) == 6
    bounds = client.get(f"/v1/variantsets/{variant_set['id']}").json()["referenceBounds"]
    assert {"referenceName": "chr9", "upperBound": "1"} in bounds
    r = client.post(
        f"/v1/variantsets/{variant_set['id']}:export",
        json={"projectId": "p1", "bigqueryDataset": "absent", "bigqueryTable": "t"},
    )
    assert_error(r, 404, "NOT_FOUND", "bigqueryDataset")


def test_reference_bases_through_http(client, backend: Backend) -> None:
    created = backend.reference_sets.create([{"name": "chr1", "length": 12, "bases": "ACGTACGTACGT"}])
    reference_id = created["referenceIds"][0]
    r = client.get(f"/v1/references/{reference_id}/bases", params={"start": "4", "end": "10", "pageSize": 4})
    assert r.status_code == 200, r.text
    page = r.json()
    assert (page["offset"], page["sequence"]) == ("4", "ACGT")
    r = client.get(f"/v1/references/{reference_id}/bases", params={"end": "13"})
    assert_error(r, 400, "INVALID_ARGUMENT", "end 13 is past the end")
    bare = backend.reference_sets.create([{"name": "chr2", "length": 5}])["referenceIds"][0]
    assert_error(client.get(f"/v1/references/{bare}/bases"), 400, "FAILED_PRECONDITION", "no bases")
    assert_error(client.get("/v1/references/unknown/bases"), 404, "NOT_FOUND", "unknown")
