"""HTTP handler for reads.search: arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def search(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().reads.search(principal(), body)
