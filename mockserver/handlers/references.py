"""HTTP handlers for references (read-only): arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def get(referenceId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().references.get_reference(principal(), referenceId)


async def search(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().references.search_references(principal(), body)
