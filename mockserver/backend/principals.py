"""Who a caller is: an IAM member and the OAuth scopes of its token.

:mod:`mockserver.auth` turns HTTP credentials into a :class:`Principal`; the
backend receives one with every API call and asks :mod:`.iam` what it may do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def authenticated(self) -> bool:
        """A user or service account (an API key alone identifies nobody)."""
        return self.member.startswith(("user:", "serviceAccount:"))


#: the caller in open mode when no credentials are sent
DEFAULT_OWNER = Principal("user:owner@genomics-mock.local", ALL_SCOPES, superuser=True)
#: a caller identified by an API key only: matches ``allUsers`` and nothing else
ANONYMOUS = Principal("anonymous", frozenset({SCOPE_CLOUD_PLATFORM}))
