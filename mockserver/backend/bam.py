"""SAM/BAM/CRAM in and out (pysam), and stored reads <-> Read JSON.

A stored read is its SAM text line (``bytes``) after the import caveats the
real API documents have been applied:

* an unmapped read loses its position (RNAME ``*``, POS 0, no CIGAR);
* an unmapped read on the reverse strand is reverse-complemented, its
  qualities (and ``BQ``/``OQ`` tags) reversed, and the reverse flag cleared;
* ``@CO`` lines are dropped and ``@SQ`` order is not kept (sets list references
  by name).

Aux tags keep their SAM types in storage (so export writes them back typed)
but the Read JSON shows every value as a string, as the API does.

The line is parsed again only for the reads a page returns, which keeps
a million stored reads at a few hundred bytes each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pysam

from mockserver.backend.base import compact
from mockserver.backend.storage import scrub
from mockserver.errors import ApiError, invalid_argument

#: SAM CIGAR letter -> CigarUnit.operation enum name
CIGAR_OPS = {
    "M": "ALIGNMENT_MATCH",
    "I": "INSERT",
    "D": "DELETE",
    "N": "SKIP",
    "S": "CLIP_SOFT",
    "H": "CLIP_HARD",
    "P": "PAD",
    "=": "SEQUENCE_MATCH",
    "X": "SEQUENCE_MISMATCH",
}
#: pysam cigartuple op codes that consume the reference / count towards depth
REF_CONSUMING = frozenset({0, 2, 3, 7, 8})  # M D N = X
DEPTH_OPS = frozenset({0, 7, 8})  # M = X (samtools depth)
#: flags samtools depth (and pysam count_coverage's default) leave out
DEPTH_EXCLUDED_FLAGS = 0x4 | 0x100 | 0x200 | 0x400

_COMPLEMENT = str.maketrans("ACGTNacgtnRYKMBDHVrykmbdhv", "TGCANtgcanYRMKVHDByrmkvhdb")


@dataclass
class HeaderInfo:
    """What one file's header contributes to the read group sets made from it."""

    uri: str
    references: list[tuple[str, int, str | None]]  # (SN, LN, M5)
    read_groups: list[dict[str, Any]]  # @RG lines as pysam dicts
    programs: list[dict[str, Any]]  # @PG lines
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class StoredRead:
    """One read as the import routes it: where it sorts, what it covers, its line."""

    read_group: str | None  # RG tag value
    reference: str | None  # None when unmapped
    start: int
    end: int  # reference span end (exclusive), from the CIGAR
    fragment: str
    line: bytes
    depth: list[tuple[int, int]] | None  # [start, end) runs of M/=/X, None if not counted


def open_alignment_file(path: Path, uri: str) -> pysam.AlignmentFile:
    """Open SAM/BAM/CRAM or fail with a 400 naming the URI.

    A CRAM whose reference is not embedded makes htslib look the sequence up
    by MD5 on ``REF_PATH`` — by default a download from EBI. The mock never
    touches the network: unless the operator set ``REF_PATH``, it points at a
    directory that does not exist, so such a CRAM fails the import instead.
    """
    try:
        with open(path, "rb") as raw:
            if raw.read(4) == b"CRAM":
                os.environ.setdefault("REF_PATH", "/nonexistent/genomics-mock-no-ref-download")
    except OSError:
        pass
    try:
        return pysam.AlignmentFile(str(path), "r", check_sq=False)
    except (OSError, ValueError) as exc:
        reason = scrub(str(exc), path, uri)
        raise invalid_argument(f"sourceUris: {uri} is not a readable SAM/BAM/CRAM file ({reason})") from None


def read_header(handle: pysam.AlignmentFile, uri: str) -> HeaderInfo:
    header = handle.header.to_dict()
    refs = [(sq["SN"], int(sq["LN"]), sq.get("M5")) for sq in header.get("SQ", [])]
    names = [r[0] for r in refs]
    if len(set(names)) != len(names):
        raise invalid_argument(f"sourceUris: {uri} names a reference twice in its @SQ lines")
    return HeaderInfo(uri, refs, list(header.get("RG", [])), list(header.get("PG", [])))


def stored_read(segment: pysam.AlignedSegment) -> StoredRead:
    """Apply the import caveats to one alignment and compute its span and depth runs."""
    flag = segment.flag
    unmapped = bool(flag & 0x4) or segment.reference_id < 0
    if unmapped:
        if flag & 0x10:
            _reverse_complement(segment)
        segment.flag = (flag | 0x4) & ~0x10
        segment.reference_id = -1
        segment.reference_start = -1
        segment.cigartuples = None
        reference, start, end, depth = None, 0, 0, None
    else:
        reference = segment.reference_name
        start = segment.reference_start
        depth_runs: list[tuple[int, int]] = []
        pos = start
        for op, length in segment.cigartuples or ():
            if op in REF_CONSUMING:
                if op in DEPTH_OPS and length:
                    depth_runs.append((pos, pos + length))
                pos += length
        end = max(pos, start + 1)  # a read spanning no base still occupies its position
        depth = None if flag & DEPTH_EXCLUDED_FLAGS else depth_runs
    line = segment.to_string()
    at = line.find("\tRG:Z:")  # cheaper than has_tag + get_tag on a million reads
    if at < 0:
        rg = None
    else:
        stop = line.find("\t", at + 6)
        rg = line[at + 6 : stop if stop >= 0 else len(line)]
    return StoredRead(rg, reference, start, end, segment.query_name or "", line.encode(), depth)


def _reverse_complement(segment: pysam.AlignedSegment) -> None:
    seq = segment.query_sequence
    quals = segment.query_qualities
    tags = {tag: segment.get_tag(tag) for tag in ("BQ", "OQ") if segment.has_tag(tag)}
    if seq:
        segment.query_sequence = seq.translate(_COMPLEMENT)[::-1]
        if quals is not None:
            segment.query_qualities = quals[::-1]
    for tag, value in tags.items():
        segment.set_tag(tag, str(value)[::-1], "Z")


def iter_reads(handle: pysam.AlignmentFile, uri: str) -> Iterator[StoredRead]:
    """Every record of the file (``until_eof``: unmapped reads and unindexed files too)."""
    try:
        for segment in handle.fetch(until_eof=True):
            yield stored_read(segment)
    except ApiError:
        raise
    except (OSError, ValueError, KeyError) as exc:
        reason = scrub(str(exc))
        raise invalid_argument(f"sourceUris: {uri} could not be read to the end ({reason})") from None


# -- Read JSON ----------------------------------------------------------------------------


def parse_cigar(cigar: str) -> list[tuple[str, int]]:
    if cigar == "*" or not cigar:
        return []
    ops: list[tuple[str, int]] = []
    number = 0
    for ch in cigar:
        if ch.isdigit():
            number = number * 10 + ord(ch) - 48
        else:
            ops.append((ch, number))
            number = 0
    return ops


def depth_runs(start: int, cigar: str) -> list[tuple[int, int]]:
    """[start, end) runs of M/=/X bases of an alignment (samtools depth)."""
    runs = []
    pos = start
    for letter, length in parse_cigar(cigar):
        if letter in "MDN=X":
            if letter in "M=X" and length:
                runs.append((pos, pos + length))
            pos += length
    return runs


def read_from_line(line: bytes) -> StoredRead:
    """A stored line parsed back into what the import computed from its alignment (the read
    group is left out: the caller knows it). Used to rebuild a saved state; ValueError when the
    line is not one the import could have stored."""
    parts = line.split(b"\t", 11)
    if len(parts) < 11:
        raise ValueError("a SAM line has at least 11 tab-separated fields")
    name, flag_text, reference, pos_text, _mapq, cigar = (p.decode() for p in parts[:6])
    flag, pos = int(flag_text), int(pos_text)
    fragment = "" if name == "*" else name
    if flag & 0x4:
        return StoredRead(None, None, 0, 0, fragment, line, None)
    if pos < 1 or reference == "*":
        raise ValueError("a mapped read needs RNAME and POS")
    start = pos - 1
    span = sum(length for letter, length in parse_cigar(cigar) if letter in "MDN=X")
    depth = None if flag & DEPTH_EXCLUDED_FLAGS else depth_runs(start, cigar)
    return StoredRead(None, reference, start, max(start + span, start + 1), fragment, line, depth)


def line_fields(line: bytes) -> list[str]:
    return line.decode().split("\t")


def line_start_cigar(line: bytes) -> tuple[int, str, int]:
    """(0-based start, CIGAR, flag) of a stored line."""
    parts = line.split(b"\t", 6)
    return int(parts[3]) - 1, parts[5].decode(), int(parts[1])


def read_json(line: bytes, *, read_id: str, read_group_id: str, read_group_set_id: str) -> dict[str, Any]:
    """A stored line as a Read resource (proto3 JSON, int64 as strings)."""
    f = line_fields(line)
    flag = int(f[1])
    rname, pos, mapq, cigar = f[2], int(f[3]) - 1, int(f[4]), f[5]
    rnext, pnext, tlen, seq, qual = f[6], int(f[7]) - 1, int(f[8]), f[9], f[10]
    read: dict[str, Any] = {
        "id": read_id,
        "readGroupId": read_group_id,
        "readGroupSetId": read_group_set_id,
        "fragmentName": f[0],
        "properPlacement": bool(flag & 0x2),
        "duplicateFragment": bool(flag & 0x400),
        "fragmentLength": tlen,
        "readNumber": 1 if flag & 0x80 and not flag & 0x40 else 0,
        "numberReads": 2 if flag & 0x1 else 1,
        "failedVendorQualityChecks": bool(flag & 0x200),
        "secondaryAlignment": bool(flag & 0x100),
        "supplementaryAlignment": bool(flag & 0x800),
        "alignedSequence": "" if seq == "*" else seq,
        "alignedQuality": [] if qual == "*" else [ord(c) - 33 for c in qual],
    }
    if not flag & 0x4 and rname != "*":
        read["alignment"] = compact(
            {
                "position": _position(rname, pos, bool(flag & 0x10)),
                "mappingQuality": mapq,
                "cigar": [
                    compact({"operation": CIGAR_OPS[op], "operationLength": str(n)})
                    for op, n in parse_cigar(cigar)
                ],
            }
        )
    if flag & 0x1 and not flag & 0x8 and rnext != "*":
        mate_ref = rname if rnext == "=" else rnext
        read["nextMatePosition"] = _position(mate_ref, pnext, bool(flag & 0x20))
    info: dict[str, list[str]] = {}
    for tag in f[11:]:
        name, kind, value = tag.split(":", 2)
        if name == "RG":
            continue
        if kind == "B":
            info[name] = value.split(",")[1:]
        else:
            info[name] = [value]
    read["info"] = info
    return compact(read)


def _position(reference: str, position: int, reverse: bool) -> dict[str, Any]:
    return compact(
        {
            "referenceName": reference,
            "position": str(position) if position else None,
            "reverseStrand": reverse,
        }
    )


# -- export -------------------------------------------------------------------------------


def write_bam(
    path: Path | BinaryIO,
    references: list[tuple[str, int]],
    read_groups: list[dict[str, Any]],
    programs: list[dict[str, Any]],
    lines: Iterable[bytes],
) -> int:
    """Write a coordinate-sorted BAM to a path or an open binary file (``lines`` must already be
    in header order). Returns the count."""
    header: dict[str, Any] = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length} for name, length in references],
    }
    if read_groups:
        header["RG"] = read_groups
    header["PG"] = list(programs) + [
        {"ID": _unique_pg_id(programs), "PN": "genomics-mock", "CL": "readgroupsets.export"}
    ]
    count = 0
    with pysam.AlignmentFile(path if not isinstance(path, Path) else str(path), "wb", header=header) as out:
        for line in lines:
            out.write(pysam.AlignedSegment.fromstring(line.decode(), out.header))
            count += 1
    return count


def _unique_pg_id(programs: list[dict[str, Any]]) -> str:
    taken = {p.get("ID") for p in programs}
    candidate, n = "genomics-mock", 1
    while candidate in taken:
        n += 1
        candidate = f"genomics-mock.{n}"
    return candidate
