"""Annotation sets: create/get/update/delete/search rules, soft delete, permissions."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.public_references import GRCH37, GRCH38
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
VIEWER = Principal("user:viewer@example.com")
EDITOR = Principal("user:editor@example.com")
STRANGER = Principal("user:stranger@example.com")


def make(backend: Backend, dataset_id: str, **fields: Any) -> dict[str, Any]:
    body = {"datasetId": dataset_id, "referenceSetId": GRCH38, **fields}
    return backend.annotation_sets.create(OWNER, body)


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def search(backend: Backend, principal: Principal = OWNER, **body: Any) -> dict[str, Any]:
    return backend.annotation_sets.search(principal, body)


def search_all(backend: Backend, **body: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):  # bounded: a cursor that never advances fails, not hangs
        page = search(backend, **body, **({"pageToken": token} if token else {}))
        out.extend(page.get("annotationSets", []))
        token = page.get("nextPageToken")
        if not token:
            return out
    raise AssertionError("paging did not terminate")


# -- create ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"referenceSetId": GRCH38}, "datasetId"),
        ({"datasetId": "", "referenceSetId": GRCH38}, "datasetId"),
        ({"datasetId": "DS"}, "referenceSetId"),
        ({"datasetId": "DS", "referenceSetId": ""}, "referenceSetId"),
        ({"datasetId": "DS", "referenceSetId": GRCH38, "type": "BOGUS"}, "type"),
        ({"datasetId": "DS", "referenceSetId": GRCH38, "info": {"k": "not-a-list"}}, "info"),
        ({"datasetId": "DS", "referenceSetId": GRCH38, "name": 5}, "name"),
    ],
)
def test_create_field_rules(
    backend: Backend, dataset: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    body = {k: (dataset["id"] if v == "DS" else v) for k, v in body.items()}
    err = error(backend.annotation_sets.create, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT")
    assert field in err.message


def test_create_missing_body_is_400(backend: Backend) -> None:
    assert error(backend.annotation_sets.create, OWNER, None).code == 400


def test_create_needs_live_dataset(backend: Backend, dataset: dict[str, Any]) -> None:
    err = error(make, backend, "12345")
    assert err.code == 404 and "'12345'" in err.message
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(make, backend, dataset["id"]).code == 404


def test_create_assigns_id_ignores_given_and_omits_defaults(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    created = make(
        backend, dataset["id"], id="mine", name="genes", sourceUri="gs://b/x.gff", info={"k": ["v"]}
    )
    assert created["id"] != "mine" and ":" not in created["id"] and "/" not in created["id"]
    assert created == {
        "id": created["id"],
        "datasetId": dataset["id"],
        "referenceSetId": GRCH38,
        "name": "genes",
        "sourceUri": "gs://b/x.gff",
        "info": {"k": ["v"]},
    }
    unspecified = make(backend, dataset["id"], type="ANNOTATION_TYPE_UNSPECIFIED")
    assert "type" not in unspecified
    assert make(backend, dataset["id"], type="GENE")["type"] == "GENE"


def test_create_does_not_alias_caller_info(backend: Backend, dataset: dict[str, Any]) -> None:
    info = {"k": ["v"]}
    created = make(backend, dataset["id"], info=info)
    info["k"].append("changed")
    assert backend.annotation_sets.get(OWNER, created["id"])["info"] == {"k": ["v"]}


# -- get / update ---------------------------------------------------------------------


def test_get_roundtrip_and_unknown(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"], name="n")
    assert backend.annotation_sets.get(OWNER, created["id"]) == created
    err = error(backend.annotation_sets.get, OWNER, "nope")
    assert err.code == 404 and "'nope'" in err.message


def test_returned_records_are_copies(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"], name="n")
    created["name"] = "mutated"
    assert backend.annotation_sets.get(OWNER, created["id"])["name"] == "n"


@pytest.mark.parametrize("mask", ["sourceUri", "source_uri"])
def test_update_mask_both_spellings(backend: Backend, dataset: dict[str, Any], mask: str) -> None:
    created = make(backend, dataset["id"], name="keep", sourceUri="gs://old")
    updated = backend.annotation_sets.update(
        OWNER, created["id"], {"sourceUri": "gs://new", "name": "x"}, mask
    )
    assert updated["sourceUri"] == "gs://new" and updated["name"] == "keep"


@pytest.mark.parametrize("field", ["datasetId", "referenceSetId", "type", "id", "dataset_id"])
def test_update_immutable_fields_in_mask_are_400(
    backend: Backend, dataset: dict[str, Any], field: str
) -> None:
    created = make(backend, dataset["id"])
    err = error(backend.annotation_sets.update, OWNER, created["id"], {field: "x"}, field)
    assert err.code == 400 and field in err.message
    assert backend.annotation_sets.get(OWNER, created["id"]) == created


def test_update_without_mask_replaces_all_mutable_fields(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"], name="old", sourceUri="gs://old", info={"a": ["1"]}, type="GENE")
    updated = backend.annotation_sets.update(
        OWNER, created["id"], {"name": "new", "datasetId": "other", "type": "VARIANT"}, None
    )
    # PUT: absent mutable fields are cleared, immutable ones stay whatever the body says
    assert updated == {
        "id": created["id"],
        "datasetId": dataset["id"],
        "referenceSetId": GRCH38,
        "name": "new",
        "type": "GENE",
    }
    assert backend.annotation_sets.get(OWNER, created["id"]) == updated


def test_update_info_validated(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"])
    err = error(backend.annotation_sets.update, OWNER, created["id"], {"info": {"k": 1}}, "info")
    assert err.code == 400 and "info" in err.message


# -- delete ---------------------------------------------------------------------------


def test_delete_removes_set_and_its_annotations(backend: Backend, dataset: dict[str, Any]) -> None:
    doomed = make(backend, dataset["id"])
    other = make(backend, dataset["id"])
    ann = backend.annotations.create(
        OWNER, {"annotationSetId": doomed["id"], "referenceName": "chr1", "start": "1", "end": "5"}
    )
    kept = backend.annotations.create(
        OWNER, {"annotationSetId": other["id"], "referenceName": "chr1", "start": "1", "end": "5"}
    )
    assert backend.annotation_sets.delete(OWNER, doomed["id"]) == {}
    assert error(backend.annotation_sets.get, OWNER, doomed["id"]).code == 404
    assert error(backend.annotations.get, OWNER, ann["id"]).code == 404
    assert error(backend.annotation_sets.delete, OWNER, doomed["id"]).code == 404
    assert [s["id"] for s in search_all(backend, datasetIds=[dataset["id"]])] == [other["id"]]
    assert ann["id"] not in {r.id for r in backend.annotations.all_records()}
    assert backend.annotations.get(OWNER, kept["id"]) == kept
    err = error(backend.annotations.search, OWNER, {"annotationSetIds": [doomed["id"]]})
    assert err.code == 404


# -- soft delete of the dataset -------------------------------------------------------


def test_sets_of_deleted_dataset_are_404_everywhere_until_undelete(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    created = make(backend, dataset["id"], name="n")
    backend.datasets.delete(OWNER, dataset["id"])
    for call, args in [
        (backend.annotation_sets.get, (created["id"],)),
        (backend.annotation_sets.update, (created["id"], {"name": "x"}, "name")),
        (backend.annotation_sets.delete, (created["id"],)),
        (backend.annotation_sets.search, ({"datasetIds": [dataset["id"]]},)),
    ]:
        assert error(call, OWNER, *args).code == 404
    backend.datasets.undelete(OWNER, dataset["id"])
    assert backend.annotation_sets.get(OWNER, created["id"]) == created
    assert search_all(backend, datasetIds=[dataset["id"]]) == [created]


# -- search ---------------------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"datasetIds": []}, {"datasetIds": "x"}, {"datasetIds": [""]}])
def test_search_requires_dataset_ids(backend: Backend, body: dict[str, Any]) -> None:
    err = error(backend.annotation_sets.search, OWNER, body)
    assert err.code == 400 and "datasetIds" in err.message


def test_search_every_dataset_must_exist(backend: Backend, dataset: dict[str, Any]) -> None:
    err = error(search, backend, datasetIds=[dataset["id"], "777"])
    assert err.code == 404 and "'777'" in err.message


def test_search_filters(backend: Backend, dataset: dict[str, Any]) -> None:
    ds = dataset["id"]
    a = make(backend, ds, name="RefSeq Genes", type="GENE")
    b = make(backend, ds, name="clinvar", type="VARIANT", referenceSetId=GRCH37)
    c = make(backend, ds, name="more genes")
    ids = lambda **body: {s["id"] for s in search_all(backend, datasetIds=[ds], **body)}  # noqa: E731
    assert ids() == {a["id"], b["id"], c["id"]}
    assert ids(name="GENES") == {a["id"], c["id"]}
    assert ids(name="seq g") == {a["id"]}
    assert ids(referenceSetId=GRCH37) == {b["id"]}
    assert ids(referenceSetId=GRCH37[:-1]) == set()  # exact, not a prefix
    assert ids(types=["GENE", "VARIANT"]) == {a["id"], b["id"]}
    assert ids(types=["ANNOTATION_TYPE_UNSPECIFIED"]) == {c["id"]}
    assert ids(types=["GENE"], name="more") == set()


def test_search_rejects_bad_types_and_page_size(backend: Backend, dataset: dict[str, Any]) -> None:
    assert "types" in error(search, backend, datasetIds=[dataset["id"]], types=["NOPE"]).message
    assert "pageSize" in error(search, backend, datasetIds=[dataset["id"]], pageSize=1025).message
    assert "pageSize" in error(search, backend, datasetIds=[dataset["id"]], pageSize=-1).message
    assert "pageSize" in error(search, backend, datasetIds=[dataset["id"]], pageSize="5").message


def test_search_default_and_max_page_size(backend: Backend, dataset: dict[str, Any]) -> None:
    for _ in range(130):
        make(backend, dataset["id"])
    assert len(search(backend, datasetIds=[dataset["id"]])["annotationSets"]) == 128
    page = search(backend, datasetIds=[dataset["id"]], pageSize=1024)
    assert len(page["annotationSets"]) == 130 and "nextPageToken" not in page


def test_search_only_named_datasets(backend: Backend, dataset: dict[str, Any]) -> None:
    other = backend.datasets.create(OWNER, {"projectId": "p1"})
    mine = make(backend, dataset["id"])
    theirs = make(backend, other["id"])
    assert search_all(backend, datasetIds=[dataset["id"]]) == [mine]
    both = search_all(backend, datasetIds=[other["id"], dataset["id"]])
    assert sorted(s["id"] for s in both) == sorted([mine["id"], theirs["id"]])
    assert [s["id"] for s in both] == sorted(s["id"] for s in both)


def test_search_token_bound_to_filters(backend: Backend, dataset: dict[str, Any]) -> None:
    for i in range(3):
        make(backend, dataset["id"], name=f"s{i}")
    token = search(backend, datasetIds=[dataset["id"]], pageSize=1)["nextPageToken"]
    err = error(search, backend, datasetIds=[dataset["id"]], name="s", pageToken=token)
    assert err.code == 400 and "invalid page token" in err.message
    # pageSize may change between pages
    assert search(backend, datasetIds=[dataset["id"]], pageSize=2, pageToken=token)["annotationSets"]


# -- permissions ----------------------------------------------------------------------


def test_permissions(backend: Backend, dataset: dict[str, Any]) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    backend.iam.add_project_binding("p1", "roles/genomics.editor", EDITOR.member)
    created = make(backend, dataset["id"], name="n")
    # readers read, writers write
    assert backend.annotation_sets.get(VIEWER, created["id"]) == created
    assert search(backend, VIEWER, datasetIds=[dataset["id"]])["annotationSets"] == [created]
    body = {"datasetId": dataset["id"], "referenceSetId": GRCH38}
    err = error(backend.annotation_sets.create, VIEWER, body)
    assert err.code == 403 and "genomics.annotationSets.create" in err.message
    err = error(backend.annotation_sets.update, VIEWER, created["id"], {"name": "x"}, "name")
    assert err.code == 403 and "genomics.annotationSets.update" in err.message
    err = error(backend.annotation_sets.delete, VIEWER, created["id"])
    assert err.code == 403 and "genomics.annotationSets.delete" in err.message
    assert backend.annotation_sets.update(EDITOR, created["id"], {"name": "x"}, "name")["name"] == "x"
    assert backend.annotation_sets.create(EDITOR, {"datasetId": dataset["id"], "referenceSetId": GRCH38})
    # no access at all: indistinguishable from an unknown id
    hidden = error(backend.annotation_sets.get, STRANGER, created["id"])
    unknown = error(backend.annotation_sets.get, OWNER, "missing-id")
    assert hidden.code == 404 and hidden.message == unknown.message.replace("missing-id", created["id"])
    assert error(search, backend, STRANGER, datasetIds=[dataset["id"]]).code == 404
    assert backend.annotation_sets.delete(EDITOR, created["id"]) == {}


def test_invisible_dataset_reads_like_an_unknown_one_in_the_field_that_named_it(
    backend: Backend, dataset: dict[str, Any]
) -> None:
    def create(dataset_id: str) -> dict[str, Any]:
        return backend.annotation_sets.create(STRANGER, {"datasetId": dataset_id, "referenceSetId": GRCH38})

    for field, call in (
        ("datasetId", create),
        ("datasetIds", lambda ds: search(backend, STRANGER, datasetIds=[ds])),
    ):
        hidden, unknown = error(call, dataset["id"]), error(call, "missing-id")
        assert hidden.code == unknown.code == 404
        assert hidden.message == unknown.message.replace("missing-id", dataset["id"])
        assert field in hidden.message


def test_update_checks_only_masked_fields_and_is_atomic(backend: Backend, dataset: dict[str, Any]) -> None:
    created = make(backend, dataset["id"], name="old")
    body = {"name": "new", "info": {"k": "not-a-list"}}
    assert backend.annotation_sets.update(OWNER, created["id"], body, "name")["name"] == "new"
    err = error(backend.annotation_sets.update, OWNER, created["id"], {**body, "name": "newer"}, "name,info")
    assert err.code == 400 and "info" in err.message
    assert backend.annotation_sets.get(OWNER, created["id"])["name"] == "new"


def test_search_authorizes_every_dataset(backend: Backend, dataset: dict[str, Any]) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    elsewhere = backend.datasets.create(OWNER, {"projectId": "p2"})
    make(backend, dataset["id"])
    make(backend, elsewhere["id"])
    assert len(search(backend, VIEWER, datasetIds=[dataset["id"]])["annotationSets"]) == 1
    err = error(search, backend, VIEWER, datasetIds=[dataset["id"], elsewhere["id"]])
    assert err.code == 404 and elsewhere["id"] in err.message
    backend.iam.add_project_binding("p2", "roles/genomics.viewer", VIEWER.member)
    assert len(search(backend, VIEWER, datasetIds=[dataset["id"], elsewhere["id"]])["annotationSets"]) == 2
