"""HTTP handlers for genomics.annotations.* (thin: arguments in, one backend call, dict out)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def create(body: dict[str, Any]) -> dict[str, Any]:
    return backend().annotations.create(principal(), body)


async def batchCreate(body: dict[str, Any]) -> dict[str, Any]:  # noqa: N802 - operationId verb
    return backend().annotations.batch_create(principal(), body)


async def get(annotationId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().annotations.get(principal(), annotationId)


async def update(
    annotationId: str,  # noqa: N803
    body: dict[str, Any],
    updateMask: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().annotations.update(principal(), annotationId, body, updateMask)


async def delete(annotationId: str) -> dict[str, Any]:  # noqa: N803
    return backend().annotations.delete(principal(), annotationId)


async def search(body: dict[str, Any]) -> dict[str, Any]:
    return backend().annotations.search(principal(), body)
