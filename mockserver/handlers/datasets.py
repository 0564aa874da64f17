"""Handlers for ``genomics.datasets.*``."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def create(body: dict[str, Any]) -> dict[str, Any]:
    return backend().datasets.create(principal(), body)


async def get(datasetId: str) -> dict[str, Any]:  # noqa: N803 - names come from the API
    return backend().datasets.get(principal(), datasetId)


async def list_(
    projectId: str | None = None,  # noqa: N803
    pageSize: int | None = None,  # noqa: N803
    pageToken: str | None = None,  # noqa: N803
) -> dict[str, Any]:
    return backend().datasets.list(principal(), projectId, pageSize, pageToken)


async def patch(datasetId: str, body: dict[str, Any], updateMask: str | None = None) -> dict[str, Any]:  # noqa: N803
    return backend().datasets.patch(principal(), datasetId, body, updateMask)


async def delete(datasetId: str) -> dict[str, Any]:  # noqa: N803
    return backend().datasets.delete(principal(), datasetId)


async def undelete(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N803
    return backend().datasets.undelete(principal(), datasetId)


# -- dataset IAM (mockserver.backend.iam) ------------------------------------------------


async def getIamPolicy(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N802,N803
    return backend().iam.get_policy(principal(), datasetId)


async def setIamPolicy(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N802,N803
    return backend().iam.set_policy(principal(), datasetId, (body or {}).get("policy"))


async def testIamPermissions(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: N802,N803
    return backend().iam.test_permissions(principal(), datasetId, (body or {}).get("permissions"))
