"""``genomics.variants.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def import_(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().variants.import_(principal(), body)


async def merge(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().variants.merge(principal(), body)
