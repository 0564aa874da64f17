"""Small SAM/BAM files for tests, written with pysam (nothing binary is committed).

``TOY`` reproduces the CIGAR shapes of samtools' ``examples/toy.sam`` (clips,
insertions, a deletion, padding, a 14 bp skip, paired reads) on two
references, plus what that file lacks: read groups for two samples, aux tags,
unmapped reads (one on the reverse strand) and reads without a read group.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pysam

QUERY_OPS = set("MIS=X")
REFERENCES = (("ref", 45), ("ref2", 40))


@dataclass
class Rec:
    """One alignment to write; ``seq``/``qual`` default to seeded random values of the right length."""

    name: str
    flag: int = 0
    ref: str | None = None
    pos: int = 0  # 0-based
    cigar: str = ""
    mapq: int = 30
    seq: str | None = None
    qual: Sequence[int] | None = None
    rg: str | None = None
    tags: list[tuple[str, Any]] = field(default_factory=list)
    next_ref: str | None = None
    next_pos: int = 0
    tlen: int = 0


def query_length(cigar: str) -> int:
    total, number = 0, ""
    for ch in cigar:
        if ch.isdigit():
            number += ch
        else:
            if ch in QUERY_OPS:
                total += int(number)
            number = ""
    return total


def write(
    path: Path,
    records: Iterable[Rec],
    *,
    references: Sequence[tuple[str, int]] = REFERENCES,
    read_groups: Sequence[dict[str, Any]] = (),
    programs: Sequence[dict[str, Any]] = (),
    sam: bool = False,
    seed: int = 7,
    md5: dict[str, str] | None = None,
    sort: bool = True,
) -> Path:
    """Write ``records`` coordinate-sorted (unmapped last) as BAM or SAM; ``sort=False`` keeps their order."""
    rng = random.Random(seed)
    header: dict[str, Any] = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [
            {"SN": n, "LN": length, **({"M5": md5[n]} if md5 and n in md5 else {})}
            for n, length in references
        ],
    }
    if read_groups:
        header["RG"] = [dict(rg) for rg in read_groups]
    if programs:
        header["PG"] = [dict(pg) for pg in programs]
    if not sort:
        header["HD"]["SO"] = "unsorted"
    order = {name: i for i, (name, _l) in enumerate(references)}
    recs = list(records)
    if sort:
        recs.sort(key=lambda r: (order[r.ref] if r.ref and not r.flag & 4 else len(order), r.pos, r.name))
    path.parent.mkdir(parents=True, exist_ok=True)
    with pysam.AlignmentFile(str(path), "w" if sam else "wb", header=header) as out:
        for rec in recs:
            out.write(_segment(out.header, rec, rng))
    return path


def _place(seg: pysam.AlignedSegment, ref: str | None, pos: int, *, mate: bool = False) -> None:
    """Set the read's (or with ``mate``, its mate's) reference and position; None: unmapped."""
    prefix = "next_" if mate else ""
    if ref is not None:
        setattr(seg, f"{prefix}reference_name", ref)
        setattr(seg, f"{prefix}reference_start", pos)
    else:
        setattr(seg, f"{prefix}reference_id", -1)
        setattr(seg, f"{prefix}reference_start", -1)


def _segment(header: pysam.AlignmentHeader, rec: Rec, rng: random.Random) -> pysam.AlignedSegment:
    seg = pysam.AlignedSegment(header)
    seg.query_name = rec.name
    seg.flag = rec.flag
    _place(seg, rec.ref, rec.pos)
    seg.mapping_quality = rec.mapq if rec.ref else 0
    if rec.cigar:
        seg.cigarstring = rec.cigar
    length = query_length(rec.cigar) if rec.cigar else len(rec.seq or "") or 10
    seg.query_sequence = (
        rec.seq if rec.seq is not None else "".join(rng.choice("ACGT") for _ in range(length))
    )
    quals = rec.qual if rec.qual is not None else [rng.randrange(2, 41) for _ in range(length)]
    seg.query_qualities = pysam.qualitystring_to_array("".join(chr(q + 33) for q in quals))
    _place(seg, rec.next_ref, rec.next_pos, mate=True)
    seg.template_length = rec.tlen
    if rec.rg is not None:
        seg.set_tag("RG", rec.rg, "Z")
    for tag, value in rec.tags:
        seg.set_tag(tag, value)
    return seg


#: read groups of two samples (the second has a library, platform, insert size and a date)
READ_GROUPS = (
    {"ID": "rgA", "SM": "sampleA", "LB": "libA", "PU": "unitA", "CN": "centerA", "PL": "ILLUMINA"},
    {"ID": "rgB1", "SM": "sampleB", "PI": 300, "DS": "first lane", "DT": "2020-01-01"},
    {"ID": "rgB2", "SM": "sampleB"},
)
PROGRAMS = ({"ID": "bwa", "PN": "bwa", "VN": "0.7.17", "CL": "bwa mem ref.fa r.fq"},)


def toy_records() -> list[Rec]:
    """toy.sam's alignments spread over read groups, plus unmapped and read-group-less reads."""
    return [
        Rec(
            "r001",
            163,
            "ref",
            6,
            "8M2I4M1D3M",
            rg="rgA",
            next_ref="ref",
            next_pos=36,
            tlen=39,
            tags=[("NM", 3), ("XS", "abc")],
        ),
        Rec("r002", 0, "ref", 8, "1S2I6M1P1I4M2I", rg="rgA"),
        Rec("r003", 0, "ref", 8, "5H6M", rg="rgB1", tags=[("XF", 1.5)]),
        Rec("r004", 0, "ref", 15, "6M14N1I5M", rg="rgB1"),
        Rec("r003", 2064, "ref", 28, "6H5M", rg="rgB2"),
        Rec("r001", 83, "ref", 36, "9M", rg="rgA", next_ref="ref", next_pos=6, tlen=-39),
        Rec("x1", 0, "ref2", 0, "20M", rg="rgA"),
        Rec("x2", 0, "ref2", 1, "21M", rg="rgB2"),
        Rec("x3", 0, "ref2", 5, "9M4I13M", rg="rgA"),
        Rec("x4", 1024, "ref2", 9, "25M", rg="rgB1"),
        Rec("x5", 0, "ref2", 11, "24M"),
        Rec("x6", 16, "ref2", 13, "3=1X19=", rg="rgA"),
        Rec("u2", 4, rg="rgB1", seq="ACGTTT", qual=[10, 11, 12, 13, 14, 15]),
        Rec("u1", 4 | 16, rg="rgA", seq="AACCGT", qual=[1, 2, 3, 4, 5, 6], tags=[("OQ", "ABCDEF")]),
        Rec("u0", 4),
    ]


def write_toy(path: Path, *, sam: bool = False, **kwargs: Any) -> Path:
    kwargs.setdefault("read_groups", READ_GROUPS)
    kwargs.setdefault("programs", PROGRAMS)
    return write(path, toy_records(), sam=sam, **kwargs)


# -- backend helpers ------------------------------------------------------------------------


def new_backend(root: Path, *, mode: str = "immediate") -> Any:
    """A backend storing objects under ``root`` whose operations finish inside the request."""
    from mockserver.backend import Backend
    from mockserver.backend.clock import FakeClock

    backend = Backend(clock=FakeClock(), id_seed=1, storage_root=root)
    backend.operations.mode = mode
    return backend


def run_import(backend: Any, dataset_id: str, *uris: str, **body: Any) -> dict[str, Any]:
    """Start an import as the owner; returns the operation as the request returned it."""
    from mockserver.backend.principals import DEFAULT_OWNER

    request = {"datasetId": dataset_id, "sourceUris": list(uris), **body}
    return backend.read_group_sets.import_(DEFAULT_OWNER, request)
