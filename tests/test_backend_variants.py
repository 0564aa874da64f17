"""Variants: create/get/patch/delete/search/merge rules, visibility, paging, saved state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcffiles import write_vcf

from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.errors import ApiError
from mockserver.snapshot import restore, snapshot

OWNER = DEFAULT_OWNER
MAX_PAGES = 1000


@pytest.fixture
def variant_set(backend: Backend, dataset: dict[str, Any]) -> dict[str, Any]:
    return backend.variant_sets.create(OWNER, {"datasetId": dataset["id"], "name": "vs"})


@pytest.fixture
def call_sets(backend: Backend, variant_set: dict[str, Any]) -> list[str]:
    return [
        backend.call_sets.create(OWNER, {"variantSetIds": [variant_set["id"]], "name": name})["id"]
        for name in ("a", "b", "c")
    ]


def make(backend: Backend, set_id: str, start: int = 10, **fields: Any) -> dict[str, Any]:
    body = {
        "variantSetId": set_id,
        "referenceName": "chr1",
        "start": str(start),
        "referenceBases": "A",
        **fields,
    }
    return backend.variants.create(OWNER, body)


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def search(backend: Backend, **body: Any) -> dict[str, Any]:
    return backend.variants.search(OWNER, {"referenceName": "chr1", **body})


def search_all(backend: Backend, page_size: int, **body: Any) -> list[dict[str, Any]]:
    found, token = [], None
    for _ in range(MAX_PAGES):
        page = search(backend, pageSize=page_size, pageToken=token, **body)
        found += page.get("variants", [])
        token = page.get("nextPageToken")
        if not token:
            return found
    raise AssertionError("paging did not end")


# -- create ---------------------------------------------------------------------------


def test_create_sets_id_created_end_and_call_set_names(
    backend: Backend, clock: FakeClock, variant_set, call_sets
):
    made = make(
        backend,
        variant_set["id"],
        referenceBases="GAT",
        alternateBases=["G"],
        names=["rs7"],
        id="ignored",
        created="1",
        calls=[{"callSetId": call_sets[0], "genotype": [0, 1], "callSetName": "ignored"}],
    )
    assert made["id"] != "ignored" and made["id"].startswith(variant_set["id"] + "_")
    assert made["variantSetId"] == variant_set["id"]
    assert (made["start"], made["end"]) == ("10", "13")
    assert made["created"] == str(int(clock.now().timestamp() * 1000))
    assert made["calls"] == [{"callSetId": call_sets[0], "genotype": [0, 1], "callSetName": "a"}]
    assert backend.variants.get(OWNER, made["id"]) == made


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"referenceName": None}, "referenceName"),
        ({"start": None}, "start"),
        ({"start": "-1"}, "start"),
        ({"start": "x"}, "start"),
        ({"referenceBases": None}, "end"),
        ({"end": "10"}, "end"),
        ({"alternateBases": ["G", ""]}, "alternateBases"),
        ({"names": "rs1"}, "names"),
        ({"quality": "high"}, "quality"),
        ({"info": {"k": "v"}}, "info.k"),
        ({"calls": [{"genotype": [0]}]}, "calls[0].callSetId"),
        ({"calls": [{"callSetId": "unknown"}]}, "calls[0].callSetId"),
        ({"calls": [{"callSetId": "<a>"}, {"callSetId": "<a>"}]}, "calls[1].callSetId"),
        ({"calls": [{"callSetId": "<a>", "genotype": [0, 2]}]}, "calls[0].genotype"),
        ({"calls": [{"callSetId": "<a>", "genotype": [-2]}]}, "calls[0].genotype"),
        ({"calls": [{"callSetId": "<a>", "genotypeLikelihood": [None]}]}, "calls[0].genotypeLikelihood[0]"),
    ],
)
def test_create_refuses_invalid_fields(backend: Backend, variant_set, call_sets, fields, field) -> None:
    for call in fields.get("calls", []):
        if call.get("callSetId") == "<a>":
            call["callSetId"] = call_sets[0]
    body = {
        "variantSetId": variant_set["id"],
        "referenceName": "chr1",
        "start": "10",
        "referenceBases": "A",
        "alternateBases": ["G"],
    }
    body.update(fields)
    body = {k: v for k, v in body.items() if v is not None}
    err = error(backend.variants.create, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT") and field in err.message, err.message
    assert search(backend, variantSetIds=[variant_set["id"]]) == {}


def test_calls_must_name_call_sets_of_the_same_variant_set(backend: Backend, dataset, variant_set) -> None:
    other = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})
    foreign = backend.call_sets.create(OWNER, {"variantSetIds": [other["id"]]})["id"]
    err = error(make, backend, variant_set["id"], calls=[{"callSetId": foreign}])
    assert err.code == 400 and "is not a call set of this variant set" in err.message


def test_unknown_variant_set_is_404(backend: Backend) -> None:
    err = error(make, backend, "nope")
    assert err.code == 404 and "variantSetId" in err.message


def test_a_public_reference_set_bounds_reference_names_and_ends(backend: Backend, dataset) -> None:
    body = {"datasetId": dataset["id"], "referenceSetId": "EMud_c37lKPXTQ"}  # GRCh38, built in
    set_id = backend.variant_sets.create(OWNER, body)["id"]
    assert make(backend, set_id, 16568, referenceName="chrM")["end"] == "16569"
    assert "past the end" in error(make, backend, set_id, 16569, referenceName="chrM").message
    assert "is not a reference" in error(make, backend, set_id, referenceName="1").message


def test_a_known_reference_set_bounds_reference_names_and_ends(backend: Backend, dataset) -> None:
    reference_set = backend.reference_sets.create([{"name": "chr1", "length": 100}])
    set_id = backend.variant_sets.create(
        OWNER, {"datasetId": dataset["id"], "referenceSetId": reference_set["id"]}
    )["id"]
    assert make(backend, set_id, 99)["end"] == "100"
    assert "past the end" in error(make, backend, set_id, 100).message
    err = error(make, backend, set_id, referenceName="chr2")
    assert err.code == 400 and "referenceName" in err.message


# -- get / patch / delete ----------------------------------------------------------------


@pytest.mark.parametrize("bad", ["", "nope", "123", "123_", "123_x", "123_01", "_1", None, 5])
def test_unknown_ids_are_404(backend: Backend, variant_set, bad: Any) -> None:
    make(backend, variant_set["id"])
    err = error(backend.variants.get, OWNER, bad)
    assert err.code == 404 and "variantId" in err.message


def test_patch_changes_names_and_info_only_and_returns_no_calls(
    backend: Backend, variant_set, call_sets
) -> None:
    made = make(
        backend,
        variant_set["id"],
        names=["a"],
        info={"k": ["1"]},
        calls=[{"callSetId": call_sets[0], "genotype": [1]}],
        alternateBases=["G"],
    )
    patched = backend.variants.patch(
        OWNER, made["id"], {"names": ["b"], "info": {"z": ["2"]}, "start": "99"}, "names"
    )
    assert patched["names"] == ["b"] and patched["info"] == {"k": ["1"]} and "calls" not in patched
    assert patched["start"] == "10"
    whole = backend.variants.patch(OWNER, made["id"], {"info": {"z": ["2"]}}, None)
    assert "names" not in whole and whole["info"] == {"z": ["2"]}
    assert backend.variants.get(OWNER, made["id"])["calls"][0]["genotype"] == [1]
    err = error(backend.variants.patch, OWNER, made["id"], {"start": "5"}, "start")
    assert err.code == 400 and "start" in err.message


def test_delete_then_404(backend: Backend, variant_set) -> None:
    made = make(backend, variant_set["id"])
    assert backend.variants.delete(OWNER, made["id"]) == {}
    assert error(backend.variants.get, OWNER, made["id"]).code == 404
    assert error(backend.variants.delete, OWNER, made["id"]).code == 404
    assert search(backend, variantSetIds=[variant_set["id"]]) == {}


def test_dataset_soft_delete_hides_variants_and_undelete_restores(
    backend: Backend, dataset, variant_set
) -> None:
    made = make(backend, variant_set["id"])
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(backend.variants.get, OWNER, made["id"]).code == 404
    assert error(search, backend, variantSetIds=[variant_set["id"]]).code == 404
    backend.datasets.undelete(OWNER, dataset["id"])
    assert backend.variants.get(OWNER, made["id"]) == made


def test_variant_set_delete_takes_its_variants(backend: Backend, variant_set) -> None:
    made = make(backend, variant_set["id"])
    backend.variant_sets.delete(OWNER, variant_set["id"])
    assert error(backend.variants.get, OWNER, made["id"]).code == 404


def test_call_set_delete_removes_its_calls(backend: Backend, variant_set, call_sets, tmp_path: Path) -> None:
    made = make(
        backend,
        variant_set["id"],
        alternateBases=["G"],
        calls=[{"callSetId": call_sets[0], "genotype": [0, 1]}, {"callSetId": call_sets[1]}],
    )
    backend.call_sets.delete(OWNER, call_sets[0])
    assert [c["callSetId"] for c in backend.variants.get(OWNER, made["id"])["calls"]] == [call_sets[1]]
    backend.call_sets.delete(OWNER, call_sets[1])
    assert "calls" not in backend.variants.get(OWNER, made["id"])


def test_imported_variants_keep_id_and_place_when_changed(backend: Backend, variant_set, tmp_path) -> None:
    imported = _import(backend, variant_set["id"])
    first = search_all(backend, 10, variantSetIds=[variant_set["id"]])
    target = first[1]
    backend.variants.patch(OWNER, target["id"], {"names": ["renamed"]}, "names")
    names = [c["id"] for c in imported["callSets"]]
    backend.call_sets.delete(OWNER, names[0])
    after = search_all(backend, 10, variantSetIds=[variant_set["id"]])
    assert [v["id"] for v in after] == [v["id"] for v in first]
    assert after[1]["names"] == ["renamed"]
    assert all(c["callSetId"] != names[0] for v in after for c in v.get("calls", []))
    backend.variants.delete(OWNER, first[0]["id"])
    assert [v["id"] for v in search_all(backend, 10, variantSetIds=[variant_set["id"]])] == [
        v["id"] for v in first[1:]
    ]


def _import(backend: Backend, set_id: str) -> dict[str, Any]:
    backend.operations.mode = "immediate"
    bucket = backend.storage.root / "b"
    bucket.mkdir(parents=True, exist_ok=True)
    write_vcf(bucket / "calls.vcf")
    operation = backend.variants.import_(OWNER, {"variantSetId": set_id, "sourceUris": ["gs://b/calls.vcf"]})
    assert "error" not in operation, operation
    return backend.call_sets.search(OWNER, {"variantSetIds": [set_id]})


# -- search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variantSetIds": ["<set>"], "referenceName": None}, "referenceName"),
        ({}, "variantSetIds or callSetIds"),
        ({"variantSetIds": ["<set>", "other"]}, "variantSetIds"),
        ({"variantSetIds": ["<set>"], "start": "-1"}, "start"),
        ({"variantSetIds": ["<set>"], "start": "5", "end": "5"}, "end"),
        ({"variantSetIds": ["<set>"], "pageSize": 10_001}, "pageSize"),
        ({"variantSetIds": ["<set>"], "maxCalls": 10_001}, "maxCalls"),
        ({"variantSetIds": ["<set>"], "pageToken": "garbage"}, "pageToken"),
    ],
)
def test_search_refuses_bad_queries(backend: Backend, variant_set, body: dict[str, Any], field: str) -> None:
    body = {k: v for k, v in body.items() if v is not None}
    body.setdefault("referenceName", "chr1")
    if body.get("referenceName") is None:
        del body["referenceName"]
    body = {
        k: [variant_set["id"] if x == "<set>" else x for x in v] if k == "variantSetIds" else v
        for k, v in body.items()
    }
    if field == "referenceName":
        body.pop("referenceName", None)
    err = error(backend.variants.search, OWNER, body)
    assert err.code == 400 and field in err.message, err.message


def test_search_by_window_name_and_call_sets(backend: Backend, variant_set, call_sets) -> None:
    set_id = variant_set["id"]
    a = make(backend, set_id, 10, referenceBases="AAAA", names=["x"], calls=[{"callSetId": call_sets[0]}])
    b = make(backend, set_id, 12, names=["y", "x"], calls=[{"callSetId": call_sets[1]}])
    c = make(backend, set_id, 20, calls=[{"callSetId": call_sets[0]}, {"callSetId": call_sets[1]}])
    make(backend, set_id, 12, referenceName="chr2")

    def ids(**body: Any) -> list[str]:
        return [v["id"] for v in search(backend, variantSetIds=[set_id], **body).get("variants", [])]

    assert ids() == [a["id"], b["id"], c["id"]]
    assert ids(start="13", end="20") == [a["id"]]  # [10, 14) overlaps, [12, 13) does not
    assert ids(start="13") == [a["id"], c["id"]]
    assert ids(variantName="x") == [a["id"], b["id"]]
    found = search(backend, callSetIds=[call_sets[1]])["variants"]
    assert [v["id"] for v in found] == [b["id"], c["id"]]
    assert [[call["callSetId"] for call in v["calls"]] for v in found] == [[call_sets[1]], [call_sets[1]]]
    assert ids(callSetIds=[call_sets[2]]) == []


def test_call_sets_of_another_variant_set_are_refused(backend: Backend, dataset, variant_set) -> None:
    other = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})
    foreign = backend.call_sets.create(OWNER, {"variantSetIds": [other["id"]]})["id"]
    err = error(search, backend, variantSetIds=[variant_set["id"]], callSetIds=[foreign])
    assert err.code == 400 and foreign in err.message


def test_call_sets_alone_search_their_variant_sets(backend: Backend, dataset, variant_set, call_sets) -> None:
    other = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})
    foreign = backend.call_sets.create(OWNER, {"variantSetIds": [other["id"]]})["id"]
    mine = make(backend, variant_set["id"], 5, calls=[{"callSetId": call_sets[0]}])
    theirs = make(backend, other["id"], 5, calls=[{"callSetId": foreign}])
    both = search_all(backend, 1, callSetIds=[call_sets[0], foreign])
    assert sorted(v["id"] for v in both) == sorted([mine["id"], theirs["id"]])


def test_max_calls_cuts_pages_but_a_page_holds_one_variant(backend: Backend, variant_set, call_sets) -> None:
    set_id = variant_set["id"]
    for start in range(6):
        make(backend, set_id, start, calls=[{"callSetId": cs} for cs in call_sets])
    pages, token = [], None
    while True:
        page = search(backend, variantSetIds=[set_id], maxCalls=7, pageToken=token)
        pages.append(len(page["variants"]))
        token = page.get("nextPageToken")
        if not token:
            break
    assert pages == [2, 2, 2]
    one = search(backend, variantSetIds=[set_id], maxCalls=1)
    assert len(one["variants"]) == 1 and len(one["variants"][0]["calls"]) == 3


def test_page_tokens_are_bound_to_the_query(backend: Backend, variant_set) -> None:
    for start in range(3):
        make(backend, variant_set["id"], start)
    token = search(backend, variantSetIds=[variant_set["id"]], pageSize=1)["nextPageToken"]
    err = error(search, backend, variantSetIds=[variant_set["id"]], pageSize=1, pageToken=token, start="1")
    assert err.code == 400 and "page token" in err.message


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    starts=st.lists(st.tuples(st.integers(0, 40), st.integers(1, 6)), max_size=25),
    size=st.integers(1, 7),
    window=st.tuples(st.integers(0, 40), st.integers(1, 30)),
)
def test_pages_concatenate_to_one_ordered_sequence(
    backend: Backend, variant_set, starts, size, window
) -> None:
    backend.variants.drop_variant_set(variant_set["id"])
    made = [make(backend, variant_set["id"], s, end=str(s + n)) for s, n in starts]
    qs, span = window
    expected = [v for v in made if int(v["start"]) < qs + span and int(v["end"]) > qs]
    expected.sort(key=lambda v: (int(v["start"]), int(v["id"].rpartition("_")[2])))
    body = {"variantSetIds": [variant_set["id"]], "start": str(qs), "end": str(qs + span)}
    assert [v["id"] for v in search_all(backend, size, **body)] == [v["id"] for v in expected]
    assert [v["id"] for v in search_all(backend, 10_000, **body)] == [v["id"] for v in expected]


# -- merge ----------------------------------------------------------------------------


def test_merge_combines_matching_variants_and_creates_the_rest(
    backend: Backend, variant_set, call_sets
) -> None:
    set_id = variant_set["id"]
    existing = make(
        backend,
        set_id,
        10,
        alternateBases=["G"],
        info={"DP": ["5"], "AF": ["0.1"]},
        calls=[{"callSetId": call_sets[0], "genotype": [0, 1]}],
    )
    new_call = {"callSetId": call_sets[1], "genotype": [1, 1]}
    replacing = {"callSetId": call_sets[0], "genotype": [1, 1]}
    body = {
        "variantSetId": set_id,
        "infoMergeConfig": {"AF": "IGNORE_NEW", "QD": "MOVE_TO_CALLS"},
        "variants": [
            {
                "referenceName": "chr1",
                "start": "10",
                "referenceBases": "A",
                "alternateBases": ["G"],
                "info": {"DP": ["9"], "AF": ["0.9"], "MQ": ["60"], "QD": ["2"]},
                "calls": [new_call, replacing],
            },
            {
                "referenceName": "chr1",
                "start": "10",
                "referenceBases": "A",
                "alternateBases": ["T"],
                "calls": [{"callSetId": call_sets[2]}],
            },
        ],
    }
    assert backend.variants.merge(OWNER, body) == {}
    variants = search(backend, variantSetIds=[set_id])["variants"]
    assert len(variants) == 2
    merged = backend.variants.get(OWNER, existing["id"])
    assert merged["info"] == {"DP": ["5"], "AF": ["0.1"], "MQ": ["60"]}
    assert [(c["callSetId"], c["genotype"]) for c in merged["calls"]] == [
        (call_sets[0], [1, 1]),
        (call_sets[1], [1, 1]),
    ]
    assert all(c["info"] == {"QD": ["2"]} for c in merged["calls"])


def test_merge_checks_every_variant_before_storing_any(backend: Backend, variant_set) -> None:
    body = {
        "variantSetId": variant_set["id"],
        "variants": [
            {"referenceName": "chr1", "start": "10", "referenceBases": "A"},
            {"referenceName": "chr1", "start": "-5", "referenceBases": "A"},
        ],
    }
    err = error(backend.variants.merge, OWNER, body)
    assert err.code == 400 and "variants[1].start" in err.message
    assert search(backend, variantSetIds=[variant_set["id"]]) == {}
    err = error(backend.variants.merge, OWNER, {**body, "infoMergeConfig": {"AF": "SUM"}})
    assert "infoMergeConfig.AF" in err.message


# -- saved state ----------------------------------------------------------------------


def test_state_round_trips_imported_loose_changed_and_deleted_variants(
    backend: Backend, variant_set, call_sets
):
    _import(backend, variant_set["id"])
    made = make(backend, variant_set["id"], 5, calls=[{"callSetId": call_sets[0]}])
    every = search_all(backend, 100, variantSetIds=[variant_set["id"]])
    backend.variants.patch(OWNER, every[2]["id"], {"names": ["changed"]}, "names")
    backend.variants.delete(OWNER, every[3]["id"])
    backend.call_sets.delete(OWNER, call_sets[0])
    before = search_all(backend, 2, variantSetIds=[variant_set["id"]])
    bounds = backend.variant_sets.get(OWNER, variant_set["id"])["referenceBounds"]
    document = snapshot(backend)
    fresh = Backend(clock=FakeClock(), storage_root=backend.storage.root)
    restore(fresh, document)
    assert search_all(fresh, 3, variantSetIds=[variant_set["id"]]) == before
    assert fresh.variant_sets.get(OWNER, variant_set["id"])["referenceBounds"] == bounds
    assert "calls" not in fresh.variants.get(OWNER, made["id"])
    again = fresh.variants.create(
        OWNER,
        {"variantSetId": variant_set["id"], "referenceName": "chr1", "start": "1", "referenceBases": "A"},
    )
    assert again["id"] not in {v["id"] for v in before}
