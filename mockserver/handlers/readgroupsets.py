"""``genomics.readgroupsets.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def import_(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().read_group_sets.import_(principal(), body)


async def export(readGroupSetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().read_group_sets.export(principal(), readGroupSetId, body)


async def coveragebuckets_list(
    readGroupSetId: str,
    referenceName: str | None = None,
    start: str | None = None,
    end: str | None = None,
    targetBucketWidth: str | None = None,
    pageSize: int | None = None,
    pageToken: str | None = None,
) -> dict[str, Any]:
    return backend().coverage.list_buckets(
        principal(),
        readGroupSetId,
        reference_name=referenceName,
        start=start,
        end=end,
        target_bucket_width=targetBucketWidth,
        page_size_value=pageSize,
        page_token=pageToken,
    )
