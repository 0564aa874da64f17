"""Read group sets: import (partitioning, reference sets, failures), CRUD, export round trip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pysam
import pytest
import samfiles

from mockserver.backend import Backend
from mockserver.backend.principals import DEFAULT_OWNER as OWNER
from mockserver.errors import ApiError


@pytest.fixture
def be(tmp_path: Path) -> Backend:
    return samfiles.new_backend(tmp_path / "storage")


@pytest.fixture
def root(be: Backend) -> Path:
    return be.storage.root


@pytest.fixture
def ds(be: Backend) -> str:
    return be.datasets.create(OWNER, {"projectId": "proj"})["id"]


def sets_in(be: Backend, ds: str) -> list[dict[str, Any]]:
    return be.read_group_sets.search(OWNER, {"datasetIds": [ds]}).get("readGroupSets", [])


def imported(op: dict[str, Any]) -> list[str]:
    assert op["done"] and "error" not in op, op.get("error")
    assert op["response"]["@type"].endswith("ImportReadGroupSetsResponse")
    return op["response"]["readGroupSetIds"]


def two_files(root: Path) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    samfiles.write_toy(root / "bk" / "b.bam", seed=9)


# -- import: partitioning -----------------------------------------------------------------


def test_per_file_per_sample_makes_one_set_per_file_per_sample(be: Backend, root: Path, ds: str) -> None:
    two_files(root)
    ids = imported(samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/b.bam"))
    # each file: sampleA, sampleB, and its read-group-less reads
    assert len(ids) == 6
    names = sorted(be.read_group_sets.get(OWNER, i)["name"] for i in ids)
    assert names == ["a", "b", "sampleA", "sampleA", "sampleB", "sampleB"]
    sample_b = next(s for s in sets_in(be, ds) if s["name"] == "sampleB")
    assert [g["name"] for g in sample_b["readGroups"]] == ["rgB1", "rgB2"]


def test_merge_all_makes_one_set_plus_one_for_reads_without_read_group(
    be: Backend, root: Path, ds: str
) -> None:
    two_files(root)
    ids = imported(samfiles.run_import(be, ds, "gs://bk/*.bam", partitionStrategy="MERGE_ALL"))
    assert len(ids) == 2
    merged = be.read_group_sets.get(OWNER, ids[0])
    assert sorted(g["name"] for g in merged["readGroups"]) == ["rgA", "rgB1", "rgB2"]
    total = len(be.reads.search(OWNER, {"readGroupSetIds": ids, "pageSize": 2048})["alignments"])
    assert total == 2 * len(samfiles.toy_records())


def test_wildcard_expands_to_every_matching_object(be: Backend, root: Path, ds: str) -> None:
    two_files(root)
    (root / "bk" / "skip.txt").write_text("x")
    assert len(imported(samfiles.run_import(be, ds, "gs://bk/*.bam"))) == 6


def test_read_group_fields_and_programs_only_on_first_group(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    ids = imported(samfiles.run_import(be, ds, "gs://bk/a.bam"))
    by_name = {be.read_group_sets.get(OWNER, i)["name"]: be.read_group_sets.get(OWNER, i) for i in ids}
    a = by_name["sampleA"]
    assert a["filename"] == "a.bam" and a["datasetId"] == ds
    (group,) = a["readGroups"]
    assert group["sampleId"] == "sampleA" and group["referenceSetId"] == a["referenceSetId"]
    assert group["experiment"] == {
        "libraryId": "libA",
        "platformUnit": "unitA",
        "sequencingCenter": "centerA",
        "instrumentModel": "ILLUMINA",
    }
    assert group["programs"][0]["id"] == "bwa"
    b1, b2 = by_name["sampleB"]["readGroups"]
    assert b1["predictedInsertSize"] == 300 and b1["description"] == "first lane"
    assert b1["info"] == {"DT": ["2020-01-01"]}
    assert "programs" in b1 and "programs" not in b2


# -- import: reference sets ----------------------------------------------------------------


def test_reference_set_created_from_header_then_reused(be: Backend, root: Path, ds: str) -> None:
    md5 = {"ref": "1" * 32, "ref2": "2" * 32}
    samfiles.write_toy(root / "bk" / "a.bam", md5=md5)
    samfiles.write_toy(root / "bk" / "b.bam", md5=md5)
    first = imported(samfiles.run_import(be, ds, "gs://bk/a.bam"))
    ref_set = be.read_group_sets.get(OWNER, first[0])["referenceSetId"]
    assert be.reference_sets.reference_names(ref_set) == {"ref", "ref2"}
    found = be.reference_sets.reference_by_name(ref_set, "ref")
    assert found["length"] == "45" and found["md5checksum"] == "1" * 32
    second = imported(samfiles.run_import(be, ds, "gs://bk/b.bam"))
    assert be.read_group_sets.get(OWNER, second[0])["referenceSetId"] == ref_set


def test_given_reference_set_is_used(be: Backend, root: Path, ds: str) -> None:
    ref_set = be.reference_sets.create(
        [{"name": "ref", "length": 45}, {"name": "ref2", "length": 40}, {"name": "ref3", "length": 9}]
    )["id"]
    samfiles.write_toy(root / "bk" / "a.bam")
    ids = imported(samfiles.run_import(be, ds, "gs://bk/a.bam", referenceSetId=ref_set))
    assert {be.read_group_sets.get(OWNER, i)["referenceSetId"] for i in ids} == {ref_set}


# -- import: failures end the operation and create nothing -----------------------------------


def _failed(be: Backend, ds: str, op: dict[str, Any], code: int, *needles: str) -> None:
    assert op["done"] and "response" not in op
    assert op["error"]["code"] == code, op["error"]
    for needle in needles:
        assert needle in op["error"]["message"]
    assert sets_in(be, ds) == []


def test_missing_file_fails_not_found(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/missing.bam")
    _failed(be, ds, op, 5, "gs://bk/missing.bam")


def test_text_file_fails_invalid_argument(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    (root / "bk" / "notes.bam").write_text("this is not a BAM file\n")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/notes.bam")
    _failed(be, ds, op, 3, "gs://bk/notes.bam")


def test_truncated_bam_fails_invalid_argument(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    data = (root / "bk" / "a.bam").read_bytes()
    (root / "bk" / "cut.bam").write_bytes(data[: len(data) // 2])
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/cut.bam")
    _failed(be, ds, op, 3, "gs://bk/cut.bam")


def test_header_not_covered_by_reference_set_fails(be: Backend, root: Path, ds: str) -> None:
    ref_set = be.reference_sets.create([{"name": "ref", "length": 45}])["id"]
    samfiles.write_toy(root / "bk" / "a.bam")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", referenceSetId=ref_set)
    _failed(be, ds, op, 3, "gs://bk/a.bam", "ref2")


def test_merge_all_with_different_headers_fails(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    samfiles.write(root / "bk" / "c.bam", [], references=[("ref", 45)])
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/c.bam", partitionStrategy="MERGE_ALL")
    _failed(be, ds, op, 3, "gs://bk/c.bam")


def test_failed_import_creates_no_reference_set(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    (root / "bk" / "z.bam").write_text("nope")
    samfiles.run_import(be, ds, "gs://bk/a.bam", "gs://bk/z.bam")
    assert be.reference_sets.find_for_header([("ref", 45, None), ("ref2", 40, None)]) is None


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"sourceUris": ["gs://bk/a.bam"]}, "INVALID_ARGUMENT", "datasetId"),
        ({"datasetId": "DS"}, "INVALID_ARGUMENT", "sourceUris"),
        ({"datasetId": "DS", "sourceUris": ["/etc/passwd"]}, "INVALID_ARGUMENT", "sourceUris"),
        ({"datasetId": "DS", "sourceUris": ["gs://bk/../x.bam"]}, "INVALID_ARGUMENT", "sourceUris"),
        ({"datasetId": "DS", "sourceUris": ["gs://bk/a.bam"], "partitionStrategy": "X"}, "INVALID_ARGUMENT",
         "partitionStrategy"),
        ({"datasetId": "DS", "sourceUris": ["gs://bk/a.bam"], "referenceSetId": "nope"}, "NOT_FOUND", "nope"),
        ({"datasetId": "unknown", "sourceUris": ["gs://bk/a.bam"]}, "NOT_FOUND", "unknown"),
    ],
)  # fmt: skip
def test_import_request_errors_are_immediate(
    be: Backend, ds: str, body: dict, status: str, needle: str
) -> None:
    body = {k: (ds if v == "DS" else v) for k, v in body.items()}
    with pytest.raises(ApiError) as err:
        be.read_group_sets.import_(OWNER, body)
    assert err.value.status == status and needle in err.value.message
    assert be.operations.list(OWNER, "projectId = proj") == {}


# -- operation modes ---------------------------------------------------------------------------


def test_background_import_finishes_off_the_request(be: Backend, root: Path, ds: str) -> None:
    be.operations.mode = "background"
    samfiles.write_toy(root / "bk" / "a.bam")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam")
    final = be.operations.wait(op["name"])
    assert len(imported(final)) == 3
    be.operations.shutdown()


def test_manual_import_stays_running_until_completed(be: Backend, root: Path, ds: str) -> None:
    be.operations.mode = "manual"
    samfiles.write_toy(root / "bk" / "a.bam")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam")
    assert not be.operations.get(OWNER, op["name"]).get("done") and sets_in(be, ds) == []
    assert len(imported(be.operations.complete(op["name"]))) == 3


# -- get / patch / delete / search ------------------------------------------------------------


@pytest.fixture
def one(be: Backend, root: Path, ds: str) -> str:
    samfiles.write_toy(root / "bk" / "a.bam")
    ids = imported(samfiles.run_import(be, ds, "gs://bk/a.bam"))
    return next(i for i in ids if be.read_group_sets.get(OWNER, i)["name"] == "sampleA")


def test_patch_name_and_reference_set(be: Backend, one: str) -> None:
    got = be.read_group_sets.patch(OWNER, one, {"name": "renamed", "referenceSetId": "x"}, "name")
    assert got["name"] == "renamed" and got["referenceSetId"] != "x"
    other = be.reference_sets.create([{"name": "ref", "length": 45}])["id"]
    got = be.read_group_sets.patch(OWNER, one, {"referenceSetId": other}, "referenceSetId")
    assert got["referenceSetId"] == other and got["readGroups"][0]["referenceSetId"] == other


@pytest.mark.parametrize(
    ("body", "mask", "status"),
    [
        ({"referenceSetId": "nope"}, "referenceSetId", "NOT_FOUND"),
        ({"filename": "f"}, "filename", "INVALID_ARGUMENT"),
    ],
)
def test_patch_rejects_unknown_reference_set_and_immutable_fields(
    be: Backend, one: str, body: dict, mask: str, status: str
) -> None:
    with pytest.raises(ApiError) as err:
        be.read_group_sets.patch(OWNER, one, body, mask)
    assert err.value.status == status


def test_delete_removes_set_and_its_reads(be: Backend, one: str) -> None:
    group = be.read_group_sets.get(OWNER, one)["readGroups"][0]["id"]
    be.read_group_sets.delete(OWNER, one)
    for call in (
        lambda: be.read_group_sets.get(OWNER, one),
        lambda: be.reads.search(OWNER, {"readGroupSetIds": [one]}),
        lambda: be.reads.search(OWNER, {"readGroupIds": [group]}),
    ):
        with pytest.raises(ApiError) as err:
            call()
        assert err.value.status == "NOT_FOUND"


def test_dataset_soft_delete_hides_and_restores_sets(be: Backend, ds: str, one: str) -> None:
    be.datasets.delete(OWNER, ds)
    with pytest.raises(ApiError) as err:
        be.read_group_sets.get(OWNER, one)
    assert err.value.status == "NOT_FOUND"
    be.datasets.undelete(OWNER, ds)
    assert be.read_group_sets.get(OWNER, one)["id"] == one


def test_search_filters_by_name_substring_and_pages(be: Backend, root: Path, ds: str) -> None:
    two_files(root)
    samfiles.run_import(be, ds, "gs://bk/*.bam")
    assert {
        s["name"]
        for s in be.read_group_sets.search(OWNER, {"datasetIds": [ds], "name": "SAMPLEb"})["readGroupSets"]
    } == {"sampleB"}
    seen, token = [], None
    while True:
        page = be.read_group_sets.search(OWNER, {"datasetIds": [ds], "pageSize": 4, "pageToken": token})
        seen += [s["id"] for s in page["readGroupSets"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert seen == sorted(seen) and len(seen) == 6


@pytest.mark.parametrize("body", [{}, {"datasetIds": []}, {"datasetIds": ["missing"]}])
def test_search_needs_live_datasets(be: Backend, body: dict) -> None:
    with pytest.raises(ApiError):
        be.read_group_sets.search(OWNER, body)


# -- export ---------------------------------------------------------------------------------


def _records(path: Path) -> list[tuple]:
    with pysam.AlignmentFile(str(path)) as handle:
        return [
            (
                s.query_name,
                s.flag,
                s.reference_name if not s.is_unmapped else None,
                s.reference_start if not s.is_unmapped else None,
                s.cigarstring,
                s.query_sequence,
                list(s.query_qualities or []),
                sorted((k, str(v)) for k, v in s.get_tags() if k != "RG"),
                s.get_tag("RG") if s.has_tag("RG") else None,
            )
            for s in handle
        ]


def test_export_round_trip_matches_the_imported_file(be: Backend, root: Path, ds: str) -> None:
    source = samfiles.write_toy(root / "bk" / "a.bam")
    set_id = imported(samfiles.run_import(be, ds, "gs://bk/a.bam", partitionStrategy="MERGE_ALL"))[0]
    op = be.read_group_sets.export(OWNER, set_id, {"projectId": "proj", "exportUri": "gs://out/x.bam"})
    assert op["done"] and op["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    exported = root / "out" / "x.bam"
    with pysam.AlignmentFile(str(exported)) as handle:
        header = handle.header.to_dict()
    assert [(sq["SN"], sq["LN"]) for sq in header["SQ"]] == [("ref", 45), ("ref2", 40)]
    assert {rg["ID"] for rg in header["RG"]} == {"rgA", "rgB1", "rgB2"}
    assert header["PG"][-1]["PN"] == "genomics-mock"
    original = [r for r in _records(source) if r[8] is not None]  # MERGE_ALL's first set: reads with a group
    back = _records(exported)
    mapped = [r for r in back if r[2] is not None]
    assert mapped == sorted(mapped, key=lambda r: (r[2], r[3]))  # coordinate-sorted
    # documented caveat: unmapped reverse reads come back reverse-complemented, forward
    fix = {r[0]: r for r in back if r[2] is None}
    assert fix["u1"][5] == "ACGGTT" and fix["u1"][1] & 16 == 0
    comparable = [r for r in original if r[0] != "u1"]
    assert sorted(comparable, key=repr) == sorted([r for r in back if r[0] != "u1"], key=repr)


def test_export_reference_names_filter(be: Backend, root: Path, ds: str) -> None:
    samfiles.write_toy(root / "bk" / "a.bam")
    set_id = imported(samfiles.run_import(be, ds, "gs://bk/a.bam", partitionStrategy="MERGE_ALL"))[0]
    be.read_group_sets.export(
        OWNER, set_id, {"projectId": "p", "exportUri": "gs://o/a.bam", "referenceNames": ["ref2"]}
    )
    be.read_group_sets.export(
        OWNER, set_id, {"projectId": "p", "exportUri": "gs://o/u.bam", "referenceNames": ["*"]}
    )
    assert {r[2] for r in _records(root / "o" / "a.bam")} == {"ref2"}
    assert {r[0] for r in _records(root / "o" / "u.bam")} == {"u1", "u2"}


def test_export_over_existing_object_fails_the_operation(be: Backend, root: Path, one: str) -> None:
    (root / "out").mkdir()
    (root / "out" / "x.bam").write_bytes(b"keep me")
    op = be.read_group_sets.export(OWNER, one, {"projectId": "proj", "exportUri": "gs://out/x.bam"})
    assert op["error"]["code"] == 9 and "gs://out/x.bam" in op["error"]["message"]
    assert (root / "out" / "x.bam").read_bytes() == b"keep me"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"exportUri": "gs://o/x.bam"}, "projectId"),
        ({"projectId": "p"}, "exportUri"),
        ({"projectId": "p", "exportUri": "file:///tmp/x.bam"}, "exportUri"),
        ({"projectId": "p", "exportUri": "gs://o/x.bam", "referenceNames": ["chrZ"]}, "referenceNames"),
    ],
)
def test_export_request_errors_name_the_field(be: Backend, one: str, body: dict, needle: str) -> None:
    with pytest.raises(ApiError) as err:
        be.read_group_sets.export(OWNER, one, body)
    assert err.value.status == "INVALID_ARGUMENT" and needle in err.value.message


@pytest.mark.parametrize(
    ("extra", "field"),
    [({"datasetIds": [7]}, "datasetIds"), ({"pageSize": "ten"}, "pageSize")],
)
def test_search_rejects_wrong_types_by_name_on_direct_calls(extra, field):
    from mockserver.backend import DEFAULT_OWNER, Backend
    from mockserver.errors import ApiError

    backend = Backend()
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "p"})
    with pytest.raises(ApiError) as info:
        backend.read_group_sets.search(DEFAULT_OWNER, {"datasetIds": [dataset["id"]], **extra})
    assert info.value.code == 400 and field in info.value.message
