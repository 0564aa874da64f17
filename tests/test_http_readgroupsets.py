"""Read group sets, reads, coverage and operations over HTTP (handler wiring, query types)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import samfiles
from starlette.testclient import TestClient

from mockserver.backend import Backend


@pytest.fixture
def imported(backend: Backend, client: TestClient) -> dict[str, Any]:
    samfiles.write_toy(backend.storage.root / "bk" / "a.bam")
    ds = client.post("/v1/datasets", json={"projectId": "proj"}).json()["id"]
    resp = client.post(
        "/v1/readgroupsets:import",
        json={"datasetId": ds, "sourceUris": ["gs://bk/a.bam"], "partitionStrategy": "MERGE_ALL"},
    )
    assert resp.status_code == 200, resp.text
    name = resp.json()["name"]
    for _ in range(200):  # background mode: poll like a client would
        op = client.get(f"/v1/{name}").json()
        if op.get("done"):
            break
        time.sleep(0.02)
    assert op["done"] and "error" not in op, op
    return {"ds": ds, "op": op, "set": op["response"]["readGroupSetIds"][0]}


def test_import_poll_and_list_operations(client: TestClient, imported: dict[str, Any]) -> None:
    resp = client.get("/v1/operations", params={"filter": "projectId = proj AND status = SUCCESS"})
    assert resp.status_code == 200
    assert [op["name"] for op in resp.json()["operations"]] == [imported["op"]["name"]]
    bad = client.get("/v1/operations", params={"filter": "projectId = proj AND colour = red"})
    assert bad.status_code == 400 and "filter" in bad.json()["error"]["message"]
    done = client.post(f"/v1/{imported['op']['name']}:cancel", json={})
    assert done.status_code == 200 and done.json() == {}


def test_get_patch_search(client: TestClient, imported: dict[str, Any]) -> None:
    set_id = imported["set"]
    assert client.get(f"/v1/readgroupsets/{set_id}").json()["name"] == "sampleA"
    patched = client.patch(f"/v1/readgroupsets/{set_id}", params={"updateMask": "name"}, json={"name": "n2"})
    assert patched.status_code == 200 and patched.json()["name"] == "n2"
    found = client.post(
        "/v1/readgroupsets/search", json={"datasetIds": [imported["ds"]], "name": "n2"}
    ).json()
    assert [s["id"] for s in found["readGroupSets"]] == [set_id]


def test_reads_search_and_coverage(client: TestClient, imported: dict[str, Any]) -> None:
    set_id = imported["set"]
    reads = client.post(
        "/v1/reads/search",
        json={"readGroupSetIds": [set_id], "referenceName": "ref", "start": "30", "end": "31"},
    ).json()["alignments"]
    assert {r["fragmentName"] for r in reads} >= {"r004"}
    cov = client.get(f"/v1/readgroupsets/{set_id}/coveragebuckets", params={"targetBucketWidth": "100"})
    assert cov.status_code == 200 and cov.json()["bucketWidth"] == "2048"
    assert [b["range"]["referenceName"] for b in cov.json()["coverageBuckets"]] == ["ref", "ref2"]
    bad = client.get(f"/v1/readgroupsets/{set_id}/coveragebuckets", params={"start": "5"})
    assert bad.status_code == 400 and "referenceName" in bad.json()["error"]["message"]


def test_export_then_delete(backend: Backend, client: TestClient, imported: dict[str, Any]) -> None:
    set_id = imported["set"]
    op = client.post(
        f"/v1/readgroupsets/{set_id}:export", json={"projectId": "proj", "exportUri": "gs://out/a.bam"}
    ).json()
    backend.operations.wait(op["name"])
    assert (backend.storage.root / "out" / "a.bam").is_file()
    assert client.delete(f"/v1/readgroupsets/{set_id}").status_code == 200
    assert client.get(f"/v1/readgroupsets/{set_id}").status_code == 404
