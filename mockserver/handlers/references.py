"""``genomics.references.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def bases_list(
    referenceId: str,
    start: str | None = None,
    end: str | None = None,
    pageSize: int | None = None,
    pageToken: str | None = None,
) -> dict[str, Any]:
    return backend().references.bases_list(principal(), referenceId, start, end, pageSize, pageToken)
