"""HTTP handlers for read group sets: arguments in, one backend call, dict out."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def get(readGroupSetId: str) -> dict[str, Any]:  # noqa: N803 - spec parameter name
    return backend().read_group_sets.get(principal(), readGroupSetId)


async def patch(
    readGroupSetId: str,  # noqa: N803
    body: dict[str, Any] | None = None,
    updateMask: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().read_group_sets.patch(principal(), readGroupSetId, body, updateMask)


async def delete(readGroupSetId: str) -> dict[str, Any]:  # noqa: N803
    return backend().read_group_sets.delete(principal(), readGroupSetId)


async def search(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().read_group_sets.search(principal(), body)


async def import_(body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().read_group_sets.import_(principal(), body)


async def export(readGroupSetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N803
    return backend().read_group_sets.export(principal(), readGroupSetId, body)


async def coveragebuckets_list(
    readGroupSetId: str,  # noqa: N803
    referenceName: str | None = None,  # noqa: N803
    start: str | None = None,
    end: str | None = None,
    targetBucketWidth: str | None = None,  # noqa: N803
    pageSize: int | None = None,  # noqa: N803
    pageToken: str | None = None,  # noqa: N803
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
