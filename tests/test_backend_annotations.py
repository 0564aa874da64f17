"""Annotations: create/batchCreate/get/update/delete/search rules, the index, soft delete, permissions."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mockserver import snapshot
from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.annotation_index import AnnotationRecord
from mockserver.backend.annotation_validation import MAX_RANGE
from mockserver.backend.clock import FakeClock
from mockserver.backend.intervals import Bucket
from mockserver.backend.public_references import GRCH38
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
CHR1 = "ELT13vHD8KjUEQ"  # Google's id of GRCh38's chromosome 1
VIEWER = Principal("user:viewer@example.com")
STRANGER = Principal("user:stranger@example.com")


def new_set(backend: Backend, dataset_id: str, type_: str | None = "GENERIC", **fields: Any) -> str:
    body = {"datasetId": dataset_id, "referenceSetId": GRCH38, **fields}
    if type_:
        body["type"] = type_
    return backend.annotation_sets.create(OWNER, body)["id"]


@pytest.fixture
def generic(backend: Backend, dataset: dict[str, Any]) -> str:
    return new_set(backend, dataset["id"])


def ann(set_id: str, start: Any = "10", end: Any = "20", ref: str = "chr1", **fields: Any) -> dict[str, Any]:
    return {"annotationSetId": set_id, "referenceName": ref, "start": start, "end": end, **fields}


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def bad(backend: Backend, body: Any) -> ApiError:
    err = error(backend.annotations.create, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT"), err
    return err


def search_all(backend: Backend, principal: Principal = OWNER, **body: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):  # bounded: a cursor that never advances fails, not hangs
        page = backend.annotations.search(principal, {**body, **({"pageToken": token} if token else {})})
        out.extend(page.get("annotations", []))
        token = page.get("nextPageToken")
        if not token:
            return out
    raise AssertionError("paging did not terminate")


def ids(annotations: list[dict[str, Any]]) -> list[str]:
    return [a["id"] for a in annotations]


# -- create: required fields and ranges ----------------------------------------------


def test_create_returns_proto3_json(backend: Backend, generic: str) -> None:
    created = backend.annotations.create(OWNER, ann(generic, start=0, end=15, id="mine", name="n"))
    assert created["id"] != "mine" and ":" not in created["id"]
    assert created == {
        "id": created["id"],
        "annotationSetId": generic,
        "referenceName": "chr1",
        "referenceId": CHR1,  # filled in from the name: GRCh38's chromosome 1
        "end": "15",
        "type": "GENERIC",
        "name": "n",
    }
    assert backend.annotations.get(OWNER, created["id"]) == created


def test_create_requires_annotation_set_id(backend: Backend, generic: str) -> None:
    assert "annotation.annotationSetId is required" in bad(backend, {"referenceName": "chr1"}).message
    assert "annotation.annotationSetId is required" in bad(backend, ann("")).message
    err = error(backend.annotations.create, OWNER, ann("nope"))
    assert err.code == 404 and "'nope'" in err.message


def test_create_requires_a_reference(backend: Backend, generic: str) -> None:
    body = ann(generic)
    del body["referenceName"]
    err = bad(backend, body)
    assert "referenceName" in err.message and "referenceId" in err.message
    by_id = backend.annotations.create(OWNER, {**body, "referenceId": CHR1})
    assert (by_id["referenceId"], by_id["referenceName"]) == (CHR1, "chr1")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("-1", "5", "annotation.start"),
        ("10", "9", "annotation.end"),
        ("0", str(MAX_RANGE + 1), "annotation.end - annotation.start must be at most 100000000 (100 Mbp)"),
        ("abc", "5", "annotation.start"),
        ("1", "5.5", "annotation.end"),
        (1.0, "5", "annotation.start"),
        (True, "5", "annotation.start"),
        ("1", str(2**63), "annotation.end"),
    ],
)
def test_create_range_rules(backend: Backend, generic: str, start: Any, end: Any, field: str) -> None:
    assert field in bad(backend, ann(generic, start, end)).message


def test_create_range_limits_inclusive(backend: Backend, generic: str) -> None:
    longest = backend.annotations.create(OWNER, ann(generic, "5", str(5 + MAX_RANGE)))
    assert longest["end"] == str(5 + MAX_RANGE)
    empty = backend.annotations.create(OWNER, ann(generic, "7", "7"))
    assert (empty["start"], empty["end"]) == ("7", "7")


def test_int64_as_int_or_string_stored_as_string(backend: Backend, generic: str) -> None:
    created = backend.annotations.create(OWNER, ann(generic, 3, "0000012"))
    assert (created["start"], created["end"]) == ("3", "12")


# -- create: types --------------------------------------------------------------------


def test_type_must_equal_set_type(backend: Backend, dataset: dict[str, Any], generic: str) -> None:
    err = bad(backend, ann(generic, type="GENE"))
    assert "annotation.type" in err.message and "GENERIC" in err.message
    assert "annotation.type" in bad(backend, ann(generic, type="NOT_A_TYPE")).message
    assert backend.annotations.create(OWNER, ann(generic, type="GENERIC"))["type"] == "GENERIC"
    # no type (or the zero value) takes the set's type
    assert backend.annotations.create(OWNER, ann(generic))["type"] == "GENERIC"
    same = backend.annotations.create(OWNER, ann(generic, type="ANNOTATION_TYPE_UNSPECIFIED"))
    assert same["type"] == "GENERIC"
    untyped = new_set(backend, dataset["id"], None)
    assert "type" not in backend.annotations.create(OWNER, ann(untyped))
    assert "annotation.type" in bad(backend, ann(untyped, type="GENERIC")).message


def exons(*pairs: tuple[Any, Any]) -> dict[str, Any]:
    return {"exons": [{"start": s, "end": e} for s, e in pairs]}


def test_transcript_only_for_transcript_sets(backend: Backend, dataset: dict[str, Any], generic: str) -> None:
    err = bad(backend, ann(generic, transcript=exons(("10", "12"))))
    assert "annotation.transcript" in err.message
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    created = backend.annotations.create(
        OWNER,
        ann(
            tset,
            transcript={
                **exons((10, "12"), ("14", "20")),
                "geneId": "g",
                "codingSequence": {"start": 11, "end": 15},
            },
        ),
    )
    assert created["transcript"] == {
        "geneId": "g",
        "exons": [{"start": "10", "end": "12"}, {"start": "14", "end": "20"}],
        "codingSequence": {"start": "11", "end": "15"},
    }


def framed(
    *exons_and_frames: tuple[int, int, Any], coding: tuple[int, int] | None = (11, 15)
) -> dict[str, Any]:
    exon_list = [
        {"start": s, "end": e, **({} if frame is None else {"frame": frame})}
        for s, e, frame in exons_and_frames
    ]
    out: dict[str, Any] = {"exons": exon_list}
    if coding is not None:
        out["codingSequence"] = {"start": coding[0], "end": coding[1]}
    return out


def test_frame_zero_is_a_value_and_is_kept(backend: Backend, dataset: dict[str, Any]) -> None:
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    created = backend.annotations.create(OWNER, ann(tset, transcript=framed((10, 12, 0), (14, 20, 2))))
    assert created["transcript"]["exons"] == [
        {"start": "10", "end": "12", "frame": 0},
        {"start": "14", "end": "20", "frame": 2},
    ]
    assert backend.annotations.get(OWNER, created["id"])["transcript"]["exons"][0]["frame"] == 0
    # the non-coding exon (18, 20) carries no frame; both coding ones do
    ok = framed((10, 12, 1), (13, 14, 0), (18, 20, None), coding=(11, 14))
    assert [
        e.get("frame")
        for e in backend.annotations.create(OWNER, ann(tset, transcript=ok))["transcript"]["exons"]
    ] == [1, 0, None]


@pytest.mark.parametrize(
    ("transcript", "field", "rule"),
    [
        (
            framed((10, 12, None), (14, 20, None), coding=(12, 15)),
            "codingSequence.start",
            "start and end within",
        ),
        (
            framed((10, 12, None), (14, 20, None), coding=(11, 13)),
            "codingSequence.end",
            "start and end within",
        ),
        (
            framed((10, 12, None), (14, 20, None), coding=(0, 15)),
            "codingSequence.start",
            "start and end within",
        ),
        (framed((10, 12, 0), (14, 20, None)), "exons[1].frame", "all or none of the coding exons"),
        (framed((10, 12, None), (14, 20, 1)), "exons[0].frame", "all or none of the coding exons"),
        (
            framed((10, 12, 0), (14, 16, 0), (17, 20, 0), coding=(11, 15)),
            "exons[2].frame",
            "only for coding exons",
        ),
        (framed((10, 12, 0), coding=None), "exons[0].frame", "only for coding exons"),
    ],
)
def test_coding_sequence_and_frame_rules(
    backend: Backend, dataset: dict[str, Any], transcript: Any, field: str, rule: str
) -> None:
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    message = bad(backend, ann(tset, transcript=transcript)).message
    assert message.startswith(f"annotation.transcript.{field}") and rule in message


@pytest.mark.parametrize(
    ("transcript", "field"),
    [
        ({"exons": [{"end": "12"}]}, "annotation.transcript.exons[0].start"),
        ({"exons": [{"start": "10"}]}, "annotation.transcript.exons[0].end"),
        (exons(("10", "12"), ("13", "x")), "annotation.transcript.exons[1].end"),
        (exons(("9", "12")), "annotation.transcript.exons[0]"),
        (exons(("10", "21")), "annotation.transcript.exons[0]"),
        (exons(("12", "11")), "annotation.transcript.exons[0].end"),
        (exons(("14", "16"), ("10", "12")), "annotation.transcript.exons[1]"),
        (exons(("10", "15"), ("14", "16")), "annotation.transcript.exons[1]"),
        ({"exons": [{"start": "10", "end": "12", "frame": 3}]}, "annotation.transcript.exons[0].frame"),
        ({"codingSequence": {"start": "abc"}}, "annotation.transcript.codingSequence.start"),
        ({"exons": "x"}, "annotation.transcript.exons"),
        ("x", "annotation.transcript"),
    ],
)
def test_transcript_rules(backend: Backend, dataset: dict[str, Any], transcript: Any, field: str) -> None:
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    assert field in bad(backend, ann(tset, transcript=transcript)).message


def test_variant_only_for_variant_sets(backend: Backend, dataset: dict[str, Any], generic: str) -> None:
    assert "annotation.variant" in bad(backend, ann(generic, variant={"type": "SNP"})).message
    vset = new_set(backend, dataset["id"], "VARIANT")
    created = backend.annotations.create(
        OWNER, ann(vset, variant={"type": "SNP", "effect": "EFFECT_UNSPECIFIED", "alternateBases": "A"})
    )
    assert created["variant"] == {"type": "SNP", "alternateBases": "A"}
    assert "annotation.variant.type" in bad(backend, ann(vset, variant={"type": "BOGUS"})).message
    err = bad(backend, ann(vset, variant={"clinicalSignificance": "MAYBE"}))
    assert "annotation.variant.clinicalSignificance" in err.message


def test_other_field_types(backend: Backend, generic: str) -> None:
    assert "annotation.name" in bad(backend, ann(generic, name=1)).message
    assert "annotation.reverseStrand" in bad(backend, ann(generic, reverseStrand="yes")).message
    assert "annotation.info" in bad(backend, ann(generic, info={"k": "v"})).message
    assert "annotation.referenceName" in bad(backend, ann(generic, ref=5)).message  # type: ignore[arg-type]
    assert bad(backend, None).code == 400
    created = backend.annotations.create(OWNER, ann(generic, reverseStrand=True, info={"k": ["v"]}))
    assert created["reverseStrand"] is True and created["info"] == {"k": ["v"]}


def test_reference_checked_against_known_reference_set(backend: Backend, dataset: dict[str, Any]) -> None:
    [rs] = backend.reference_sets.load_seed([{"references": [{"name": "chr1", "length": 1000}]}])
    set_id = new_set(backend, dataset["id"], referenceSetId=rs["id"])
    assert backend.annotations.create(OWNER, ann(set_id, ref="chr1"))
    assert "annotation.referenceName" in bad(backend, ann(set_id, ref="chr2")).message


# -- get / update / delete ------------------------------------------------------------


def test_get_unknown_is_404_naming_id(backend: Backend) -> None:
    err = error(backend.annotations.get, OWNER, "nope")
    assert err.code == 404 and "'nope'" in err.message


def test_update_mask_rules(backend: Backend, dataset: dict[str, Any]) -> None:
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    created = backend.annotations.create(OWNER, ann(tset, name="a", info={"k": ["v"]}))
    updated = backend.annotations.update(OWNER, created["id"], {"name": "b", "info": {"x": ["y"]}}, "name")
    assert updated["name"] == "b" and updated["info"] == {"k": ["v"]}
    for field in ("start", "end", "referenceName", "type", "annotationSetId", "reverseStrand"):
        err = error(backend.annotations.update, OWNER, created["id"], {field: "1"}, field)
        assert err.code == 400 and field in err.message
    # transcript is re-validated against the stored range
    err = error(
        backend.annotations.update, OWNER, created["id"], {"transcript": exons(("0", "5"))}, "transcript"
    )
    assert err.code == 400 and "annotation.transcript.exons[0]" in err.message
    done = backend.annotations.update(OWNER, created["id"], {"transcript": exons(("11", "12"))}, "transcript")
    assert done["transcript"] == {"exons": [{"start": "11", "end": "12"}]}
    # no mask: every mutable field replaced, absent ones cleared, others untouched
    put = backend.annotations.update(OWNER, created["id"], {"name": "c", "start": "0"}, None)
    assert put == {k: v for k, v in created.items() if k not in ("name", "info")} | {"name": "c"}
    assert backend.annotations.get(OWNER, created["id"]) == put


def test_update_variant_only_for_variant(backend: Backend, generic: str) -> None:
    created = backend.annotations.create(OWNER, ann(generic))
    err = error(backend.annotations.update, OWNER, created["id"], {"variant": {"type": "SNP"}}, "variant")
    assert err.code == 400 and "annotation.variant" in err.message


def test_delete(backend: Backend, generic: str) -> None:
    a = backend.annotations.create(OWNER, ann(generic))
    b = backend.annotations.create(OWNER, ann(generic))
    assert backend.annotations.delete(OWNER, a["id"]) == {}
    assert error(backend.annotations.get, OWNER, a["id"]).code == 404
    assert error(backend.annotations.delete, OWNER, a["id"]).code == 404
    assert ids(search_all(backend, annotationSetIds=[generic])) == [b["id"]]
    assert ids(search_all(backend, annotationSetIds=[generic], referenceName="chr1")) == [b["id"]]


# -- batchCreate ----------------------------------------------------------------------


def test_batch_partial_success_in_request_order(backend: Backend, generic: str) -> None:
    response = backend.annotations.batch_create(
        OWNER,
        {
            "annotations": [
                ann(generic, "1", "2"),
                ann(generic, "5", "1"),
                ann(generic, "3", "4", type="GENE"),
            ]
        },
    )
    first, second, third = response["entries"]
    assert first["annotation"]["start"] == "1" and "status" not in first
    assert set(second) == {"status"} and second["status"]["code"] == 3
    assert "annotations[1].end" in second["status"]["message"]
    (violation,) = second["status"]["details"][0]["fieldViolations"]  # google.rpc.BadRequest
    assert violation == {"field": "annotations[1].end", "description": second["status"]["message"]}
    assert "annotations[2].type" in third["status"]["message"] and "annotation" not in third
    assert ids(search_all(backend, annotationSetIds=[generic])) == [first["annotation"]["id"]]


def test_batch_whole_call_failures_create_nothing(
    backend: Backend, dataset: dict[str, Any], generic: str
) -> None:
    other = new_set(backend, dataset["id"])
    cases = [
        ({"annotations": []}, 400, "annotations"),
        ({}, 400, "annotations"),
        ({"annotations": [ann(generic)] * 4097}, 400, "4096"),
        ({"annotations": [ann(generic), ann(other)]}, 400, "annotations[1].annotationSetId"),
        ({"annotations": [ann(generic), {"referenceName": "chr1"}]}, 400, "annotations[1].annotationSetId"),
        ({"annotations": [ann("missing"), ann("missing")]}, 404, "'missing'"),
    ]
    for body, code, text in cases:
        err = error(backend.annotations.batch_create, OWNER, body)
        assert err.code == code and text in err.message, (body, err)
    assert list(backend.annotations.all_records()) == []


def test_batch_4096_is_allowed(backend: Backend, generic: str) -> None:
    response = backend.annotations.batch_create(OWNER, {"annotations": [ann(generic)] * 4096})
    assert len(response["entries"]) == 4096 and all("annotation" in e for e in response["entries"])


def test_batch_request_id_dedupes_per_set(backend: Backend, dataset: dict[str, Any], generic: str) -> None:
    body = {"requestId": "r1", "annotations": [ann(generic), ann(generic, "9", "1")]}
    first = backend.annotations.batch_create(OWNER, body)
    again = backend.annotations.batch_create(OWNER, body)
    assert again == first
    assert len(list(backend.annotations.all_records())) == 1
    other = new_set(backend, dataset["id"])
    backend.annotations.batch_create(OWNER, {"requestId": "r1", "annotations": [ann(other)]})
    backend.annotations.batch_create(OWNER, {"requestId": "r2", "annotations": [ann(generic)]})
    backend.annotations.batch_create(OWNER, {"annotations": [ann(generic)]})
    backend.annotations.batch_create(OWNER, {"annotations": [ann(generic)]})
    assert len(list(backend.annotations.all_records())) == 5


# -- search: arguments ----------------------------------------------------------------


def test_search_argument_rules(backend: Backend, dataset: dict[str, Any], generic: str) -> None:
    gene = new_set(backend, dataset["id"], "GENE")
    s = backend.annotations.search
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 400, "annotationSetIds"),
        ({"annotationSetIds": []}, 400, "annotationSetIds"),
        ({"annotationSetIds": [generic, "zzz"]}, 404, "'zzz'"),
        ({"annotationSetIds": [generic, gene]}, 400, "same type"),
        ({"annotationSetIds": [generic], "start": "5"}, 400, "referenceName"),
        ({"annotationSetIds": [generic], "end": "5"}, 400, "referenceName"),
        ({"annotationSetIds": [generic], "referenceName": "c", "start": "-1"}, 400, "start"),
        ({"annotationSetIds": [generic], "referenceName": "c", "start": "x"}, 400, "start"),
        ({"annotationSetIds": [generic], "referenceName": "c", "start": "5", "end": "5"}, 400, "end"),
        ({"annotationSetIds": [generic], "pageSize": 2049}, 400, "pageSize"),
    ]
    for body, code, text in cases:
        err = error(s, OWNER, body)
        assert err.code == code and text in err.message, (body, err)


def test_search_page_size_default_and_max(backend: Backend, generic: str) -> None:
    backend.annotations.batch_create(OWNER, {"annotations": [ann(generic)] * 300})
    assert len(backend.annotations.search(OWNER, {"annotationSetIds": [generic]})["annotations"]) == 256
    page = backend.annotations.search(OWNER, {"annotationSetIds": [generic], "pageSize": 2048})
    assert len(page["annotations"]) == 300 and "nextPageToken" not in page


# -- search: overlap semantics and order ----------------------------------------------


def test_overlap_is_half_open(backend: Backend, generic: str) -> None:
    a = backend.annotations.create(OWNER, ann(generic, "10", "20"))["id"]
    zero = backend.annotations.create(OWNER, ann(generic, "10", "10"))["id"]

    def found(start: int, end: int | None = None) -> set[str]:
        body: dict[str, Any] = {"annotationSetIds": [generic], "referenceName": "chr1", "start": str(start)}
        if end is not None:
            body["end"] = str(end)
        return set(ids(search_all(backend, **body)))

    assert found(20, 30) == set()
    assert found(19, 20) == {a}
    assert found(0, 10) == set()
    assert found(0, 11) == {a, zero}
    assert found(10, 11) == {a, zero}  # a zero-length annotation at the query start matches
    assert found(11) == {a}
    assert found(0) == {a, zero}


def test_long_annotation_found_far_from_its_start(backend: Backend, generic: str) -> None:
    long_one = backend.annotations.create(OWNER, ann(generic, "0", str(MAX_RANGE)))["id"]
    backend.annotations.batch_create(
        OWNER, {"annotations": [ann(generic, str(i), str(i + 1)) for i in range(50)]}
    )
    hits = search_all(
        backend, annotationSetIds=[generic], referenceName="chr1", start="99999999", end="100000005"
    )
    assert ids(hits) == [long_one]


def test_reference_by_id_and_by_name(backend: Backend, generic: str) -> None:
    """In a set whose reference set is known, name and id are filled in from each other, and a
    search by either finds every annotation on that reference."""
    named = backend.annotations.create(OWNER, ann(generic))
    by_id = backend.annotations.create(
        OWNER, {**ann(generic, "15", "16", referenceId=CHR1), "referenceName": ""}
    )
    both = backend.annotations.create(OWNER, ann(generic, "12", "13", referenceId=CHR1))
    assert {(a["referenceName"], a["referenceId"]) for a in (named, by_id, both)} == {("chr1", CHR1)}
    on_chr1 = [named["id"], both["id"], by_id["id"]]
    assert ids(search_all(backend, annotationSetIds=[generic], referenceName="chr1")) == on_chr1
    assert ids(search_all(backend, annotationSetIds=[generic], referenceId=CHR1)) == on_chr1
    assert (
        ids(search_all(backend, annotationSetIds=[generic], referenceId=CHR1, referenceName="chr1"))
        == on_chr1
    )
    chr2 = backend.annotations.create(OWNER, ann(generic, ref="chr2"))
    assert chr2["referenceId"] == backend.reference_sets.reference_by_name(GRCH38, "chr2")["id"]
    assert ids(search_all(backend, annotationSetIds=[generic], referenceId=chr2["referenceId"])) == [
        chr2["id"]
    ]
    assert ids(search_all(backend, annotationSetIds=[generic], referenceName="chr2", referenceId=CHR1)) == []


@pytest.mark.parametrize(
    ("fields", "named", "rule"),
    [
        ({"referenceName": "1"}, "annotation.referenceName", "is not a reference of reference set"),
        ({"referenceName": None, "referenceId": "nope"}, "annotation.referenceId", "is not a reference of"),
        (
            {"referenceName": "chr2", "referenceId": CHR1},
            "annotation.referenceName",
            "does not match referenceId",
        ),
        (
            {"referenceName": "chrM", "start": "10", "end": "16570"},
            "annotation.end",
            "past the end of reference",
        ),
    ],
)
def test_references_must_belong_to_the_set_and_agree(
    backend: Backend, generic: str, fields: dict[str, Any], named: str, rule: str
) -> None:
    body = {k: v for k, v in {**ann(generic), **fields}.items() if v is not None}
    message = bad(backend, body).message
    assert message.startswith(named) and rule in message
    batch = backend.annotations.batch_create(OWNER, {"annotations": [body]})["entries"][0]
    assert rule in batch["status"]["message"]  # the same rule, per batch entry
    assert backend.annotations.create(OWNER, ann(generic, "0", "16569", ref="chrM"))["end"] == "16569"


def test_order_is_reference_start_id_across_sets(
    backend: Backend, dataset: dict[str, Any], generic: str
) -> None:
    second = new_set(backend, dataset["id"])
    created = []
    for set_id in (generic, second):
        for ref, start in [("chr2", 5), ("chr1", 7), ("chr1", 5), ("chr1", 5)]:
            created.append(
                backend.annotations.create(OWNER, ann(set_id, str(start), str(start + 3), ref=ref))
            )
    got = search_all(backend, annotationSetIds=[second, generic], pageSize=3)
    expected = sorted(created, key=lambda a: (a["referenceName"], int(a["start"]), a["id"]))
    assert got == expected


# -- soft delete and permissions ------------------------------------------------------


def test_annotations_of_deleted_dataset_are_404_until_undelete(
    backend: Backend, dataset: dict[str, Any], generic: str
) -> None:
    created = backend.annotations.create(OWNER, ann(generic))
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(backend.annotations.get, OWNER, created["id"]).code == 404
    assert error(backend.annotations.update, OWNER, created["id"], {"name": "x"}, "name").code == 404
    assert error(backend.annotations.delete, OWNER, created["id"]).code == 404
    assert error(backend.annotations.create, OWNER, ann(generic)).code == 404
    assert error(backend.annotations.batch_create, OWNER, {"annotations": [ann(generic)]}).code == 404
    assert error(backend.annotations.search, OWNER, {"annotationSetIds": [generic]}).code == 404
    backend.datasets.undelete(OWNER, dataset["id"])
    assert backend.annotations.get(OWNER, created["id"]) == created
    assert search_all(backend, annotationSetIds=[generic]) == [created]


def test_permissions(backend: Backend, generic: str) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    created = backend.annotations.create(OWNER, ann(generic))
    assert backend.annotations.get(VIEWER, created["id"]) == created
    assert search_all(backend, VIEWER, annotationSetIds=[generic]) == [created]
    for call, args, permission in [
        (backend.annotations.create, (ann(generic),), "genomics.annotations.create"),
        (backend.annotations.batch_create, ({"annotations": [ann(generic)]},), "genomics.annotations.create"),
        (backend.annotations.update, (created["id"], {"name": "x"}, "name"), "genomics.annotations.update"),
        (backend.annotations.delete, (created["id"],), "genomics.annotations.delete"),
    ]:
        err = error(call, VIEWER, *args)
        assert err.code == 403 and permission in err.message
    hidden = error(backend.annotations.get, STRANGER, created["id"])
    assert hidden.code == 404 and hidden.message == backend.annotations.missing(created["id"]).message
    err = error(backend.annotations.search, STRANGER, {"annotationSetIds": [generic]})
    assert err.code == 404 and generic in err.message
    assert len(list(backend.annotations.all_records())) == 1


# -- properties -----------------------------------------------------------------------

#: the references of a reference set long enough for any int64 range the properties draw
UNBOUNDED_NAMES = ("chr1", "1", "ref", "a b", "\u00e9")


@pytest.fixture
def unbounded(backend: Backend, dataset: dict[str, Any]) -> str:
    """A GENERIC set on a reference set whose references are 2**62 long."""
    references = backend.reference_sets.create([{"name": n, "length": 2**62} for n in UNBOUNDED_NAMES])
    return new_set(backend, dataset["id"], referenceSetId=references["id"])


INVALID_CASES = st.sampled_from(
    [
        ("annotationSetId", lambda b: b.pop("annotationSetId")),
        ("referenceName", lambda b: b.pop("referenceName")),
        ("annotation.start", lambda b: b.update(start="-5")),
        ("annotation.start", lambda b: b.update(start="1e3")),
        ("annotation.end", lambda b: b.update(end=str(int(b["start"]) - 1))),
        ("annotation.end", lambda b: b.update(end="ten")),
        ("100 Mbp", lambda b: b.update(end=str(int(b["start"]) + MAX_RANGE + 1))),
        ("annotation.type", lambda b: b.update(type="GENE")),
        ("annotation.transcript", lambda b: b.update(transcript=exons(("1", "2")))),
        ("annotation.variant", lambda b: b.update(variant={"type": "SNP"})),
        ("annotation.info", lambda b: b.update(info=["x"])),
        ("annotation.name", lambda b: b.update(name=["x"])),
    ]
)

VALID = st.fixed_dictionaries(
    {
        "start": st.integers(0, 10**12),
        "length": st.integers(0, MAX_RANGE),
        "as_int": st.booleans(),
        "ref": st.sampled_from(UNBOUNDED_NAMES),
    },
    optional={
        "name": st.text(max_size=10),
        "reverseStrand": st.booleans(),
        "info": st.dictionaries(st.text(max_size=5), st.lists(st.text(max_size=5), max_size=3), max_size=3),
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=INVALID_CASES, base=VALID)
def test_random_invalid_annotations_name_the_field(
    backend: Backend, unbounded: str, case: Any, base: Any
) -> None:
    field, mutate = case
    body = ann(unbounded, str(base["start"]), str(base["start"] + base["length"]), ref=base["ref"])
    mutate(body)
    err = error(backend.annotations.create, OWNER, body)
    assert err.code == 400 and field in err.message, (body, err.message)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=VALID)
def test_random_valid_annotations_accepted(backend: Backend, unbounded: str, base: Any) -> None:
    start, end = base["start"], base["start"] + base["length"]
    body = ann(
        unbounded,
        start if base["as_int"] else str(start),
        end if base["as_int"] else str(end),
        ref=base["ref"],
    )
    for key in ("name", "reverseStrand", "info"):
        if key in base:
            body[key] = base[key]
    created = backend.annotations.create(OWNER, body)
    assert created.get("start", "0") == str(start) and created.get("end", "0") == str(end)
    assert backend.annotations.get(OWNER, created["id"]) == created
    hits = search_all(backend, annotationSetIds=[unbounded], referenceName=base["ref"], start=str(start))
    assert created["id"] in ids(hits)


INTERVALS = st.lists(
    st.tuples(st.sampled_from(["chr1", "chr2"]), st.integers(0, 200), st.integers(0, 60)), max_size=40
)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    intervals=INTERVALS,
    query=st.tuples(st.integers(0, 260), st.one_of(st.none(), st.integers(1, 80))),
    page=st.integers(1, 7),
    delete_every=st.integers(2, 5),
    long_threshold=st.sampled_from([Bucket.long_threshold, 0, 10, 30]),
)
def test_indexed_search_equals_brute_force(
    intervals: list[tuple[str, int, int]], query: Any, page: int, delete_every: int, long_threshold: int
) -> None:
    default = Bucket.long_threshold
    Bucket.long_threshold = long_threshold  # exercise the short and long tiers together
    try:
        check_search_against_brute_force(intervals, query, page, delete_every)
    finally:
        Bucket.long_threshold = default


def check_search_against_brute_force(
    intervals: list[tuple[str, int, int]], query: Any, page: int, delete_every: int
) -> None:
    backend = Backend(clock=FakeClock(), id_seed=1)
    ds = backend.datasets.create(OWNER, {"projectId": "p"})["id"]
    sets = [new_set(backend, ds), new_set(backend, ds)]
    created = [
        backend.annotations.create(OWNER, ann(sets[i % 2], str(s), str(s + n), ref=ref))
        for i, (ref, s, n) in enumerate(intervals)
    ]
    for doomed in created[::delete_every]:
        backend.annotations.delete(OWNER, doomed["id"])
    live = [a for a in created if a not in created[::delete_every]]
    qs, width = query
    qe = None if width is None else qs + width
    body: dict[str, Any] = {
        "annotationSetIds": sets,
        "referenceName": "chr1",
        "start": str(qs),
        "pageSize": page,
    }
    if qe is not None:
        body["end"] = str(qe)

    def overlaps(a: dict[str, Any]) -> bool:
        s, e = int(a.get("start", "0")), int(a.get("end", "0"))
        upper = qe if qe is not None else float("inf")
        return a["referenceName"] == "chr1" and s < upper and (e > qs or s >= qs)

    expected = sorted(filter(overlaps, live), key=lambda a: (int(a.get("start", "0")), a["id"]))
    assert search_all(backend, **body) == expected


def test_search_authorizes_every_set(backend: Backend, generic: str) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    elsewhere = backend.datasets.create(OWNER, {"projectId": "p2"})["id"]
    foreign = new_set(backend, elsewhere)
    backend.annotations.create(OWNER, ann(generic))
    backend.annotations.create(OWNER, ann(foreign))
    assert len(search_all(backend, VIEWER, annotationSetIds=[generic])) == 1
    err = error(backend.annotations.search, VIEWER, {"annotationSetIds": [generic, foreign]})
    assert err.code == 404 and foreign in err.message
    backend.iam.add_project_binding("p2", "roles/genomics.viewer", VIEWER.member)
    assert len(search_all(backend, VIEWER, annotationSetIds=[generic, foreign])) == 2


def test_long_annotations_do_not_widen_the_short_tier() -> None:
    bucket = Bucket(lambda record: (record.start, record.id))
    short = [
        AnnotationRecord(f"s{i}", "set", "chr1", None, i * 1000, i * 1000 + 50, None) for i in range(100)
    ]
    huge = AnnotationRecord("h", "set", "chr1", None, 0, 100_000_000, None)
    bucket.add_many([*short[:50], huge])
    bucket.add(short[50])
    bucket.add_many(short[51:])
    assert bucket.short.max_len == 50 and bucket.long is not None and bucket.long.max_len == 100_000_000
    assert [r.id for r in bucket.scan(None, 50_010, 51_000)] == ["h", "s50"]
    bucket.remove(huge)
    assert [r.id for r in bucket.scan(None, 50_010, 51_000)] == ["s50"]
    assert sorted(r.id for r in bucket.records()) == sorted(r.id for r in short)


# -- search renderings kept per record ------------------------------------------------------


def test_search_renders_each_record_as_get_does_after_every_change(
    backend: Backend, dataset: dict[str, Any], generic: str
) -> None:
    """Search pages are assembled from renderings kept per record: they must follow a patch, a
    mask-less update, a delete and a reset exactly as ``get`` does."""
    tset = new_set(backend, dataset["id"], "TRANSCRIPT")
    a = backend.annotations.create(OWNER, ann(tset, name="a", info={"k": ["v"]}))
    b = backend.annotations.create(OWNER, ann(tset, "30", "40"))

    def same_as_get() -> list[dict[str, Any]]:
        found = search_all(backend, annotationSetIds=[tset], referenceName="chr1")
        assert found == [backend.annotations.get(OWNER, item["id"]) for item in found]
        return found

    assert ids(same_as_get()) == [a["id"], b["id"]]
    backend.annotations.update(OWNER, a["id"], {"name": "b", "info": {"x": ["y"]}}, "name,info")
    backend.annotations.update(OWNER, b["id"], {"name": "n"}, "name")
    found = same_as_get()
    assert (found[0]["name"], found[0]["info"], found[1]["name"]) == ("b", {"x": ["y"]}, "n")
    backend.annotations.update(OWNER, a["id"], {"name": "c"}, None)
    assert "info" not in same_as_get()[0]
    backend.annotations.delete(OWNER, b["id"])
    assert ids(same_as_get()) == [a["id"]]
    c = backend.annotations.create(OWNER, ann(tset, "50", "60"))
    assert ids(same_as_get()) == [a["id"], c["id"]]
    document = snapshot.snapshot(backend)
    document["state"]["annotations"]["records"][c["id"]][3:5] = [55, 65]  # the same id, moved
    snapshot.restore(backend, document)
    assert [(item["id"], item["start"]) for item in same_as_get()][1] == (c["id"], "55")
    backend.reset()
    dataset_id = backend.datasets.create(OWNER, {"projectId": "p", "name": "d"})["id"]
    again = backend.annotations.create(OWNER, ann(new_set(backend, dataset_id), "10", "20"))
    assert search_all(backend, annotationSetIds=[again["annotationSetId"]]) == [again]


def test_a_search_result_is_the_callers_own(backend: Backend, generic: str) -> None:
    """Changing what one search returned (free-form values included) changes no later answer."""
    plain = backend.annotations.create(OWNER, ann(generic))
    rich = backend.annotations.create(OWNER, ann(generic, "30", "40", info={"k": ["v"]}))
    first = search_all(backend, annotationSetIds=[generic])
    first[0]["name"] = "changed"
    first[1]["info"]["k"].append("w")
    first[1]["info"]["new"] = ["x"]
    assert search_all(backend, annotationSetIds=[generic]) == [plain, rich]


def test_kept_renderings_are_bounded(
    backend: Backend, generic: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mockserver.backend import annotations as module

    monkeypatch.setattr(module, "RENDERED_KEPT", 3)
    created = [backend.annotations.create(OWNER, ann(generic, str(i), str(i + 5))) for i in range(10)]
    assert search_all(backend, annotationSetIds=[generic], pageSize=4) == created
    assert 0 < len(backend.annotations._rendered) <= 3


@settings(max_examples=300, deadline=None)
@example(text=str(2**63 - 1))
@example(text=str(2**63))
@given(text=st.one_of(
    st.text(alphabet=st.sampled_from("0123456789-+ ._e\u0661\u00b2\u0966\uff11x"), max_size=22),
    st.integers(-(2**64), 2**64).map(str),
))
def test_int64_text_is_optional_minus_then_ascii_digits_only(text: str) -> None:
    """An int64 field takes decimal text (``-?[0-9]+``) within range; other digits (Arabic-Indic,
    superscript, full-width), signs, spaces and exponents are 400 naming the field."""
    import re

    from mockserver.backend.annotation_validation import INT64_MAX, INT64_MIN, parse_int64
    from mockserver.errors import ApiError

    if text == "":
        assert parse_int64(text, "start", default=7) == 7
    elif re.fullmatch(r"-?[0-9]+", text, flags=re.ASCII) and INT64_MIN <= int(text) <= INT64_MAX:
        assert parse_int64(text, "start") == int(text)
    else:
        with pytest.raises(ApiError, match="start"):
            parse_int64(text, "start")


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(
    st.lists(st.one_of(st.sampled_from(["b", "a", "", "a"]), st.integers(0, 1), st.none()), max_size=3),
    st.sampled_from([None, "a", 1, {}, {"a": 1}, True]),
))
def test_required_ids_are_sorted_distinct_non_empty_strings(value: Any) -> None:
    """``annotationSetIds`` (any required id list): a non-empty list of non-empty strings, given
    back sorted and without repeats; anything else is 400 naming the field."""
    from mockserver.backend.request_fields import required_ids

    valid = isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    if valid and value:
        assert required_ids({"ids": value}, "ids") == sorted(set(value))
    else:
        with pytest.raises(ApiError) as info:
            required_ids({"ids": value}, "ids")
        rule = "is required" if valid or value is None else "must be a list of non-empty strings"
        assert info.value.code == 400 and info.value.message == f"ids {rule}"


# -- every search shape against brute force ---------------------------------------------------

#: (referenceName or None, referenceId or None): names with and without ids, ids alone
REFERENCES = [("chr1", "r1"), ("chr1", None), ("chr2", "r2"), (None, "r1"), (None, "r2"), ("chr2", "r1")]
STORED = st.lists(
    st.tuples(st.sampled_from(REFERENCES), st.integers(0, 120), st.integers(0, 40), st.integers(0, 2)),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    stored=STORED,
    searched=st.sampled_from([[0], [1], [0, 2], [0, 1, 2]]),
    by=st.sampled_from([("chr1", None), ("chr2", None), (None, "r1"), (None, "r2"), ("chr1", "r1"),
                        ("chr2", "r1"), (None, None)]),
    span=st.tuples(st.integers(0, 130), st.one_of(st.none(), st.integers(1, 60))),
    sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    long_threshold=st.sampled_from([Bucket.long_threshold, 10]),
)
def test_every_search_shape_pages_like_brute_force(
    stored: list[tuple[tuple[str | None, str | None], int, int, int]],
    searched: list[int],
    by: tuple[str | None, str | None],
    span: tuple[int, int | None],
    sizes: list[int],
    long_threshold: int,
) -> None:
    """One set or several, by referenceName, by referenceId (primary and secondary buckets), by
    both, or over every reference: the pages concatenate to the brute-force order
    ``(reference key, start, id)`` whatever the page sizes, and a single-set search gives what the
    same search over that set and an empty one gives."""
    backend = Backend(clock=FakeClock(), id_seed=5)
    ds = backend.datasets.create(OWNER, {"projectId": "p"})["id"]
    sets = [new_set(backend, ds) for _ in range(3)]
    empty = new_set(backend, ds)
    document = snapshot.snapshot(backend)
    rows = document["state"]["annotations"]["records"]
    for i, ((name, ref_id), start, length, which) in enumerate(stored):
        rows[f"a{i:03d}x{(i * 7) % 5}"] = [sets[which], name, ref_id, start, start + length, None]
    snapshot.restore(backend, document)
    name, ref_id = by
    qs, width = span if name or ref_id else (0, None)
    qe = None if width is None else qs + width

    def refkey(row: list[Any]) -> str:
        """A search by reference orders by (start, id) alone: its refkey is the query's."""
        if name or ref_id:
            return ""
        return f"n:{row[1]}" if row[1] is not None else f"i:{row[2]}"

    def found(row: list[Any]) -> bool:
        s, e = row[3], row[4]
        on = (name is None or row[1] == name) and (ref_id is None or row[2] == ref_id)
        return on and (qe is None or s < qe) and (e > qs or s >= qs)

    chosen = {sets[i] for i in searched}
    hits = [(refkey(row), row[3], key) for key, row in rows.items() if row[0] in chosen and found(row)]
    expected = [key for _, _, key in sorted(hits)]
    body: dict[str, Any] = {"annotationSetIds": [sets[i] for i in searched]}
    if name:
        body["referenceName"] = name
    if ref_id:
        body["referenceId"] = ref_id
    if name or ref_id:
        body["start"] = str(qs)
        if qe is not None:
            body["end"] = str(qe)
    default = Bucket.long_threshold
    Bucket.long_threshold = long_threshold
    try:
        got: list[str] = []
        token = None
        for page in range(100):
            answer = backend.annotations.search(
                OWNER, {**body, "pageSize": sizes[page % len(sizes)], "pageToken": token}
            )
            got += ids(answer.get("annotations", []))
            token = answer.get("nextPageToken")
            if token is None:
                break
        assert got == expected
        if len(searched) == 1:
            merged = search_all(backend, **{**body, "annotationSetIds": [*body["annotationSetIds"], empty]})
            assert ids(merged) == expected
    finally:
        Bucket.long_threshold = default


@settings(max_examples=150, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 100), st.integers(0, 50)), max_size=25),
    bounds=st.tuples(st.integers(-1, 160), st.one_of(st.none(), st.integers(1, 60))),
    after=st.one_of(st.none(), st.tuples(st.integers(0, 160), st.sampled_from(["", "r05", "r5", "s"]))),
    long_threshold=st.sampled_from([Bucket.long_threshold, 0, 20]),
    data=st.data(),
)
def test_bucket_scan_is_the_overlap_rule_in_key_order(
    spans: list[tuple[int, int]],
    bounds: tuple[int, int | None],
    after: tuple[int, str] | None,
    long_threshold: int,
    data: st.DataObject,
) -> None:
    """``scan(after, qs, qe)``: the records strictly after ``after`` in (start, id) order with
    ``s < qe`` and ``e > qs`` (a zero-length one: ``s >= qs``); None bounds nothing. The query
    often starts where a record starts or ends (the edges of the rule), and the cursor is often
    a stored record's key."""
    edges = sorted({p for s, n in spans for p in (s, s + n)})
    if edges and data.draw(st.booleans(), label="qs on an edge"):
        bounds = (data.draw(st.sampled_from(edges), label="qs"), bounds[1])
    qs = None if bounds[0] < 0 else bounds[0]
    qe = None if qs is None or bounds[1] is None else qs + bounds[1]
    if spans and data.draw(st.booleans(), label="after a stored record"):
        i = data.draw(st.integers(0, len(spans) - 1), label="after")
        after = (spans[i][0], f"r{i}")
    records = [
        AnnotationRecord(f"r{i}", "set", "chr1", None, s, s + n, None) for i, (s, n) in enumerate(spans)
    ]
    default = Bucket.long_threshold
    Bucket.long_threshold = long_threshold
    try:
        bucket = Bucket(lambda record: (record.start, record.id))
        bucket.add_many(records[::2])
        for record in records[1::2]:
            bucket.add(record)
        got = [r.id for r in bucket.scan(after, qs, qe)]
    finally:
        Bucket.long_threshold = default
    expected = [
        r.id
        for r in sorted(records, key=lambda r: (r.start, r.id))
        if (after is None or (r.start, r.id) > after)
        and (qe is None or r.start < qe)
        and (qs is None or r.end > qs or r.start >= qs)
    ]
    assert got == expected
