"""VCF in (pysam): files read into runs of record lines, and a record line as a ``Variant``.

An imported variant is stored as the VCF text pysam writes for its record
(``str(record)``), like a read is stored as its SAM line: a million variants with two
samples cost their lines plus two int64 positions each, and a line is parsed again only
when a page, a get or an export shows it. :func:`variant_json` is that parse; the
mapping it applies (the mock's, where the API's documentation is silent):

* ``ID`` -> ``names`` (split on ``;``), ``ALT`` -> ``alternateBases``, ``QUAL`` ->
  ``quality``, ``FILTER`` -> ``filter`` (``.`` leaves each out);
* ``INFO`` -> ``info``: every value a list of strings as the VCF text has them (``AF=0.5,0.1``
  -> ``["0.5", "0.1"]``); a flag is ``[true]``; ``END`` is the variant's ``end``, not info;
* per sample, one ``VariantCall``: ``GT`` -> ``genotype`` (``.`` is -1); a phased ``GT``
  (``|``) -> ``phaseset`` = its ``PS`` value, or ``*`` without one; ``GL`` ->
  ``genotypeLikelihood``, else ``PL`` converted (``-PL/10``); with both, ``PL`` stays in
  the call's ``info`` (a list of ``.`` only counts as absent); every other FORMAT field ->
  the call's ``info`` (``.`` left out);
* a file with one sample has its ``QUAL`` and ``FILTER`` moved to that sample's call
  (``info.QUAL``, ``info.FILTER``), as the real import does;
* keys an import's ``infoMergeConfig`` marks ``MOVE_TO_CALLS`` go from ``info`` to every
  call's ``info``.

Reading (:func:`read_vcf`) checks what htslib lets pass with a warning: the text header
(``##fileformat`` first, ``##key=value`` lines, structured lines closed by ``>``, a
``#CHROM`` line with the fixed columns), records in order (one run per reference, starts
not decreasing), contigs the header declares (when it declares any) and, when the
variant set's reference set is known, references of that set within their lengths. Each
failure is a 400 naming the file and its line (``record N`` in a BCF file).
"""

from __future__ import annotations

import gzip
import math
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pysam

from mockserver.backend.base import compact
from mockserver.errors import invalid_argument

FIXED_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
METADATA_TYPES = {"Integer": "INTEGER", "Float": "FLOAT", "Flag": "FLAG", "Character": "CHARACTER",
                  "String": "STRING"}  # fmt: skip


@dataclass
class Run:
    """The records of one reference in one file, in file order (which is start order)."""

    reference: str
    starts: array = field(default_factory=lambda: array("q"))
    ends: array = field(default_factory=lambda: array("q"))
    lines: list[str] = field(default_factory=list)


@dataclass
class VcfData:
    """What one file contributes to an import."""

    uri: str
    samples: list[str]
    metadata: list[dict[str, Any]]
    runs: list[Run]


# -- reading ------------------------------------------------------------------------------


def read_vcf(path: Path, uri: str, *, normalize: bool, references: dict[str, int | None] | None) -> VcfData:
    """Read one VCF/BCF file (see module docstring); ``references`` maps the names a record may
    use to their length (None: any name)."""
    header_lines = check_text_header(path, uri)
    try:
        handle = pysam.VariantFile(str(path))
    except (OSError, ValueError) as exc:
        raise invalid_argument(f"sourceUris: {uri} is not a readable VCF/BCF file ({exc})") from None
    with handle:
        header = handle.header
        declared = {str(name): contig.length for name, contig in header.contigs.items()}
        samples = list(header.samples)
        metadata = header_metadata(header)
        runs = _read_records(handle, uri, header_lines, declared, normalize, references)
    return VcfData(uri, samples, metadata, runs)


def _read_records(
    handle: pysam.VariantFile,
    uri: str,
    header_lines: int | None,
    declared: dict[str, int | None],
    normalize: bool,
    references: dict[str, int | None] | None,
) -> list[Run]:
    def where(ordinal: int) -> str:
        if header_lines is None:
            return f"sourceUris: {uri} record {ordinal}"
        return f"sourceUris: {uri} line {header_lines + ordinal}"

    runs: list[Run] = []
    finished: set[str] = set()
    contig: str | None = None
    limit: int | None = None
    previous = -1
    ordinal = 0
    starts_append = ends_append = lines_append = None
    rid = -1  # the header's index of the current contig: cheaper to compare than its name
    try:
        # a plain loop (no next() per record); an error of the iterator comes before the
        # ordinal of the record it could not read is counted
        for record in handle:
            ordinal += 1
            if record.rid != rid:
                rid = record.rid
                name = record.contig
                if name in finished:
                    raise invalid_argument(
                        f"{where(ordinal)}: records of {name!r} resume after another contig"
                    )
                if declared and name not in declared:
                    raise invalid_argument(f"{where(ordinal)}: contig {name!r} is not declared in the header")
                if contig is not None:
                    finished.add(contig)
                contig = name
                target = normalize_reference_name(name) if normalize else name
                limit = declared.get(name)
                if references is not None:
                    if target not in references:
                        unknown = f"{target!r} is not a reference of the variant set's reference set"
                        raise invalid_argument(f"{where(ordinal)}: {unknown}")
                    limit = references[target] or limit
                run = Run(target)
                runs.append(run)
                starts_append, ends_append, lines_append = (
                    run.starts.append,
                    run.ends.append,
                    run.lines.append,
                )
                previous = -1
            start = record.start
            if start < previous:
                raise invalid_argument(
                    f"{where(ordinal)}: position {start + 1} comes after {previous + 1} (unsorted)"
                )
            stop = record.stop
            if limit is not None and stop > limit:
                raise invalid_argument(
                    f"{where(ordinal)}: ends at {stop}, past the end of {contig!r} ({limit})"
                )
            previous = start
            starts_append(start)  # type: ignore[misc]
            ends_append(stop)  # type: ignore[misc]
            lines_append(str(record))  # type: ignore[misc]
    except (OSError, ValueError) as exc:
        raise invalid_argument(f"{where(ordinal + 1)}: not a valid VCF record ({exc})") from None
    return runs


def check_text_header(path: Path, uri: str) -> int | None:
    """Check a text VCF's header; its number of lines (None for BCF, which has no text header)."""
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
        opener: Callable[..., Any] = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as stream:
            if stream.read(3) == b"BCF":
                return None
        with opener(path, "rt", encoding="utf-8", errors="replace", newline="") as text:
            return _header_length(text, uri)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise invalid_argument(f"sourceUris: {uri} cannot be read ({exc.__class__.__name__})") from None


def _header_length(lines: Iterator[str], uri: str) -> int:
    number = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        where = f"sourceUris: {uri} line {number}"
        if number == 1 and not line.startswith("##fileformat=VCF"):
            raise invalid_argument(f"{where}: a VCF file starts with ##fileformat=VCFv4.x")
        if line.startswith("##"):
            key, eq, value = line[2:].partition("=")
            if not key or not eq:
                raise invalid_argument(f"{where}: header lines are ##key=value")
            if value.startswith("<") and not value.endswith(">"):
                raise invalid_argument(f"{where}: structured header line not closed by '>'")
            continue
        if line.startswith("#CHROM"):
            columns = line.split("\t")
            if tuple(columns[:8]) != FIXED_COLUMNS or (len(columns) > 8 and columns[8] != "FORMAT"):
                raise invalid_argument(
                    f"{where}: the #CHROM line needs the tab-separated columns {' '.join(FIXED_COLUMNS)}"
                    " [FORMAT samples...]"
                )
            return number
        raise invalid_argument(f"{where}: expected a ## header line or the #CHROM line")
    raise invalid_argument(f"sourceUris: {uri} line {number + 1}: the header has no #CHROM line")


def header_metadata(header: pysam.VariantHeader) -> list[dict[str, Any]]:
    """The header's lines as ``VariantSetMetadata`` (contigs, INFO, FORMAT, FILTER, key=value)."""
    entries = []
    for record in header.records:
        if record.type == "GENERIC":
            entries.append({"key": record.key, "value": record.value})
            continue
        attributes = {str(k): str(v).strip('"') for k, v in record.items()}
        entry: dict[str, Any] = {"key": record.key, "id": attributes.pop("ID", None)}
        if record.type in ("INFO", "FORMAT"):
            entry["number"] = attributes.pop("Number", None)
            entry["type"] = METADATA_TYPES.get(attributes.pop("Type", ""))
        entry["description"] = attributes.pop("Description", None)
        entry["info"] = {key: [value] for key, value in attributes.items() if key != "IDX"}
        entries.append(compact(entry))
    return entries


def normalize_reference_name(name: str) -> str:
    """``normalizeReferenceNames``: hg19 haplotypes (``_hap``) unchanged; otherwise upper case,
    ``chr`` dropped before an autosome or sex chromosome, every mitochondrial name ``MT``."""
    if "_hap" in name:
        return name
    upper = name.upper()
    bare = upper[3:] if upper.startswith("CHR") else upper
    if bare in ("M", "MT"):
        return "MT"
    if bare.isdigit() or bare in ("X", "Y"):
        return bare
    return upper


# -- a stored line as a Variant -----------------------------------------------------------


def line_allele_key(line: str) -> tuple[str, tuple[str, ...]]:
    """``(referenceBases, alternateBases)`` of a stored line (what merging matches on)."""
    columns = line.split("\t", 5)
    alts = columns[4]
    return columns[3], tuple(alts.split(",")) if alts != "." else ()


def line_names(line: str) -> list[str]:
    names = line.split("\t", 3)[2]
    return names.split(";") if names != "." else []


def variant_json(
    line: str,
    call_set_ids: tuple[str, ...],
    *,
    single_sample: bool = False,
    move_to_calls: tuple[str, ...] = (),
    keep: Callable[[str], bool] | None = None,
) -> dict[str, Any]:
    """The ``Variant`` fields a stored line holds (not its ids, reference or positions); calls
    of call sets ``keep`` refuses are left out."""
    columns = line.rstrip("\n").split("\t")
    variant: dict[str, Any] = {"referenceBases": columns[3]}
    if columns[4] != ".":
        variant["alternateBases"] = columns[4].split(",")
    if columns[2] != ".":
        variant["names"] = columns[2].split(";")
    quality = _number(columns[5])
    filters = None if columns[6] == "." else columns[6].split(";")
    info = info_json(columns[7])
    moved = {key: info.pop(key) for key in move_to_calls if key in info}
    if single_sample:
        if quality is not None:
            moved["QUAL"] = [columns[5]]
        if filters is not None:
            moved["FILTER"] = filters
    else:
        if quality is not None:
            variant["quality"] = quality
        if filters is not None:
            variant["filter"] = filters
    if info:
        variant["info"] = info
    if len(columns) > 9:
        keys = columns[8].split(":")
        calls = []
        for call_set_id, text in zip(call_set_ids, columns[9:], strict=False):
            if keep is not None and not keep(call_set_id):
                continue
            call = {"callSetId": call_set_id, **call_json(keys, text)}
            if moved:
                call["info"] = {**moved, **call.get("info", {})}
            calls.append(call)
        if calls:
            variant["calls"] = calls
    return variant


def info_json(text: str) -> dict[str, list[Any]]:
    if text == ".":
        return {}
    info: dict[str, list[Any]] = {}
    for item in text.split(";"):
        key, eq, value = item.partition("=")
        if key != "END":  # the variant's end already
            info[key] = value.split(",") if eq else [True]
    return info


def call_json(keys: list[str], text: str) -> dict[str, Any]:
    """One sample column as a ``VariantCall`` (without its call set)."""
    call: dict[str, Any] = {}
    info: dict[str, list[str]] = {}
    genotype = phaseset = likelihoods = phred = "."
    for key, value in zip(keys, text.split(":"), strict=False):
        if key == "GT":
            genotype = value
        elif key == "PS":
            phaseset = value
        elif key == "GL":
            likelihoods = value
        elif key == "PL":
            phred = value
        elif value != ".":
            info[key] = value.split(",")
    if genotype:
        phased = "|" in genotype
        alleles = genotype.replace("|", "/").split("/") if phased else genotype.split("/")
        call["genotype"] = [int(a) if a.isdigit() else -1 for a in alleles]
        if phased:
            call["phaseset"] = phaseset if phaseset != "." else "*"
        elif phaseset != ".":
            info["PS"] = [phaseset]
    if likelihoods != "." or phred != ".":
        gl = [n for n in map(_number, likelihoods.split(",")) if n is not None]
        pl = [n for n in map(_number, phred.split(",")) if n is not None]
        if gl:
            call["genotypeLikelihood"] = gl
            if pl:
                info["PL"] = phred.split(",")
        elif pl:
            call["genotypeLikelihood"] = [-v / 10 for v in pl]
    if info:
        call["info"] = info
    return call


def _number(text: str) -> float | None:
    """A finite number written in a VCF column; None for ``.`` (or for text htslib would not
    have written, from a saved state)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
