"""Variant sets: create/get/patch/delete/search rules, soft delete, permissions."""

from __future__ import annotations

from typing import Any

import pytest
from iam_spy import record_authorize

from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.public_references import GRCH37
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
VIEWER = Principal("user:viewer@example.com")
STRANGER = Principal("user:stranger@example.com")

#: paging loops stop here, so a cursor that never advances fails instead of hanging
MAX_PAGES = 1000


def make(backend: Backend, dataset_id: str, **fields: Any) -> dict[str, Any]:
    return backend.variant_sets.create(OWNER, {"datasetId": dataset_id, **fields})


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


# -- create ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, None, {"datasetId": ""}, {"name": "x"}])
def test_create_requires_dataset_id(backend: Backend, body: Any) -> None:
    err = error(backend.variant_sets.create, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT")
    assert "datasetId" in err.message


def test_create_rejects_unknown_and_deleted_dataset(backend: Backend, dataset: dict[str, Any]) -> None:
    err = error(make, backend, "999")
    assert err.code == 404 and "'999'" in err.message
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(make, backend, dataset["id"]).code == 404


def test_create_assigns_id_and_ignores_server_fields(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(
        backend,
        dataset["id"],
        id="mine",
        name="vs",
        description="d",
        referenceSetId=GRCH37,
        referenceBounds=[{"referenceName": "1", "upperBound": "5"}],
        metadata=[{"key": "INFO", "id": "DP", "type": "INTEGER", "number": "1", "description": "depth"}],
    )
    assert created["id"] != "mine" and ":" not in created["id"] and "/" not in created["id"]
    assert "referenceBounds" not in created
    assert created["referenceSetId"] == GRCH37  # a built-in public set
    assert created == backend.variant_sets.get(OWNER, created["id"])
    assert created["metadata"] == [
        {"key": "INFO", "id": "DP", "type": "INTEGER", "number": "1", "description": "depth"}
    ]


def test_create_omits_defaults(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"], name="", metadata=[{"key": "k", "type": "TYPE_UNSPECIFIED"}])
    assert set(created) == {"id", "datasetId", "metadata"}
    assert created["metadata"] == [{"key": "k"}]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("nope", "metadata"),
        (["nope"], "metadata[0]"),
        ([{"key": "k", "value": "v", "info": {"a": ["b"]}}], "metadata[0]"),
        ([{"key": "k"}, {"type": "Integer"}], "metadata[1].type"),
        ([{"key": "k", "info": {"a": "b"}}], "metadata[0].info.a"),
        ([{"key": 5}], "metadata[0].key"),
    ],
)
def test_create_validates_metadata(
    backend: Backend, dataset: dict[str, Any], metadata: Any, field: str
) -> None:
    err = error(make, backend, dataset["id"], metadata=metadata)
    assert err.code == 400 and field in err.message
    assert backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]}) == {}


@pytest.mark.parametrize("field", ["name", "description", "referenceSetId"])
def test_create_rejects_non_string_fields(backend: Backend, dataset: dict[str, Any], field: str) -> None:
    err = error(make, backend, dataset["id"], **{field: 3})
    assert err.code == 400 and field in err.message


# -- get / patch ------------------------------------------------------------------------


def test_get_unknown_is_404_naming_the_id(backend: Backend) -> None:
    err = error(backend.variant_sets.get, OWNER, "123")
    assert err.code == 404 and "'123'" in err.message and "variantSetId" in err.message


def test_patch_with_mask_changes_only_masked_fields(backend: Backend, dataset: dict[str, Any]) -> None:
    vs = make(backend, dataset["id"], name="a", description="d")
    patched = backend.variant_sets.patch(OWNER, vs["id"], {"name": "b", "description": "x"}, "name")
    assert (patched["name"], patched["description"]) == ("b", "d")
    assert backend.variant_sets.get(OWNER, vs["id"]) == patched


def test_patch_accepts_all_three_mutable_fields_and_snake_case(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    vs = make(backend, dataset["id"], name="a")
    body = {"name": "b", "description": "d", "metadata": [{"key": "k", "value": "v"}]}
    patched = backend.variant_sets.patch(OWNER, vs["id"], body, "metadata,name,description")
    assert {k: patched[k] for k in body} == body


@pytest.mark.parametrize(
    "mask", ["referenceSetId", "datasetId", "id", "referenceBounds", "name,reference_set_id"]
)
def test_patch_rejects_immutable_fields_naming_them(
    backend: Backend, dataset: dict[str, Any], mask: str
) -> None:
    vs = make(backend, dataset["id"], name="a")
    err = error(backend.variant_sets.patch, OWNER, vs["id"], {"name": "b"}, mask)
    assert err.code == 400 and mask.split(",")[-1] in err.message
    assert backend.variant_sets.get(OWNER, vs["id"])["name"] == "a"


def test_patch_without_mask_updates_all_mutable_fields(backend: Backend, dataset: dict[str, Any]) -> None:
    vs = make(backend, dataset["id"], name="a", description="d", metadata=[{"key": "k"}])
    patched = backend.variant_sets.patch(
        OWNER, vs["id"], {"name": "b", "datasetId": "other", "referenceSetId": "r"}, None
    )
    assert patched["name"] == "b"
    assert "description" not in patched and "metadata" not in patched  # absent -> cleared
    assert patched["datasetId"] == dataset["id"] and "referenceSetId" not in patched


def test_patch_validates_metadata(backend: Backend, dataset: dict[str, Any]) -> None:
    vs = make(backend, dataset["id"])
    err = error(backend.variant_sets.patch, OWNER, vs["id"], {"metadata": [{"type": "BAD"}]}, "metadata")
    assert err.code == 400 and "metadata[0].type" in err.message


def test_patch_unknown_is_404(backend: Backend) -> None:
    assert error(backend.variant_sets.patch, OWNER, "nope", {"name": "x"}, "name").code == 404


# -- delete ---------------------------------------------------------------------------


def test_delete_is_irreversible_and_takes_call_sets(backend: Backend, dataset: dict[str, Any]) -> None:
    vs = make(backend, dataset["id"])
    keep = make(backend, dataset["id"])
    gone = backend.call_sets.create(OWNER, {"variantSetIds": [vs["id"]], "name": "a"})
    kept = backend.call_sets.create(OWNER, {"variantSetIds": [keep["id"]], "name": "a"})
    assert backend.variant_sets.delete(OWNER, vs["id"]) == {}
    assert error(backend.variant_sets.get, OWNER, vs["id"]).code == 404
    assert error(backend.variant_sets.delete, OWNER, vs["id"]).code == 404
    assert error(backend.call_sets.get, OWNER, gone["id"]).code == 404
    assert gone["id"] not in backend.call_sets._records  # dropped for good, not merely hidden
    assert backend.call_sets.get(OWNER, kept["id"]) == kept
    # not restored by a dataset delete/undelete cycle either
    backend.datasets.delete(OWNER, dataset["id"])
    backend.datasets.undelete(OWNER, dataset["id"])
    assert error(backend.variant_sets.get, OWNER, vs["id"]).code == 404
    assert error(backend.call_sets.get, OWNER, gone["id"]).code == 404
    listed = backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]})["variantSets"]
    assert [v["id"] for v in listed] == [keep["id"]]


# -- soft delete of the dataset --------------------------------------------------------


def test_hidden_while_dataset_deleted_and_restored_on_undelete(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    vs = make(backend, dataset["id"], name="a")
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(backend.variant_sets.get, OWNER, vs["id"]).code == 404
    assert error(backend.variant_sets.patch, OWNER, vs["id"], {"name": "b"}, "name").code == 404
    assert error(backend.variant_sets.delete, OWNER, vs["id"]).code == 404
    err = error(backend.variant_sets.search, OWNER, {"datasetIds": [dataset["id"]]})
    assert err.code == 404 and "datasetIds" in err.message
    backend.datasets.undelete(OWNER, dataset["id"])
    assert backend.variant_sets.get(OWNER, vs["id"]) == vs


# -- search ---------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [None, [], ["a", "b"], "abc", [3]])
def test_search_needs_exactly_one_dataset_id(backend: Backend, ids: Any) -> None:
    err = error(backend.variant_sets.search, OWNER, {"datasetIds": ids})
    assert err.code == 400 and "datasetIds" in err.message


def test_search_unknown_dataset_is_404_naming_datasetids(backend: Backend) -> None:
    err = error(backend.variant_sets.search, OWNER, {"datasetIds": ["404"]})
    assert err.code == 404 and "datasetIds" in err.message


def test_search_returns_only_that_datasets_sets_in_stable_pages(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    other = backend.datasets.create(OWNER, {"projectId": "p1"})
    mine = {make(backend, dataset["id"])["id"] for _ in range(7)}
    make(backend, other["id"])
    everything = backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]})
    assert "nextPageToken" not in everything
    order = [v["id"] for v in everything["variantSets"]]
    assert set(order) == mine
    seen, token = [], None
    for _ in range(MAX_PAGES):
        page = backend.variant_sets.search(
            OWNER, {"datasetIds": [dataset["id"]], "pageSize": 3, "pageToken": token}
        )
        seen += [v["id"] for v in page["variantSets"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == order


def test_search_page_token_is_bound_to_the_dataset(backend: Backend, dataset: dict[str, Any]) -> None:
    other = backend.datasets.create(OWNER, {"projectId": "p1"})
    for _ in range(3):
        make(backend, dataset["id"])
    token = backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]], "pageSize": 1})[
        "nextPageToken"
    ]
    err = error(backend.variant_sets.search, OWNER, {"datasetIds": [other["id"]], "pageToken": token})
    assert err.code == 400 and "page token" in err.message


def test_search_default_page_size_is_1024_and_larger_sizes_are_capped(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    for _ in range(1030):
        make(backend, dataset["id"])
    default = backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]})
    assert len(default["variantSets"]) == 1024 and "nextPageToken" in default
    big = backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]], "pageSize": 5000})
    assert len(big["variantSets"]) == 1024
    err = error(backend.variant_sets.search, OWNER, {"datasetIds": [dataset["id"]], "pageSize": -1})
    assert err.code == 400 and "pageSize" in err.message


# -- permissions ----------------------------------------------------------------------


def test_each_method_checks_its_permission_on_the_dataset(backend: Backend, dataset: dict[str, Any]) -> None:
    calls = record_authorize(backend)
    resource = f"datasets/{dataset['id']}"
    vs = make(backend, dataset["id"])
    backend.variant_sets.get(OWNER, vs["id"])
    backend.variant_sets.patch(OWNER, vs["id"], {"name": "n"}, "name")
    backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]})
    backend.variant_sets.delete(OWNER, vs["id"])
    verbs = ["create", "get", "update", "list", "delete"]
    assert calls == [(f"genomics.variantSets.{verb}", resource) for verb in verbs]


def test_viewer_reads_but_cannot_write(backend: Backend, dataset: dict[str, Any]) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    vs = make(backend, dataset["id"], name="a")
    assert backend.variant_sets.get(VIEWER, vs["id"]) == vs
    assert backend.variant_sets.search(VIEWER, {"datasetIds": [dataset["id"]]})["variantSets"] == [vs]
    assert error(backend.variant_sets.create, VIEWER, {"datasetId": dataset["id"]}).code == 403
    assert error(backend.variant_sets.patch, VIEWER, vs["id"], {"name": "b"}, "name").code == 403
    assert error(backend.variant_sets.delete, VIEWER, vs["id"]).code == 403
    assert backend.variant_sets.get(OWNER, vs["id"]) == vs
    assert len(backend.variant_sets.search(OWNER, {"datasetIds": [dataset["id"]]})["variantSets"]) == 1


def test_caller_without_access_sees_the_unknown_id_error(backend: Backend, dataset: dict[str, Any]) -> None:
    vs = make(backend, dataset["id"])
    hidden = error(backend.variant_sets.get, STRANGER, vs["id"])
    unknown = error(backend.variant_sets.get, STRANGER, "12345")
    assert hidden.code == unknown.code == 404
    assert hidden.message == unknown.message.replace("12345", vs["id"])
