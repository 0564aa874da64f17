"""variants.import (VCF, bgzipped VCF, BCF via pysam) and variantsets.export (BigQuery stand-in).

Round trips compare what the API shows with what pysam reads from the same file
(:func:`vcffiles.expected_variants`); malformed files must fail the operation with an
error naming the file and line while storing nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from vcffiles import RECORDS, SAMPLES, expected_variants, write_vcf

from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"


@pytest.fixture
def backend(clock: FakeClock, tmp_path: Path) -> Backend:
    backend = Backend(clock=clock, id_seed=99, storage_root=tmp_path / "storage")
    backend.operations.mode = "immediate"
    return backend


@pytest.fixture
def bucket(backend: Backend) -> Path:
    path = backend.storage.root / "bucket"
    path.mkdir(parents=True)
    return path


@pytest.fixture
def variant_set(backend: Backend, dataset: dict[str, Any]) -> dict[str, Any]:
    return backend.variant_sets.create(OWNER, {"datasetId": dataset["id"], "name": "vs"})


def run_import(backend: Backend, set_id: str, *uris: str, **extra: Any) -> dict[str, Any]:
    return backend.variants.import_(OWNER, {"variantSetId": set_id, "sourceUris": list(uris), **extra})


def all_variants(backend: Backend, set_id: str, references=("chr1", "chr2"), **extra: Any) -> list[dict]:
    found = []
    for reference in references:
        body = {"variantSetIds": [set_id], "referenceName": reference, **extra}
        found += backend.variants.search(OWNER, body).get("variants", [])
    return found


def comparable(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Without the server's ids, times and call set names."""
    out = []
    for variant in variants:
        variant = {k: v for k, v in variant.items() if k not in ("id", "variantSetId", "created")}
        for call in variant.get("calls", []):
            call.pop("callSetName", None)
        out.append(variant)
    return out


def call_sets_by_name(backend: Backend, set_id: str) -> dict[str, str]:
    found = backend.call_sets.search(OWNER, {"variantSetIds": [set_id]}).get("callSets", [])
    return {c["name"]: c["id"] for c in found}


# -- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["calls.vcf", "calls.vcf.gz", "calls.bcf"])
def test_round_trip_matches_what_pysam_reads(backend: Backend, bucket: Path, variant_set, name: str) -> None:
    path = write_vcf(bucket / name)
    operation = run_import(backend, variant_set["id"], f"gs://bucket/{name}")
    assert operation["done"] and "error" not in operation, operation
    call_sets = call_sets_by_name(backend, variant_set["id"])
    assert sorted(call_sets) == sorted(SAMPLES)
    assert operation["response"]["callSetIds"] == [call_sets[s] for s in SAMPLES]
    got = comparable(all_variants(backend, variant_set["id"]))
    assert got == expected_variants(path, call_sets)
    # what the round trip covers, checked on the file itself
    kinds = {
        "multi-allelic": any(len(v.get("alternateBases", [])) > 1 for v in got),
        "missing genotype": any(-1 in c.get("genotype", []) for v in got for c in v.get("calls", [])),
        "phased": any(c.get("phaseset") for v in got for c in v.get("calls", [])),
        "several filters": any(len(v.get("filter", [])) > 1 for v in got),
        "info list": any(len(values) > 1 for v in got for values in v.get("info", {}).values()),
        "flag": any(values == [True] for v in got for values in v.get("info", {}).values()),
    }
    assert all(kinds.values()), kinds


def test_header_lines_become_variant_set_metadata_once(backend: Backend, bucket: Path, variant_set) -> None:
    write_vcf(bucket / "a.vcf")
    write_vcf(bucket / "b.vcf")
    run_import(backend, variant_set["id"], "gs://bucket/a.vcf")
    first = backend.variant_sets.get(OWNER, variant_set["id"])["metadata"]
    run_import(backend, variant_set["id"], "gs://bucket/b.vcf")
    assert backend.variant_sets.get(OWNER, variant_set["id"])["metadata"] == first
    by_id = {(m["key"], m.get("id")): m for m in first}
    assert by_id[("INFO", "AF")] == {
        "key": "INFO",
        "id": "AF",
        "number": "A",
        "type": "FLOAT",
        "description": "Allele frequency",
    }
    assert by_id[("FORMAT", "GT")]["type"] == "STRING"
    assert by_id[("FILTER", "q10")]["description"] == "Quality below 10"
    assert by_id[("contig", "chr1")]["info"] == {"length": ["10000"]}
    assert {"key": "fileformat", "value": "VCFv4.2"} in first


def test_reference_bounds_follow_the_largest_start(backend: Backend, bucket: Path, variant_set) -> None:
    write_vcf(bucket / "a.vcf")
    run_import(backend, variant_set["id"], "gs://bucket/a.vcf")
    bounds = backend.variant_sets.get(OWNER, variant_set["id"])["referenceBounds"]
    assert bounds == [
        {"referenceName": "chr1", "upperBound": "1499"},
        {"referenceName": "chr2", "upperBound": "9"},
    ]


def test_single_sample_files_move_qual_and_filter_to_the_call(
    backend: Backend, bucket: Path, variant_set
) -> None:
    path = write_vcf(bucket / "one.vcf", samples=("NA001",))
    run_import(backend, variant_set["id"], "gs://bucket/one.vcf")
    got = comparable(all_variants(backend, variant_set["id"]))
    assert got == expected_variants(path, call_sets_by_name(backend, variant_set["id"]))
    first = got[0]
    assert "quality" not in first and "filter" not in first
    assert first["calls"][0]["info"]["QUAL"] == ["50"] and first["calls"][0]["info"]["FILTER"] == ["PASS"]


def test_wildcards_import_every_match_and_samples_share_call_sets(
    backend: Backend, bucket: Path, variant_set
) -> None:
    write_vcf(bucket / "part-1.vcf", RECORDS[:2])
    write_vcf(bucket / "part-2.vcf", RECORDS[4:])
    operation = run_import(backend, variant_set["id"], "gs://bucket/part-*.vcf")
    assert len(operation["response"]["callSetIds"]) == len(SAMPLES)
    assert len(all_variants(backend, variant_set["id"])) == 3


def test_recursive_wildcards_and_complete_genomics_are_refused(backend: Backend, variant_set) -> None:
    with pytest.raises(ApiError) as info:
        run_import(backend, variant_set["id"], "gs://bucket/**.vcf")
    assert info.value.code == 400 and "**" in info.value.message
    with pytest.raises(ApiError) as info:
        run_import(backend, variant_set["id"], "gs://bucket/x.tsv", format="FORMAT_COMPLETE_GENOMICS")
    assert info.value.status == "INVALID_ARGUMENT" and "not supported by genomics-mock" in info.value.message


def test_normalize_reference_names(backend: Backend, bucket: Path, variant_set) -> None:
    lines = "".join(
        f"{name}\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\n" for name in ("chr1", "chrX", "chrM", "chr6_hap1")
    )
    (bucket / "n.vcf").write_text("##fileformat=VCFv4.2\n" + COLUMNS + lines)
    run_import(backend, variant_set["id"], "gs://bucket/n.vcf", normalizeReferenceNames=True)
    bounds = backend.variant_sets.get(OWNER, variant_set["id"])["referenceBounds"]
    assert [b["referenceName"] for b in bounds] == ["1", "MT", "X", "chr6_hap1"]


def test_import_merges_with_matching_variants(backend: Backend, bucket: Path, variant_set) -> None:
    set_id = variant_set["id"]
    write_vcf(bucket / "a.vcf", RECORDS[:1], samples=("NA001",))
    write_vcf(bucket / "b.vcf", RECORDS[:2], samples=("NA002",))
    run_import(backend, set_id, "gs://bucket/a.vcf")
    run_import(
        backend, set_id, "gs://bucket/b.vcf", infoMergeConfig={"AF": "MOVE_TO_CALLS", "DP": "IGNORE_NEW"}
    )
    variants = all_variants(backend, set_id, ("chr1",))
    assert len(variants) == 2  # rs1 merged, the second record new
    merged = variants[0]
    assert [c["callSetName"] for c in merged["calls"]] == ["NA001", "NA002"]
    assert merged["info"] == {"DP": ["14"], "AF": ["0.5"], "DB": [True]}  # the first import's
    assert merged["calls"][1]["info"]["AF"] == ["0.5"]  # the second import's value, moved to its call
    assert "AF" not in variants[1].get("info", {}) and variants[1]["calls"][0]["info"]["AF"] == [
        "0.25",
        "0.125",
    ]


def test_import_checks_references_of_a_known_reference_set(backend: Backend, bucket: Path, dataset) -> None:
    reference_set = backend.reference_sets.create([{"name": "chr1", "length": 10_000}])
    variant_set = backend.variant_sets.create(
        OWNER, {"datasetId": dataset["id"], "referenceSetId": reference_set["id"]}
    )
    write_vcf(bucket / "a.vcf")
    operation = run_import(backend, variant_set["id"], "gs://bucket/a.vcf")
    assert "'chr2' is not a reference of the variant set's reference set" in operation["error"]["message"]
    assert all_variants(backend, variant_set["id"]) == []


# -- bad input: the operation fails naming file and line, nothing is stored ----------------


BAD_FILES = {
    "no fileformat": ("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", "line 1"),
    "unclosed header line": ("##fileformat=VCFv4.2\n##INFO=<ID=DP,Number=1\n" + COLUMNS, "line 2"),
    "no #CHROM line": ("##fileformat=VCFv4.2\nchr1\t5\t.\tA\tG\t.\t.\t.\n", "line 2"),
    "bad columns": (HEADER + "#CHROM\tPOS\tREF\n", "line 3"),
    "out of order": (
        HEADER + COLUMNS + "chr1\t50\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchr1\t10\t.\tA\tG\t.\t.\t.\tGT\t0/1\n",
        "line 5",
    ),
    "contig resumes": (
        "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n"
        + COLUMNS
        + "chr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchr2\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"
        + "chr1\t9\t.\tA\tG\t.\t.\t.\tGT\t0/1\n",
        "line 7",
    ),
    "unknown contig": (
        HEADER + COLUMNS + "chr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchrZ\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\n",
        "line 5",
    ),
    "past the contig's end": (HEADER + COLUMNS + "chr1\t1000\t.\tAC\tG\t.\t.\t.\tGT\t0/1\n", "line 4"),
    "bad position": (
        HEADER + COLUMNS + "chr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchr1\tx\t.\tA\tG\t.\t.\t.\tGT\t0/1\n",
        "line 5",
    ),
    "bad genotype": (HEADER + COLUMNS + "chr1\t5\t.\tA\tG\t.\t.\t.\tGT\tz/q\n", "line 4"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_malformed_vcf_fails_naming_file_and_line_and_stores_nothing(
    backend: Backend, bucket: Path, variant_set, case: str
) -> None:
    text, line = BAD_FILES[case]
    write_vcf(bucket / "good.vcf")
    (bucket / "bad.vcf").write_text(text)
    before = backend.variant_sets.get(OWNER, variant_set["id"])
    operation = run_import(backend, variant_set["id"], "gs://bucket/good.vcf", "gs://bucket/bad.vcf")
    error = operation["error"]
    assert error["code"] == 3, error  # INVALID_ARGUMENT
    assert f"gs://bucket/bad.vcf {line}:" in error["message"], error["message"]
    assert str(backend.storage.root) not in error["message"]
    assert all_variants(backend, variant_set["id"]) == []
    assert call_sets_by_name(backend, variant_set["id"]) == {}
    assert backend.variant_sets.get(OWNER, variant_set["id"]) == before


def test_missing_and_unreadable_files(backend: Backend, bucket: Path, variant_set) -> None:
    operation = run_import(backend, variant_set["id"], "gs://bucket/nothing.vcf")
    assert operation["error"]["code"] == 5 and "gs://bucket/nothing.vcf" in operation["error"]["message"]
    (bucket / "binary.vcf").write_bytes(os.urandom(64))
    operation = run_import(backend, variant_set["id"], "gs://bucket/binary.vcf")
    assert operation["error"]["code"] == 3 and "gs://bucket/binary.vcf" in operation["error"]["message"]


def test_a_bcf_error_names_the_record(backend: Backend, bucket: Path, variant_set) -> None:
    write_vcf(bucket / "a.bcf")
    data = bytearray((bucket / "a.bcf").read_bytes())
    (bucket / "cut.bcf").write_bytes(bytes(data[: len(data) * 2 // 3]))
    operation = run_import(backend, variant_set["id"], "gs://bucket/cut.bcf")
    assert operation["error"]["code"] == 3 and "gs://bucket/cut.bcf" in operation["error"]["message"]


# -- export ---------------------------------------------------------------------------------


@pytest.fixture
def bigquery(backend: Backend) -> Path:
    path = backend.bigquery.root / "p1" / "genomics"
    path.mkdir(parents=True)
    return path


def export(backend: Backend, set_id: str, **body: Any) -> dict[str, Any]:
    request = {"projectId": "p1", "bigqueryDataset": "genomics", "bigqueryTable": "calls", **body}
    return backend.variant_sets.export(OWNER, set_id, request)


def rows(bigquery: Path, table: str = "calls") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bigquery / f"{table}.jsonl").read_text().splitlines()]


def test_import_search_export_read_back(backend: Backend, bucket: Path, bigquery: Path, variant_set) -> None:
    set_id = variant_set["id"]
    write_vcf(bucket / "a.vcf.gz")
    run_import(backend, set_id, "gs://bucket/a.vcf.gz")
    variants = all_variants(backend, set_id)
    operation = export(backend, set_id)
    assert operation["done"] and "error" not in operation, operation
    table = rows(bigquery)
    assert [r["variant_id"] for r in table] == [v["id"] for v in variants]
    for row, variant in zip(table, variants, strict=True):
        assert row["reference_name"] == variant["referenceName"]
        assert (row["start_position"], row["end_position"]) == (int(variant["start"]), int(variant["end"]))
        assert row["alternate_bases"] == variant.get("alternateBases", [])
        assert row["info"] == variant.get("info", {})
        assert [c["call_set_name"] for c in row["call"]] == [c["callSetName"] for c in variant["calls"]]
        assert [c["genotype"] for c in row["call"]] == [c.get("genotype", []) for c in variant["calls"]]
        assert set(row) == set(table[0])  # every row has every column


def test_export_of_some_call_sets_overwrites_the_table(
    backend: Backend, bucket: Path, bigquery: Path, variant_set
):
    set_id = variant_set["id"]
    write_vcf(bucket / "a.vcf")
    run_import(backend, set_id, "gs://bucket/a.vcf")
    export(backend, set_id)
    one = call_sets_by_name(backend, set_id)["NA002"]
    export(backend, set_id, callSetIds=[one])
    table = rows(bigquery)
    assert len(table) == len(RECORDS)
    assert {c["call_set_id"] for r in table for c in r["call"]} == {one}
    assert not [p for p in bigquery.iterdir() if p.name != "calls.jsonl"]  # no temporary left


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"bigqueryDataset": "absent"}, 404, "bigqueryDataset"),
        ({"bigqueryDataset": "../escape"}, 400, "bigqueryDataset"),
        ({"bigqueryTable": "a/b"}, 400, "bigqueryTable"),
        ({"bigqueryTable": ""}, 400, "bigqueryTable"),
        ({"projectId": "../p1"}, 400, "projectId"),
        ({"format": "FORMAT_CSV"}, 400, "format"),
        ({"callSetIds": ["nope"]}, 400, "callSetIds"),
    ],
)
def test_export_refuses_bad_destinations(
    backend: Backend, bigquery: Path, variant_set, body, status, field
) -> None:
    with pytest.raises(ApiError) as info:
        export(backend, variant_set["id"], **body)
    assert info.value.code == status and field in info.value.message
    assert str(backend.bigquery.root) not in info.value.message


def test_export_never_follows_a_link(backend: Backend, bigquery: Path, variant_set, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (backend.bigquery.root / "p1" / "linked").symlink_to(outside)
    with pytest.raises(ApiError) as info:
        export(backend, variant_set["id"], bigqueryDataset="linked")
    assert info.value.code == 404
    (bigquery / "calls.jsonl").symlink_to(outside / "target.jsonl")
    export(backend, variant_set["id"])
    assert not (outside / "target.jsonl").exists()
    assert not (bigquery / "calls.jsonl").is_symlink()


def test_export_writes_what_was_stored_when_it_was_accepted(
    backend: Backend, bigquery: Path, variant_set
) -> None:
    backend.operations.mode = "manual"
    body = {"variantSetId": variant_set["id"], "referenceName": "chr1", "start": "5", "referenceBases": "A"}
    backend.variants.create(OWNER, body)
    operation = export(backend, variant_set["id"])
    backend.variants.create(OWNER, {**body, "start": "9"})
    assert backend.operations.complete(operation["name"])["done"]
    assert [r["start_position"] for r in rows(bigquery)] == [5]
