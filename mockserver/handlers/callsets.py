"""HTTP handlers for call sets: arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def create(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().call_sets.create(principal(), body)


async def get(callSetId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().call_sets.get(principal(), callSetId)


async def patch(
    callSetId: str,  # noqa: N803
    body: dict[str, Any] | None = None,
    updateMask: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().call_sets.patch(principal(), callSetId, body, updateMask)


async def delete(callSetId: str) -> dict[str, Any]:  # noqa: N803
    return backend().call_sets.delete(principal(), callSetId)


async def search(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().call_sets.search(principal(), body)
