"""``updateMask`` handling shared by every update/patch method.

A mask is a comma-separated list of field paths, camelCase or snake_case
(``sourceUri`` and ``source_uri`` are the same field). No mask means "every
mutable field"; a path outside the method's mutable set is a 400 naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mockserver.errors import invalid_argument

_CAMEL_BOUNDARY = re.compile(r"_([a-z0-9])")


def to_camel(path: str) -> str:
    return ".".join(_CAMEL_BOUNDARY.sub(lambda m: m.group(1).upper(), part) for part in path.split("."))


def parse_update_mask(mask: str | None, mutable: Iterable[str], *, method: str = "update") -> list[str]:
    """The camelCase top-level fields to update, validated against ``mutable``."""
    allowed = list(mutable)
    if mask is None or not mask.strip():
        return allowed
    fields: list[str] = []
    for raw in mask.split(","):
        path = raw.strip()
        if not path:
            continue
        camel = to_camel(path)
        top = camel.split(".", 1)[0]
        if top not in allowed:
            raise invalid_argument(
                f"updateMask: field {path!r} cannot be updated by {method}; "
                f"mutable fields are {', '.join(allowed)}"
            )
        if top not in fields:
            fields.append(top)
    return fields


def apply_mask(target: dict, source: dict, fields: Iterable[str]) -> None:
    """Copy ``fields`` from ``source`` into ``target``; a field absent from source is cleared."""
    for field in fields:
        if field in source and source[field] not in (None, "", [], {}):
            target[field] = source[field]
        else:
            target.pop(field, None)
