"""Who the caller is and whether they may act: the single authorization hook.

Every backend operation calls :meth:`Iam.authorize` before it reads or writes,
naming the permission the real API documents (``genomics.datasets.get`` …) and
the resource it is checked on (``projects/<id>`` or ``datasets/<id>``). The
permission model (roles, project bindings, dataset policies) lives here and
nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mockserver.errors import permission_denied

SCOPE_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SCOPE_GENOMICS = "https://www.googleapis.com/auth/genomics"
SCOPE_READONLY = "https://www.googleapis.com/auth/genomics.readonly"
SCOPE_STORAGE_RW = "https://www.googleapis.com/auth/devstorage.read_write"
SCOPE_BIGQUERY = "https://www.googleapis.com/auth/bigquery"
ALL_SCOPES = frozenset(
    {SCOPE_CLOUD_PLATFORM, SCOPE_GENOMICS, SCOPE_READONLY, SCOPE_STORAGE_RW, SCOPE_BIGQUERY}
)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an IAM member string and the scopes of its token."""

    member: str
    scopes: frozenset[str] = field(default=ALL_SCOPES)
    #: the built-in owner used in ``open`` auth mode holds every permission
    superuser: bool = False


#: the caller in open mode when no credentials are sent
DEFAULT_OWNER = Principal("user:owner@genomics-mock.local", ALL_SCOPES, superuser=True)


class Iam:
    """Permission checks. Until the permission model lands, only the superuser passes."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        pass

    def authorize(self, principal: Principal, permission: str, resource: str) -> None:
        """Raise 403 PERMISSION_DENIED unless ``principal`` holds ``permission`` on ``resource``."""
        if not self.allowed(principal, permission, resource):
            raise permission_denied(
                f"Permission '{permission}' denied on resource '{resource}' for {principal.member}"
            )

    def allowed(self, principal: Principal, permission: str, resource: str) -> bool:
        return principal.superuser
