"""``datasets.getIamPolicy``, ``setIamPolicy`` and ``testIamPermissions``: a dataset's own IAM policy.

The policy is stored with the rest of the permission state in :mod:`.iam`,
which also decides every check; this module holds the three API methods and
their rules (what a policy may look like is :mod:`.policies`):

* ``setIamPolicy`` replaces the whole policy; a given ``etag`` must be the
  current one (else ``409 ABORTED``), so concurrent read-modify-write cycles
  cannot lose each other's changes;
* ``testIamPermissions`` never fails for lack of access: an unknown, deleted
  or invisible dataset answers ``{}``, so the answer reveals no existence.
"""

from __future__ import annotations

import base64
import threading
from typing import TYPE_CHECKING, Any

from mockserver.backend.base import synchronized
from mockserver.backend.policies import check_policy, decode_etag
from mockserver.backend.principals import Principal
from mockserver.backend.roles import TESTABLE_DATASET_PERMISSIONS
from mockserver.errors import aborted, invalid_argument

if TYPE_CHECKING:
    from mockserver.backend import Backend


class DatasetPolicies:
    """The dataset policy methods of the API (no state of their own: see :mod:`.iam`)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    @property
    def lock(self) -> threading.RLock:
        return self.backend.lock

    @synchronized
    def get_policy(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        """The dataset's policy; ``{"etag": EMPTY_POLICY_ETAG}`` when it never had one."""
        datasets = self.backend.datasets
        datasets.authorize(principal, "genomics.datasets.getIamPolicy", datasets.require(dataset_id))
        return self.backend.iam.policy(dataset_id)

    @synchronized
    def set_policy(self, principal: Principal, dataset_id: str, policy: Any) -> dict[str, Any]:
        """Replace the whole policy (see module docstring for the etag rule)."""
        datasets = self.backend.datasets
        datasets.authorize(principal, "genomics.datasets.setIamPolicy", datasets.require(dataset_id))
        bindings = check_policy(policy)
        etag = policy.get("etag")
        if etag not in (None, ""):
            sent = decode_etag(etag, "policy.etag")
            if sent != base64.b64decode(self.backend.iam.current_etag(dataset_id)):
                raise aborted(
                    f"The policy of datasets/{dataset_id} was changed concurrently: policy.etag "
                    f"{etag!r} is not the current etag; read the policy again and retry"
                )
        return self.backend.iam.replace_policy(dataset_id, bindings)

    @synchronized
    def test_permissions(self, principal: Principal, dataset_id: str, permissions: Any) -> dict[str, Any]:
        """The subset of ``permissions`` the caller holds on the dataset (``{}`` when none)."""
        if not permissions:
            raise invalid_argument("permissions is required")
        if not isinstance(permissions, list):
            raise invalid_argument("permissions must be a list of permission names")
        for i, permission in enumerate(permissions):
            if isinstance(permission, str) and "*" in permission:
                raise invalid_argument(
                    f"permissions[{i}]: wildcards are not allowed ({permission!r}); name each permission"
                )
            if permission not in TESTABLE_DATASET_PERMISSIONS:
                raise invalid_argument(
                    f"permissions[{i}]: {permission!r} is not a permission that can be tested on a "
                    f"dataset (one of {', '.join(sorted(TESTABLE_DATASET_PERMISSIONS))})"
                )
        if self.backend.datasets.find(dataset_id) is None:
            return {}  # like a dataset the caller cannot see: nothing held, nothing revealed
        resource = f"datasets/{dataset_id}"
        iam = self.backend.iam
        held = [p for p in dict.fromkeys(permissions) if iam.allowed(principal, p, resource)]
        return {"permissions": held} if held else {}
