"""``genomics.variantsets.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def export(variantSetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().variant_sets.export(principal(), variantSetId, body)
