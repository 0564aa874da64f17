"""``genomics.datasets.*`` methods beyond the standard ones (see :mod:`mockserver.handlers`)."""

from __future__ import annotations

from typing import Any

from mockserver.context import backend, principal


async def list_(
    projectId: str | None = None, pageSize: int | None = None, pageToken: str | None = None
) -> dict[str, Any]:
    return backend().datasets.list(principal(), projectId, pageSize, pageToken)


async def undelete(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().datasets.undelete(principal(), datasetId)


# -- dataset IAM policies (mockserver.backend.dataset_policies) ------------------------------


async def getIamPolicy(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().dataset_policies.get_policy(principal(), datasetId)


async def setIamPolicy(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return backend().dataset_policies.set_policy(principal(), datasetId, (body or {}).get("policy"))


async def testIamPermissions(datasetId: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    permissions = (body or {}).get("permissions")
    return backend().dataset_policies.test_permissions(principal(), datasetId, permissions)
