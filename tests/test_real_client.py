"""The real google-api-python-client, built from the served discovery document,
against a live uvicorn server."""

from __future__ import annotations

import pytest

pytest.importorskip("googleapiclient")
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from googleapiclient.discovery import build  # noqa: E402
from googleapiclient.errors import HttpError  # noqa: E402

from mockserver.backend.public_references import GRCH38


@pytest.fixture
def genomics(live_server):
    return build(
        "genomics",
        "v1",
        discoveryServiceUrl=live_server.url + "/$discovery/rest?version={apiVersion}",
        credentials=AnonymousCredentials(),
        cache_discovery=False,
    )


def test_dataset_lifecycle(genomics, clock):
    created = genomics.datasets().create(body={"projectId": "proj", "name": "first"}).execute()
    assert created["name"] == "first" and created["projectId"] == "proj"
    dataset_id = created["id"]
    assert genomics.datasets().get(datasetId=dataset_id).execute() == created

    patched = (
        genomics.datasets().patch(datasetId=dataset_id, updateMask="name", body={"name": "second"}).execute()
    )
    assert patched["name"] == "second"

    listed = genomics.datasets().list(projectId="proj").execute()
    assert [d["id"] for d in listed["datasets"]] == [dataset_id]

    assert genomics.datasets().delete(datasetId=dataset_id).execute() == {}
    with pytest.raises(HttpError) as info:
        genomics.datasets().get(datasetId=dataset_id).execute()
    assert info.value.status_code == 404

    restored = genomics.datasets().undelete(datasetId=dataset_id, body={}).execute()
    assert restored["name"] == "second"

    genomics.datasets().delete(datasetId=dataset_id).execute()
    clock.advance(days=8)
    with pytest.raises(HttpError) as info:
        genomics.datasets().undelete(datasetId=dataset_id, body={}).execute()
    assert info.value.status_code == 404


def test_list_pages_with_the_client_helper(genomics):
    ids = {genomics.datasets().create(body={"projectId": "paged"}).execute()["id"] for _ in range(7)}
    request = genomics.datasets().list(projectId="paged", pageSize=3)
    seen = []
    while request is not None:
        response = request.execute()
        seen += [d["id"] for d in response.get("datasets", [])]
        request = genomics.datasets().list_next(request, response)
    assert sorted(seen) == sorted(ids) and len(seen) == 7


def test_annotations_create_and_search(genomics):
    dataset = genomics.datasets().create(body={"projectId": "proj"}).execute()
    aset = (
        genomics.annotationsets()
        .create(
            body={"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENE", "name": "genes"}
        )
        .execute()
    )
    for start in (300, 100, 200):
        genomics.annotations().create(
            body={
                "annotationSetId": aset["id"],
                "referenceName": "chr1",
                "start": str(start),
                "end": str(start + 50),
                "type": "GENE",
            }
        ).execute()
    found = (
        genomics.annotations()
        .search(
            body={"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "150", "end": "400"}
        )
        .execute()
    )
    assert [a["start"] for a in found["annotations"]] == ["200", "300"]

    batch = (
        genomics.annotations()
        .batchCreate(
            body={
                "annotations": [
                    {"annotationSetId": aset["id"], "referenceName": "chr2", "start": "1", "end": "2"},
                    {"annotationSetId": aset["id"], "referenceName": "chr2", "start": "9", "end": "2"},
                ]
            }
        )
        .execute()
    )
    assert "annotation" in batch["entries"][0]
    assert batch["entries"][1]["status"]["code"] == 3  # INVALID_ARGUMENT, the others still created


def test_errors_reach_the_client_as_google_errors(genomics):
    with pytest.raises(HttpError) as info:
        genomics.datasets().get(datasetId="missing-id").execute()
    assert info.value.status_code == 404
    assert "missing-id" in info.value.reason


# -- issue 4's resources and the resource-name methods, through the real client -------------


@pytest.fixture
def backend(clock, tmp_path):
    """The shared backend fixture, with its object storage under tmp_path."""
    from mockserver.backend import Backend

    return Backend(clock=clock, id_seed=1234, storage_root=tmp_path)


@pytest.fixture
def storage(backend):
    return backend.storage.root  # gs://bucket/x.bam is <root>/bucket/x.bam


def _wait(genomics, operation: dict) -> dict:
    import time

    deadline = time.monotonic() + 30
    while not operation.get("done"):
        assert time.monotonic() < deadline, operation
        time.sleep(0.05)
        operation = genomics.operations().get(name=operation["name"]).execute()
    return operation


def test_call_sets_end_to_end(genomics):
    dataset = genomics.datasets().create(body={"projectId": "proj"}).execute()
    vset = genomics.variantsets().create(body={"datasetId": dataset["id"], "name": "cohort"}).execute()
    made = [
        genomics.callsets().create(body={"variantSetIds": [vset["id"]], "name": f"sample-{i}"}).execute()
        for i in range(3)
    ]
    assert all(cs["created"].isdigit() for cs in made)  # int64 milliseconds as a string
    got = genomics.callsets().get(callSetId=made[0]["id"]).execute()
    assert got == made[0]
    patched = (
        genomics.callsets()
        .patch(callSetId=made[0]["id"], updateMask="name", body={"name": "renamed"})
        .execute()
    )
    assert patched["name"] == "renamed"
    found = genomics.callsets().search(body={"variantSetIds": [vset["id"]], "name": "sample"}).execute()
    assert sorted(cs["name"] for cs in found["callSets"]) == ["sample-1", "sample-2"]
    genomics.callsets().delete(callSetId=made[1]["id"]).execute()
    with pytest.raises(HttpError) as info:
        genomics.callsets().get(callSetId=made[1]["id"]).execute()
    assert info.value.status_code == 404


def test_read_group_sets_coverage_and_export_end_to_end(genomics, storage):
    import pysam
    import samfiles

    samfiles.write_toy(storage / "bucket" / "toy.bam")
    dataset = genomics.datasets().create(body={"projectId": "proj"}).execute()
    operation = (
        genomics.readgroupsets()
        .import_(body={"datasetId": dataset["id"], "sourceUris": ["gs://bucket/toy.bam"]})
        .execute()
    )
    assert operation["name"].startswith("operations/")
    operation = _wait(genomics, operation)
    assert "error" not in operation, operation
    set_ids = operation["response"]["readGroupSetIds"]
    assert set_ids

    listed = genomics.operations().list(name="operations", filter="projectId = proj").execute()
    assert operation["name"] in [op["name"] for op in listed["operations"]]

    found = genomics.readgroupsets().search(body={"datasetIds": [dataset["id"]]}).execute()
    assert sorted(rgs["id"] for rgs in found["readGroupSets"]) == sorted(set_ids)
    first = genomics.readgroupsets().get(readGroupSetId=set_ids[0]).execute()
    renamed = (
        genomics.readgroupsets()
        .patch(readGroupSetId=first["id"], updateMask="name", body={"name": "renamed"})
        .execute()
    )
    assert renamed["name"] == "renamed"

    coverage = (
        genomics.readgroupsets()
        .coveragebuckets()
        .list(readGroupSetId=first["id"], referenceName="ref", targetBucketWidth="2048")
        .execute()
    )
    assert coverage["bucketWidth"] == "2048"
    assert all(b["meanCoverage"] > 0 for b in coverage["coverageBuckets"])
    # int64 query parameters given as Python ints, as client code writes them: the discovery
    # document has no pattern on them, so the client sends them instead of refusing them
    ranged = (
        genomics.readgroupsets()
        .coveragebuckets()
        .list(readGroupSetId=first["id"], referenceName="ref", start=0, end=45, targetBucketWidth=2048)
        .execute()
    )
    assert ranged["coverageBuckets"] == coverage["coverageBuckets"]

    export = (
        genomics.readgroupsets()
        .export(readGroupSetId=first["id"], body={"projectId": "proj", "exportUri": "gs://bucket/out.bam"})
        .execute()
    )
    export = _wait(genomics, export)
    assert "error" not in export, export
    with pysam.AlignmentFile(str(storage / "bucket" / "out.bam"), "rb") as bam:
        assert bam.header.to_dict()["HD"]["SO"] == "coordinate"
        assert sum(1 for _ in bam.fetch(until_eof=True)) > 0


def test_iam_methods_take_the_resource_name(genomics):
    dataset = genomics.datasets().create(body={"projectId": "proj"}).execute()
    resource = f"datasets/{dataset['id']}"
    policy = genomics.datasets().getIamPolicy(resource=resource, body={}).execute()
    new = (
        genomics.datasets()
        .setIamPolicy(
            resource=resource,
            body={
                "policy": {
                    "bindings": [{"role": "roles/viewer", "members": ["user:bob@example.com"]}],
                    "etag": policy.get("etag"),
                }
            },
        )
        .execute()
    )
    assert new["bindings"][0]["members"] == ["user:bob@example.com"]
    held = (
        genomics.datasets()
        .testIamPermissions(resource=resource, body={"permissions": ["genomics.datasets.get"]})
        .execute()
    )
    assert held == {"permissions": ["genomics.datasets.get"]}


def test_variants_import_search_merge_export_and_bases_end_to_end(genomics, backend, storage):
    """Every method issue 16 added, through google-api-python-client built from the served document."""
    import json

    import vcffiles

    vcffiles.write_vcf(storage / "bucket" / "calls.vcf.gz")
    toy = backend.reference_sets.create([{"name": "chrS", "length": 8, "bases": "acgtACGT"}])
    (backend.bigquery.root / "proj" / "exports").mkdir(parents=True)

    dataset = genomics.datasets().create(body={"projectId": "proj"}).execute()
    vset = genomics.variantsets().create(body={"datasetId": dataset["id"]}).execute()
    operation = genomics.variants().import_(
        body={"variantSetId": vset["id"], "sourceUris": ["gs://bucket/calls.vcf.gz"]}
    ).execute()
    operation = _wait(genomics, operation)
    assert "error" not in operation, operation
    call_set_ids = operation["response"]["callSetIds"]
    assert len(call_set_ids) == 2

    page = genomics.variants().search(
        body={"variantSetIds": [vset["id"]], "referenceName": "chr1", "pageSize": 2}
    ).execute()
    assert [v["start"] for v in page["variants"]] == ["99", "199"] and page["nextPageToken"]
    rest = genomics.variants().search(
        body={"variantSetIds": [vset["id"]], "referenceName": "chr1", "pageSize": 2,
              "pageToken": page["nextPageToken"]}
    ).execute()
    assert [v["start"] for v in rest["variants"]] == ["199", "1499"]

    made = genomics.variants().create(body={
        "variantSetId": vset["id"], "referenceName": "chr1", "start": "5", "referenceBases": "C",
        "alternateBases": ["T"], "calls": [{"callSetId": call_set_ids[0], "genotype": [0, 1]}],
    }).execute()
    assert genomics.variants().get(variantId=made["id"]).execute() == made
    patched = genomics.variants().patch(
        variantId=made["id"], updateMask="names", body={"names": ["rs9"]}
    ).execute()
    assert patched["names"] == ["rs9"] and "calls" not in patched
    assert genomics.variants().merge(body={"variantSetId": vset["id"], "variants": [{
        "referenceName": "chr1", "start": "5", "referenceBases": "C", "alternateBases": ["T"],
        "calls": [{"callSetId": call_set_ids[1], "genotype": [1, 1]}],
    }]}).execute() == {}
    merged = genomics.variants().get(variantId=made["id"]).execute()
    assert [c["callSetId"] for c in merged["calls"]] == call_set_ids

    export = genomics.variantsets().export(variantSetId=vset["id"], body={
        "projectId": "proj", "bigqueryDataset": "exports", "bigqueryTable": "calls",
    }).execute()
    assert "error" not in _wait(genomics, export)
    table = (backend.bigquery.root / "proj" / "exports" / "calls.jsonl").read_text().splitlines()
    assert [json.loads(line)["variant_id"] for line in table][0] == made["id"]

    genomics.variants().delete(variantId=made["id"]).execute()
    with pytest.raises(HttpError) as info:
        genomics.variants().get(variantId=made["id"]).execute()
    assert info.value.status_code == 404

    reference = genomics.references().search(body={"referenceSetId": toy["id"]}).execute()["references"][0]
    # int64 query parameters as strings, as the existing coverage call passes them
    listed = genomics.references().bases().list(
        referenceId=reference["id"], start="2", end="7", pageSize=3
    ).execute()
    assert listed == {"offset": "2", "sequence": "GTA", "nextPageToken": listed["nextPageToken"]}
    following = genomics.references().bases().list(
        referenceId=reference["id"], start="2", end="7", pageSize=3, pageToken=listed["nextPageToken"]
    ).execute()
    assert following == {"offset": "5", "sequence": "CG"}
