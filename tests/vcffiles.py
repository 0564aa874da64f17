"""Small VCF/BCF files for tests, written with pysam (nothing binary is committed).

:data:`RECORDS` covers what a VCF round trip must keep: multi-allelic sites, missing
genotypes, phased genotypes with and without a phase set, filters (PASS, one, several,
none), INFO lists, flags and missing QUAL, FORMAT fields with lists (GL and PL), on two
contigs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pysam

CONTIGS = (("chr1", 10_000), ("chr2", 5_000))
SAMPLES = ("NA001", "NA002")

HEADER_LINES = (
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End position">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
    '##INFO=<ID=DB,Number=0,Type=Flag,Description="In dbSNP">',
    '##INFO=<ID=TAGS,Number=.,Type=String,Description="Free tags">',
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##FILTER=<ID=s50,Description="Less than half of the samples have data">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    '##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">',
    '##FORMAT=<ID=GL,Number=G,Type=Float,Description="Genotype likelihoods">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled likelihoods">',
)


#: (contig, 0-based start, id, alleles, qual, filters, info, {sample: {key: value}})
RECORDS: list[tuple[str, int, str | None, tuple[str, ...], float | None, tuple[str, ...], dict, dict]] = [
    (
        "chr1",
        99,
        "rs1",
        ("A", "G"),
        50.0,
        ("PASS",),
        {"DP": 14, "AF": (0.5,), "DB": True},
        {"NA001": {"GT": (0, 1), "DP": 7}, "NA002": {"GT": (1, 1), "DP": 7}},
    ),
    (
        "chr1",
        199,
        None,
        ("T", "C", "TA"),
        12.5,
        ("q10",),
        {"AF": (0.25, 0.125), "TAGS": ("x", "y")},
        {"NA001": {"GT": (1, 2), "GL": (-0.1, -1.0, -2.0, -1.5, -0.5, -3.0)}, "NA002": {"GT": (None, None)}},
    ),
    (
        "chr1",
        199,
        "rs3;rs3b",
        ("T", "G"),
        None,
        ("q10", "s50"),
        {},
        {"NA001": {"GT": (0, 1), "phased": True, "PS": 199}, "NA002": {"GT": (1, 0), "phased": True}},
    ),
    (
        "chr1",
        1499,
        None,
        ("GAT", "G"),
        99.0,
        (),
        {"DP": 3},
        {
            "NA001": {"GT": (0, 0), "PL": (0, 30, 300)},
            "NA002": {"GT": (0, 1), "PL": (20, 0, 200), "GL": (-2.0, 0.0, -20.0)},
        },
    ),
    (
        "chr2",
        9,
        "rs5",
        ("C", "<DEL>"),
        30.0,
        ("PASS",),
        {"DP": 20},
        {"NA001": {"GT": (0, 1)}, "NA002": {"GT": (None,)}},
    ),
]


def header(
    samples: tuple[str, ...] = SAMPLES, contigs: tuple[tuple[str, int], ...] = CONTIGS
) -> pysam.VariantHeader:
    hdr = pysam.VariantHeader()
    for name, length in contigs:
        hdr.contigs.add(name, length=length)
    for line in HEADER_LINES:
        hdr.add_line(line)
    for sample in samples:
        hdr.add_sample(sample)
    return hdr


def write_vcf(
    path: Path,
    records: list[tuple[Any, ...]] = RECORDS,
    *,
    samples: tuple[str, ...] = SAMPLES,
    contigs: tuple[tuple[str, int], ...] = CONTIGS,
) -> Path:
    """Write ``records`` with pysam; the mode follows the suffix (.vcf, .vcf.gz, .bcf)."""
    mode = "wb" if path.name.endswith(".bcf") else "wz" if path.name.endswith(".gz") else "w"
    path.parent.mkdir(parents=True, exist_ok=True)
    hdr = header(samples, contigs)
    with pysam.VariantFile(str(path), mode, header=hdr) as out:
        for contig, start, ident, alleles, qual, filters, info, calls in records:
            stop = start + 50 if alleles[-1] == "<DEL>" else start + len(alleles[0])
            rec = out.new_record(
                contig=contig,
                start=start,
                stop=stop,
                alleles=alleles,
                id=ident,
                qual=qual,
                filter=list(filters) or None,
                info=info,
            )
            for sample, values in calls.items():
                if sample not in samples:
                    continue
                values = dict(values)
                phased = values.pop("phased", False)
                for key, value in values.items():
                    rec.samples[sample][key] = value
                rec.samples[sample].phased = phased
            out.write(rec)
    return path


def expected_variants(path: Path, call_sets: dict[str, str]) -> list[dict[str, Any]]:
    """What the API must show for each record of a file, read independently with pysam:
    ``Variant`` fields (no ids or created time), calls keyed by call set id."""
    out = []
    with pysam.VariantFile(str(path)) as vcf:
        samples = list(vcf.header.samples)
        for rec in vcf:
            variant: dict[str, Any] = {
                "referenceName": rec.contig,
                "start": str(rec.start),
                "end": str(rec.stop),
                "referenceBases": rec.ref,
            }
            if rec.alts:
                variant["alternateBases"] = list(rec.alts)
            if rec.id:
                variant["names"] = rec.id.split(";")
            single = len(samples) == 1
            moved: dict[str, Any] = {}
            filters = list(rec.filter.keys())
            if rec.qual is not None:
                if single:
                    moved["QUAL"] = [_text(rec.qual)]
                else:
                    variant["quality"] = rec.qual
            if filters:
                if single:
                    moved["FILTER"] = filters
                else:
                    variant["filter"] = filters
            info = {key: _values(value) for key, value in rec.info.items() if key != "END"}
            if info:
                variant["info"] = info
            calls = []
            for sample in samples:
                data = rec.samples[sample]
                call: dict[str, Any] = {"callSetId": call_sets[sample]}
                extra: dict[str, Any] = dict(moved)
                if "GT" in data and data["GT"] is not None:
                    call["genotype"] = [-1 if a is None else a for a in data["GT"]]
                    if data.phased and len(data["GT"]) > 1:
                        ps = data.get("PS")
                        call["phaseset"] = str(ps) if ps is not None else "*"
                gl, pl = data.get("GL"), data.get("PL")
                if gl is not None and any(v is not None for v in gl):
                    call["genotypeLikelihood"] = [float(f"{v:g}") for v in gl]
                    if pl is not None and any(v is not None for v in pl):
                        extra["PL"] = [str(v) for v in pl]
                elif pl is not None and any(v is not None for v in pl):
                    call["genotypeLikelihood"] = [-v / 10 for v in pl]
                for key in data:
                    if key in ("GT", "PS", "GL", "PL") or data[key] is None:
                        continue
                    extra[key] = _values(data[key])
                if extra:
                    call["info"] = extra
                calls.append(call)
            if calls:
                variant["calls"] = calls
            out.append(variant)
    return out


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _values(value: Any) -> list[Any]:
    if value is True:
        return [True]
    if isinstance(value, tuple):
        return [_text(v) for v in value]
    return [_text(value)]
