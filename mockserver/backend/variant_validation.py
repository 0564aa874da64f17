"""The rules a ``Variant`` body must keep (variants.create and each variant of variants.merge).

Decisions where the documentation is silent (tested):

* required: ``referenceName``, ``start`` (>= 0) and ``end`` (> ``start``); without ``end``
  it is ``start + len(referenceBases)`` when ``referenceBases`` is given;
* ``id``, ``variantSetId`` (checked by the caller), ``created`` and each call's
  ``callSetName`` are set by the server and ignored on input;
* each call names a call set of the variant's own variant set, at most once per variant;
  each ``genotype`` value is -1 (not called), 0 (the reference) or a 1-based index into
  ``alternateBases``;
* when the variant set's reference set is known, ``referenceName`` must be one of its
  references and ``end`` within that reference's length;
* ``quality`` and ``genotypeLikelihood`` values are finite numbers; ``info`` maps keys to lists.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from mockserver.backend.base import compact
from mockserver.backend.request_fields import optional_int64, optional_str, required_str, string_list
from mockserver.backend.variantsets import validate_info
from mockserver.errors import invalid_argument


def checked_variant(
    body: dict[str, Any],
    *,
    is_call_set: Callable[[str], bool],
    lengths: dict[str, int] | None,
    where: str = "",
) -> tuple[str, int, int, dict[str, Any]]:
    """``(referenceName, start, end, fields)`` of a valid variant body, else 400 naming the field
    (prefixed by ``where``, e.g. ``variants[3].``); ``lengths`` maps the references a variant may
    be on to their lengths (None: any)."""
    reference = required_str(body, "referenceName", f"{where}referenceName")
    if lengths is not None and reference not in lengths:
        raise invalid_argument(
            f"{where}referenceName: {reference!r} is not a reference of the variant set's reference set"
        )
    start = optional_int64(body.get("start"), f"{where}start")
    if start is None or start < 0:
        raise invalid_argument(f"{where}start is required (a non-negative int64)")
    bases = optional_str(body.get("referenceBases"), f"{where}referenceBases")
    end = optional_int64(body.get("end"), f"{where}end")
    if end is None:
        if not bases:
            raise invalid_argument(f"{where}end is required (or referenceBases, to derive it)")
        end = start + len(bases)
    if end <= start:
        raise invalid_argument(f"{where}end ({end}) must be greater than start ({start})")
    if lengths is not None and lengths[reference] and end > lengths[reference]:
        raise invalid_argument(
            f"{where}end ({end}) is past the end of reference {reference!r} (length {lengths[reference]})"
        )
    alternates = string_list(body.get("alternateBases"), f"{where}alternateBases")
    fields = {
        "referenceBases": bases,
        "alternateBases": alternates,
        "names": string_list(body.get("names"), f"{where}names"),
        "quality": _number(body.get("quality"), f"{where}quality"),
        "filter": string_list(body.get("filter"), f"{where}filter"),
        "info": validate_info(body.get("info"), f"{where}info"),
        "calls": _calls(body.get("calls"), len(alternates), is_call_set, where),
    }
    return reference, start, end, compact(fields)


def _calls(
    value: Any, alternates: int, is_call_set: Callable[[str], bool], where: str
) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_argument(f"{where}calls must be a list of VariantCall objects")
    calls, seen = [], set()
    for i, call in enumerate(value):
        here = f"{where}calls[{i}]"
        if not isinstance(call, dict):
            raise invalid_argument(f"{here} must be an object")
        call_set_id = required_str(call, "callSetId", f"{here}.callSetId")
        if not is_call_set(call_set_id):
            raise invalid_argument(f"{here}.callSetId: {call_set_id!r} is not a call set of this variant set")
        if call_set_id in seen:
            raise invalid_argument(f"{here}.callSetId: {call_set_id!r} has a call already")
        seen.add(call_set_id)
        genotype = call.get("genotype") or []
        if not isinstance(genotype, list) or not all(
            isinstance(g, int) and not isinstance(g, bool) and -1 <= g <= alternates for g in genotype
        ):
            raise invalid_argument(
                f"{here}.genotype: values are -1 (no call), 0 (reference) or 1..{alternates} "
                "(an index into alternateBases)"
            )
        likelihood = call.get("genotypeLikelihood") or []
        if not isinstance(likelihood, list):
            raise invalid_argument(f"{here}.genotypeLikelihood must be a list of numbers")
        calls.append(
            compact(
                {
                    "callSetId": call_set_id,
                    "genotype": list(genotype),
                    "phaseset": optional_str(call.get("phaseset"), f"{here}.phaseset"),
                    "genotypeLikelihood": [
                        _finite(v, f"{here}.genotypeLikelihood[{j}]") for j, v in enumerate(likelihood)
                    ],
                    "info": validate_info(call.get("info"), f"{here}.info"),
                }
            )
        )
    return calls


def _number(value: Any, field: str) -> float | None:
    return None if value is None else _finite(value, field)


def _finite(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise invalid_argument(f"{field} must be a finite number")
    return float(value)
