"""bam.py: import caveats, Read JSON conversion (CIGAR ops, flags, tags), BAM writing."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest
import samfiles

from mockserver.backend import bam
from mockserver.errors import ApiError


def _stored(tmp_path: Path, records: list[samfiles.Rec]) -> list[bam.StoredRead]:
    path = samfiles.write(tmp_path / "f.bam", records, read_groups=samfiles.READ_GROUPS)
    with bam.open_alignment_file(path, "gs://b/f.bam") as handle:
        return list(bam.iter_reads(handle, "gs://b/f.bam"))


def _json(read: bam.StoredRead) -> dict:
    return bam.read_json(read.line, read_id="s.0", read_group_id="g", read_group_set_id="s")


def test_cigar_operations_map_to_enum_names_with_int64_string_lengths(tmp_path: Path) -> None:
    (read,) = _stored(tmp_path, [samfiles.Rec("r", 0, "ref", 8, "1S2I6M1P1I4M2I3=1X5H")])
    cigar = _json(read)["alignment"]["cigar"]
    assert [(c["operation"], c["operationLength"]) for c in cigar] == [
        ("CLIP_SOFT", "1"),
        ("INSERT", "2"),
        ("ALIGNMENT_MATCH", "6"),
        ("PAD", "1"),
        ("INSERT", "1"),
        ("ALIGNMENT_MATCH", "4"),
        ("INSERT", "2"),
        ("SEQUENCE_MATCH", "3"),
        ("SEQUENCE_MISMATCH", "1"),
        ("CLIP_HARD", "5"),
    ]


def test_span_counts_m_d_n_eq_x_and_depth_only_m_eq_x(tmp_path: Path) -> None:
    (read,) = _stored(tmp_path, [samfiles.Rec("r", 0, "ref", 2, "2S3M2D1N2I2=1X4H")])
    assert (read.start, read.end) == (2, 2 + 3 + 2 + 1 + 2 + 1)
    assert read.depth == [(2, 5), (8, 10), (10, 11)]


def test_excluded_flags_add_no_depth(tmp_path: Path) -> None:
    reads = _stored(
        tmp_path,
        [samfiles.Rec(f"r{flag}", flag, "ref", 0, "5M") for flag in (0x100, 0x200, 0x400, 0x800)],
    )
    depth = {r.fragment: r.depth for r in reads}
    assert depth["r256"] is None and depth["r512"] is None and depth["r1024"] is None
    assert depth["r2048"] == [(0, 5)]  # supplementary alignments count, as in samtools depth


def test_read_json_flags_positions_and_tags(tmp_path: Path) -> None:
    rec = samfiles.Rec(
        "frag",
        1 | 2 | 16 | 32 | 128 | 512 | 1024 | 256,
        "ref",
        10,
        "4M",
        mapq=17,
        seq="ACGT",
        qual=[30, 31, 32, 33],
        rg="rgA",
        next_ref="ref2",
        next_pos=5,
        tlen=-12,
        tags=[("NM", 1), ("XS", "txt"), ("XF", 2.5), ("XB", [1, 2, 3])],
    )
    (read,) = _stored(tmp_path, [rec])
    got = _json(read)
    assert got["alignment"]["position"] == {"referenceName": "ref", "position": "10", "reverseStrand": True}
    assert got["alignment"]["mappingQuality"] == 17
    assert got["nextMatePosition"] == {"referenceName": "ref2", "position": "5", "reverseStrand": True}
    assert got["fragmentLength"] == -12 and got["readNumber"] == 1 and got["numberReads"] == 2
    assert got["properPlacement"] and got["failedVendorQualityChecks"] and got["duplicateFragment"]
    assert got["secondaryAlignment"] and "supplementaryAlignment" not in got
    assert got["alignedSequence"] == "ACGT" and got["alignedQuality"] == [30, 31, 32, 33]
    assert got["info"] == {"NM": ["1"], "XS": ["txt"], "XF": ["2.5"], "XB": ["1", "2", "3"]}
    assert "RG" not in got["info"]


def test_unmapped_reverse_read_is_reverse_complemented_and_loses_position(tmp_path: Path) -> None:
    rec = samfiles.Rec(
        "u", 4 | 16, "ref", 12, "", seq="AACCGT", qual=[1, 2, 3, 4, 5, 6], tags=[("OQ", "ABCDEF")]
    )
    (read,) = _stored(tmp_path, [rec])
    got = _json(read)
    assert read.reference is None and "alignment" not in got
    assert got["alignedSequence"] == "ACGGTT"
    assert got["alignedQuality"] == [6, 5, 4, 3, 2, 1]
    assert got["info"]["OQ"] == ["FEDCBA"]
    assert bam.line_start_cigar(read.line)[2] & 0x10 == 0


def test_not_an_alignment_file_is_invalid_argument_naming_the_uri(tmp_path: Path) -> None:
    path = tmp_path / "notes.bam"
    path.write_text("just some text\n")
    with pytest.raises(ApiError) as err:
        bam.open_alignment_file(path, "gs://b/notes.bam")
    assert err.value.status == "INVALID_ARGUMENT" and "gs://b/notes.bam" in err.value.message


def test_write_bam_round_trips_lines(tmp_path: Path) -> None:
    reads = _stored(tmp_path, samfiles.toy_records())
    mapped = [r for r in reads if r.reference]
    out = tmp_path / "out.bam"
    count = bam.write_bam(
        out, list(samfiles.REFERENCES), list(samfiles.READ_GROUPS), [], [r.line for r in mapped]
    )
    assert count == len(mapped)
    with pysam.AlignmentFile(str(out)) as handle:
        assert handle.header.to_dict()["HD"]["SO"] == "coordinate"
        back = [seg.to_string().encode() for seg in handle]
    assert back == [r.line for r in mapped]
