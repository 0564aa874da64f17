"""HTTP handlers for variant sets: arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def create(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().variant_sets.create(principal(), body)


async def get(variantSetId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().variant_sets.get(principal(), variantSetId)


async def patch(
    variantSetId: str,  # noqa: N803
    body: dict[str, Any] | None = None,
    updateMask: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().variant_sets.patch(principal(), variantSetId, body, updateMask)


async def delete(variantSetId: str) -> dict[str, Any]:  # noqa: N803
    return backend().variant_sets.delete(principal(), variantSetId)


async def search(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().variant_sets.search(principal(), body)
