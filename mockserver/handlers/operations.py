"""HTTP handlers for long-running operations: arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def get(operationsId: str) -> dict[str, Any]:
    return backend().operations.get(principal(), f"operations/{operationsId}")


async def list_(
    filter: str | None = None,
    pageSize: int | None = None,
    pageToken: str | None = None,
) -> dict[str, Any]:
    return backend().operations.list(principal(), filter, pageSize, pageToken)


async def cancel(operationsId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().operations.cancel(principal(), f"operations/{operationsId}")
