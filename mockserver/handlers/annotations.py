"""``genomics.annotations.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def batchCreate(body: dict[str, Any]) -> dict[str, Any]:
    return backend().annotations.batch_create(principal(), body)
