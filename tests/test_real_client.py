"""The real google-api-python-client, built from the served discovery document,
against a live uvicorn server."""

from __future__ import annotations

import pytest

pytest.importorskip("googleapiclient")
from google.auth.credentials import AnonymousCredentials  # noqa: E402
from googleapiclient.discovery import build  # noqa: E402
from googleapiclient.errors import HttpError  # noqa: E402


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

    patched = genomics.datasets().patch(datasetId=dataset_id, updateMask="name", body={"name": "second"}).execute()
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
    aset = genomics.annotationsets().create(
        body={"datasetId": dataset["id"], "referenceSetId": "grch38", "type": "GENE", "name": "genes"}
    ).execute()
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
    found = genomics.annotations().search(
        body={"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "150", "end": "400"}
    ).execute()
    assert [a["start"] for a in found["annotations"]] == ["200", "300"]

    batch = genomics.annotations().batchCreate(
        body={
            "annotations": [
                {"annotationSetId": aset["id"], "referenceName": "chr2", "start": "1", "end": "2"},
                {"annotationSetId": aset["id"], "referenceName": "chr2", "start": "9", "end": "2"},
            ]
        }
    ).execute()
    assert "annotation" in batch["entries"][0]
    assert batch["entries"][1]["status"]["code"] == 3  # INVALID_ARGUMENT, the others still created


def test_errors_reach_the_client_as_google_errors(genomics):
    with pytest.raises(HttpError) as info:
        genomics.datasets().get(datasetId="missing-id").execute()
    assert info.value.status_code == 404
    assert "missing-id" in info.value.reason
