"""Field rules for annotations and annotation sets (no state, no permission checks).

Everything here turns a request body into normalized values or raises a
``400 INVALID_ARGUMENT`` whose message names the offending field with the
caller's prefix (``annotation.end``, ``annotations[3].transcript.exons[0].start``),
so ``create`` and each ``batchCreate`` entry report the same rule the same way.

int64 fields arrive as JSON strings (proto3 mapping) or, leniently, as JSON
integers; they are kept as Python ints and rendered back as decimal strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mockserver.backend.base import compact
from mockserver.errors import invalid_argument

ANNOTATION_TYPES = ("ANNOTATION_TYPE_UNSPECIFIED", "GENERIC", "VARIANT", "GENE", "TRANSCRIPT")
UNSPECIFIED = "ANNOTATION_TYPE_UNSPECIFIED"
#: the longest annotated range the real API accepts (100 Mbp)
MAX_RANGE = 100_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

VARIANT_TYPES = (
    "TYPE_UNSPECIFIED", "TYPE_OTHER", "INSERTION", "DELETION", "SUBSTITUTION", "SNP", "STRUCTURAL", "CNV",
)
VARIANT_EFFECTS = (
    "EFFECT_UNSPECIFIED", "EFFECT_OTHER", "FRAMESHIFT", "FRAME_PRESERVING_INDEL", "SYNONYMOUS_SNP",
    "NONSYNONYMOUS_SNP", "STOP_GAIN", "STOP_LOSS", "SPLICE_SITE_DISRUPTION",
)
CLINICAL_SIGNIFICANCES = (
    "CLINICAL_SIGNIFICANCE_UNSPECIFIED", "CLINICAL_SIGNIFICANCE_OTHER", "UNCERTAIN", "BENIGN",
    "LIKELY_BENIGN", "LIKELY_PATHOGENIC", "PATHOGENIC", "DRUG_RESPONSE", "HISTOCOMPATIBILITY",
    "CONFERS_SENSITIVITY", "RISK_FACTOR", "ASSOCIATION", "PROTECTIVE", "MULTIPLE_REPORTED",
)

_INT64_TEXT = re.compile(r"-?[0-9]+")


def parse_int64(value: Any, field: str, *, default: int | None = None) -> int | None:
    """An int64 given as a decimal string or a JSON integer; unset gives ``default``."""
    if type(value) is str and value.isdigit() and value.isascii():
        digits = int(value)  # the usual case first: plain ASCII digits, no pattern
        if digits > INT64_MAX:
            raise invalid_argument(f"{field} is out of the int64 range (got {value!r})")
        return digits
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT64_TEXT.fullmatch(value):
        number = int(value)
    else:
        number = None
    if number is None:
        raise invalid_argument(f"{field} must be an int64 (a decimal string), got {value!r}")
    if not INT64_MIN <= number <= INT64_MAX:
        raise invalid_argument(f"{field} is out of the int64 range (got {value!r})")
    return number


def int64_text(number: int) -> str | None:
    """Proto3 JSON for an int64: a decimal string, omitted (None) at the default 0."""
    return str(number) if number else None


def check_string(body: dict[str, Any], key: str, field: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid_argument(f"{field} must be a string")
    return value


def check_enum(value: Any, allowed: tuple[str, ...], field: str) -> str | None:
    """An enum value, None when unset or at its zero (``*_UNSPECIFIED``) value."""
    if value is None or value == "":
        return None
    if value not in allowed:
        raise invalid_argument(f"{field} must be one of {', '.join(allowed)} (got {value!r})")
    return None if value == allowed[0] else value


def check_info(value: Any, field: str) -> dict[str, list[Any]] | None:
    """``info`` is a map from string keys to lists of values."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise invalid_argument(f"{field} must be a map of string to list")
    for key, item in value.items():
        if not isinstance(item, list):
            raise invalid_argument(f"{field}[{key!r}] must be a list of values")
    return value


def check_bool(body: dict[str, Any], key: str, field: str) -> bool:
    value = body.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_argument(f"{field} must be a boolean")
    return value


def check_object(value: Any, field: str) -> dict[str, Any] | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise invalid_argument(f"{field} must be an object")
    return value


# -- annotation sets ------------------------------------------------------------------


def set_type(value: Any, field: str = "type") -> str | None:
    return check_enum(value, ANNOTATION_TYPES, field)


# -- annotations ----------------------------------------------------------------------


@dataclass(slots=True)
class AnnotationFields:
    """A validated annotation body: where it lies plus everything else (``extra``)."""

    reference_name: str | None
    reference_id: str | None
    start: int
    end: int
    extra: dict[str, Any] | None


def validate_annotation(
    body: Any, set_type_value: str | None, prefix: str = "annotation"
) -> AnnotationFields:
    """Check one annotation against its set's type (``None`` = unspecified)."""
    if not isinstance(body, dict):
        raise invalid_argument(f"{prefix} must be an object")
    reference_name = check_string(body, "referenceName", f"{prefix}.referenceName")
    reference_id = check_string(body, "referenceId", f"{prefix}.referenceId")
    if reference_name is None and reference_id is None:
        raise invalid_argument(f"{prefix}.referenceName or {prefix}.referenceId is required")
    start = parse_int64(body.get("start"), f"{prefix}.start", default=0)
    end = parse_int64(body.get("end"), f"{prefix}.end", default=0)
    assert start is not None and end is not None
    check_range(start, end, prefix)
    effective = effective_type(body.get("type"), set_type_value, prefix)
    extra = {
        "name": check_string(body, "name", f"{prefix}.name"),
        "reverseStrand": check_bool(body, "reverseStrand", f"{prefix}.reverseStrand"),
    }
    extra.update(validate_payload(body, effective, start, end, prefix))
    extra = compact(extra)
    return AnnotationFields(reference_name, reference_id, start, end, extra or None)


def check_range(start: int, end: int, prefix: str) -> None:
    if start < 0:
        raise invalid_argument(f"{prefix}.start must be >= 0 (got {start})")
    if end < start:
        raise invalid_argument(f"{prefix}.end must be >= {prefix}.start (got start={start}, end={end})")
    if end - start > MAX_RANGE:
        raise invalid_argument(f"{prefix}.end - {prefix}.start must be at most {MAX_RANGE} (100 Mbp)")


def effective_type(value: Any, set_type_value: str | None, prefix: str) -> str | None:
    """An annotation's type must equal its set's; an unset type takes the set's."""
    given = check_enum(value, ANNOTATION_TYPES, f"{prefix}.type")
    if given is not None and given != set_type_value:
        raise invalid_argument(
            f"{prefix}.type {given} does not match the annotation set's type {set_type_value or UNSPECIFIED}"
        )
    return set_type_value


def validate_payload(
    body: dict[str, Any], effective: str | None, start: int, end: int, prefix: str
) -> dict[str, Any]:
    """``variant``, ``transcript`` and ``info``: the fields ``update`` may also replace."""
    out: dict[str, Any] = {}
    transcript = check_object(body.get("transcript"), f"{prefix}.transcript")
    if transcript is not None:
        if effective != "TRANSCRIPT":
            raise invalid_argument(f"{prefix}.transcript is only allowed on annotations of type TRANSCRIPT")
        out["transcript"] = validate_transcript(transcript, start, end, f"{prefix}.transcript")
    variant = check_object(body.get("variant"), f"{prefix}.variant")
    if variant is not None:
        if effective != "VARIANT":
            raise invalid_argument(f"{prefix}.variant is only allowed on annotations of type VARIANT")
        out["variant"] = validate_variant(variant, f"{prefix}.variant")
    out["info"] = check_info(body.get("info"), f"{prefix}.info")
    return out


def validate_transcript(transcript: dict[str, Any], start: int, end: int, field: str) -> dict[str, Any]:
    """The API's transcript rules, each a 400 naming the field and the rule:

    * exons need start and end, lie inside the annotation, ordered by start, not overlapping;
    * ``frame`` (an ``Int32Value``: 0 is a value and is kept) is 0, 1 or 2;
    * when there are exons, the coding sequence starts and ends within them;
    * ``frame`` is set on all the coding exons (those the coding sequence intersects) or on
      none, and never on an exon outside the coding sequence (the documentation: "unset if
      this exon does not intersect the coding sequence").
    """
    exons_in = transcript.get("exons") or []
    if not isinstance(exons_in, list):
        raise invalid_argument(f"{field}.exons must be a list")
    exons: list[dict[str, Any]] = []
    spans: list[tuple[int, int, Any]] = []
    for i, exon in enumerate(exons_in):
        where = f"{field}.exons[{i}]"
        if not isinstance(exon, dict):
            raise invalid_argument(f"{where} must be an object")
        for key in ("start", "end"):
            if exon.get(key) in (None, ""):
                raise invalid_argument(f"{where}.{key} is required for TRANSCRIPT annotations")
        exon_start = parse_int64(exon["start"], f"{where}.start")
        exon_end = parse_int64(exon["end"], f"{where}.end")
        assert exon_start is not None and exon_end is not None
        if exon_end < exon_start:
            raise invalid_argument(f"{where}.end must be >= {where}.start")
        if exon_start < start or exon_end > end:
            raise invalid_argument(
                f"{where} [{exon_start}, {exon_end}) must lie inside the annotation [{start}, {end})"
            )
        if spans and exon_start < spans[-1][1]:
            raise invalid_argument(f"{where}: exons must be ordered by start and must not overlap")
        frame = exon.get("frame")
        if frame is not None and (isinstance(frame, bool) or frame not in (0, 1, 2)):
            raise invalid_argument(f"{where}.frame must be 0, 1 or 2")
        spans.append((exon_start, exon_end, frame))
        exon_out = compact({"start": int64_text(exon_start), "end": int64_text(exon_end)})
        if frame is not None:
            exon_out["frame"] = frame
        exons.append(exon_out)
    out: dict[str, Any] = {
        "geneId": check_string(transcript, "geneId", f"{field}.geneId"),
        "exons": exons,
    }
    coding = check_object(transcript.get("codingSequence"), f"{field}.codingSequence")
    coding_range: tuple[int, int] | None = None
    if coding is not None:
        cs_start = parse_int64(coding.get("start"), f"{field}.codingSequence.start", default=0)
        cs_end = parse_int64(coding.get("end"), f"{field}.codingSequence.end", default=0)
        assert cs_start is not None and cs_end is not None
        if cs_end < cs_start:
            raise invalid_argument(f"{field}.codingSequence.end must be >= {field}.codingSequence.start")
        if spans:
            check_coding_within_exons(cs_start, cs_end, spans, f"{field}.codingSequence")
        coding_range = (cs_start, cs_end)
        out["codingSequence"] = compact({"start": int64_text(cs_start), "end": int64_text(cs_end)})
    check_frames(spans, coding_range, f"{field}.exons")
    return compact(out)


def check_coding_within_exons(
    cs_start: int, cs_end: int, spans: list[tuple[int, int, Any]], field: str
) -> None:
    """A coding sequence starts in an exon and ends in one (its end is exclusive)."""
    if not any(s <= cs_start < e for s, e, _ in spans):
        raise invalid_argument(
            f"{field}.start {cs_start} lies outside every exon: the coding sequence must start "
            "and end within the transcript's exons"
        )
    if not any(s < cs_end <= e for s, e, _ in spans):
        raise invalid_argument(
            f"{field}.end {cs_end} lies outside every exon: the coding sequence must start "
            "and end within the transcript's exons"
        )


def check_frames(spans: list[tuple[int, int, Any]], coding: tuple[int, int] | None, field: str) -> None:
    """``frame`` on all coding exons or on none, and on no exon outside the coding sequence."""
    coding_exons = [
        i for i, (s, e, _) in enumerate(spans) if coding is not None and s < coding[1] and coding[0] < e
    ]
    for i, (_s, _e, frame) in enumerate(spans):
        if frame is not None and i not in coding_exons:
            raise invalid_argument(
                f"{field}[{i}].frame is set on an exon that does not intersect the coding sequence "
                "(frame is only for coding exons)"
            )
    framed = [i for i in coding_exons if spans[i][2] is not None]
    if framed and len(framed) != len(coding_exons):
        missing = next(i for i in coding_exons if spans[i][2] is None)
        raise invalid_argument(
            f"{field}[{missing}].frame is unset while {field}[{framed[0]}].frame is set: frame must "
            "be populated for all or none of the coding exons"
        )


def validate_variant(variant: dict[str, Any], field: str) -> dict[str, Any]:
    out = dict(variant)
    out["type"] = check_enum(variant.get("type"), VARIANT_TYPES, f"{field}.type")
    out["effect"] = check_enum(variant.get("effect"), VARIANT_EFFECTS, f"{field}.effect")
    out["clinicalSignificance"] = check_enum(
        variant.get("clinicalSignificance"), CLINICAL_SIGNIFICANCES, f"{field}.clinicalSignificance"
    )
    for key in ("alternateBases", "geneId"):
        check_string(variant, key, f"{field}.{key}")
    for key in ("transcriptIds", "conditions"):
        if variant.get(key) is not None and not isinstance(variant[key], list):
            raise invalid_argument(f"{field}.{key} must be a list")
    return compact(out)
