"""Variant set export: the rows a BigQuery export would hold, as newline-delimited JSON.

BigQuery is not available to a mock, so ``variantsets.export`` writes the table to the
directory standing in for BigQuery (:class:`~mockserver.backend.storage.BigQuery`):
``<bigquery root>/<projectId>/<bigqueryDataset>/<bigqueryTable>.jsonl``, one JSON object
per line, one line per variant, ordered by reference name, then start, then id. Every row
has every column (``null`` or ``[]`` when the variant has no value)::

    {"variant_id": "...", "variant_set_id": "...", "reference_name": "chr1",
     "start_position": 10, "end_position": 11, "reference_bases": "A",
     "alternate_bases": ["G"], "names": ["rs1"], "quality": 50.0, "filter": ["PASS"],
     "info": {"DP": ["14"]}, "created": 1546300800000,
     "call": [{"call_set_id": "...", "call_set_name": "NA12878", "genotype": [0, 1],
               "phaseset": null, "genotype_likelihood": [], "info": {}}]}

Positions are 0-based and end-exclusive as in the API; ``created`` is milliseconds since
the epoch. With ``callSetIds`` only those calls are written (every variant still is).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mockserver.backend.variant_store import VariantStore, variant_id


def export_lines(
    store: VariantStore, set_id: str, names: dict[str, str], wanted: set[str] | None
) -> Iterator[str]:
    """The table's lines for a variant set (a :meth:`VariantStore.view`, read off the lock)."""
    removed = store.removed_calls
    keep = None
    if wanted is not None:
        keep = lambda call_set_id: call_set_id in wanted and call_set_id not in removed  # noqa: E731
    for reference in list(store.shelves):
        for item in store.stream(reference, 0, None, None):
            variant = store.render(item, keep)
            yield json.dumps(row(set_id, item[1], variant, names), separators=(",", ":")) + "\n"


def row(set_id: str, seq: int, variant: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """One variant as a table row (see module docstring)."""
    return {
        "variant_id": variant_id(set_id, seq),
        "variant_set_id": set_id,
        "reference_name": variant["referenceName"],
        "start_position": int(variant["start"]),
        "end_position": int(variant["end"]),
        "reference_bases": variant.get("referenceBases"),
        "alternate_bases": variant.get("alternateBases", []),
        "names": variant.get("names", []),
        "quality": variant.get("quality"),
        "filter": variant.get("filter", []),
        "info": variant.get("info", {}),
        "created": int(variant["created"]) if variant.get("created") else None,
        "call": [
            {
                "call_set_id": call["callSetId"],
                "call_set_name": names.get(call["callSetId"]),
                "genotype": call.get("genotype", []),
                "phaseset": call.get("phaseset"),
                "genotype_likelihood": call.get("genotypeLikelihood", []),
                "info": call.get("info", {}),
            }
            for call in variant.get("calls", [])
        ],
    }
