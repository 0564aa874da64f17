"""HTTP handlers for genomics.annotationsets.* (thin: arguments in, one backend call, dict out)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def create(body: dict[str, Any]) -> dict[str, Any]:
    return backend().annotation_sets.create(principal(), body)


async def get(annotationSetId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().annotation_sets.get(principal(), annotationSetId)


async def update(
    annotationSetId: str,  # noqa: N803
    body: dict[str, Any],
    updateMask: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().annotation_sets.update(principal(), annotationSetId, body, updateMask)


async def delete(annotationSetId: str) -> dict[str, Any]:  # noqa: N803
    return backend().annotation_sets.delete(principal(), annotationSetId)


async def search(body: dict[str, Any]) -> dict[str, Any]:
    return backend().annotation_sets.search(principal(), body)
