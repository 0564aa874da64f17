"""How a project tests its Genomics client code with the genomics-mock pytest plugin.

The plugin is registered when genomics-mock is installed; these fixtures need no set-up.
Run with ``pytest examples/`` (or against a running server: ``--genomics-mock-url URL``).
"""

from __future__ import annotations


def test_create_and_list_datasets(genomics_client):
    created = genomics_client.post("/v1/datasets", json={"projectId": "my-project", "name": "trial"})
    assert created.status_code == 200
    listed = genomics_client.get("/v1/datasets", params={"projectId": "my-project"}).json()
    assert [d["name"] for d in listed["datasets"]] == ["trial"]


def test_each_test_starts_empty(genomics_client):
    listed = genomics_client.get("/v1/datasets", params={"projectId": "my-project"}).json()
    assert listed == {}  # proto3 JSON: an empty list is omitted


def test_permissions_follow_roles(genomics_mock, genomics_client):
    dataset = genomics_mock.create_dataset(project_id="test-project", name="shared")
    genomics_mock.add_principal("alice", roles=["viewer"], project_id="test-project")
    alice = genomics_client.as_user("alice")
    assert alice.get(f"/v1/datasets/{dataset['id']}").status_code == 200
    denied = alice.delete(f"/v1/datasets/{dataset['id']}")
    assert denied.status_code == 403 and denied.json()["error"]["status"] == "PERMISSION_DENIED"


def test_annotation_search_with_seeded_data(genomics_mock, genomics_client):
    annotation_set = genomics_mock.create_annotation_set(n_annotations=20)
    found = genomics_client.post(
        "/v1/annotations/search",
        json={"annotationSetIds": [annotation_set["id"]], "referenceName": "chr1", "start": 0, "end": 500},
    ).json()
    assert len(found["annotations"]) == 5  # starts 0, 100, 200, 300, 400


def test_deleted_dataset_expires_after_the_grace_period(genomics_mock, genomics_client):
    dataset = genomics_mock.create_dataset()
    genomics_client.delete(f"/v1/datasets/{dataset['id']}")
    genomics_mock.clock.advance(days=8)  # no sleeping: the server reads this clock
    assert genomics_client.post(f"/v1/datasets/{dataset['id']}:undelete").status_code == 404


def test_retry_logic_against_injected_faults(genomics_mock, genomics_service):
    genomics_mock.create_dataset(name="flaky")
    genomics_mock.add_fault(operationId="genomics.datasets.list", action="unavailable", count=1)
    result = genomics_service.datasets().list(projectId="test-project").execute(num_retries=2)
    assert [d["name"] for d in result["datasets"]] == ["flaky"]
    statuses = [r["status"] for r in genomics_mock.requests() if r["operationId"] == "genomics.datasets.list"]
    assert statuses == [503, 200]
