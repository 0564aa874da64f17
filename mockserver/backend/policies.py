"""What a dataset IAM policy, a role binding and a member may look like.

Pure checks shared by ``setIamPolicy``, the IAM config file and the admin
API; each rejects bad input with ``400 INVALID_ARGUMENT`` naming the field
(``policy.bindings[1].role``, ``projects.p1.bindings[0].members[2]`` …).
Who holds what is :mod:`mockserver.backend.iam`'s business.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from mockserver.backend.roles import is_known_role
from mockserver.errors import invalid_argument

#: the etag of a dataset that never had a policy (Google's value for an empty policy)
EMPTY_POLICY_ETAG = "ACAB"
#: Google limits a policy to "a few 10s of KB"
MAX_POLICY_BYTES = 64 * 1024
POLICY_VERSIONS = (0, 1, 3)

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})+"
_EMAIL_RE = re.compile(rf"^[A-Za-z0-9._%+\-']+@{_DOMAIN}$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
EMAIL_KINDS = ("user", "serviceAccount", "group")
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")


def is_valid_member(member: object) -> bool:
    if not isinstance(member, str):
        return False
    if member in PUBLIC_MEMBERS:
        return True
    kind, sep, value = member.partition(":")
    if not sep:
        return False
    if kind in EMAIL_KINDS:
        return bool(_EMAIL_RE.match(value))
    if kind == "domain":
        return bool(_DOMAIN_RE.match(value))
    return False


def validate_bindings(bindings: object, where: str) -> list[dict[str, Any]]:
    """Checked, normalized bindings: one entry per role (first-seen order), members de-duplicated.

    ``where`` prefixes field names in error messages (``policy.bindings``).
    """
    if bindings is None:
        return []
    if not isinstance(bindings, list):
        raise invalid_argument(f"{where} must be a list of bindings")
    merged: dict[str, list[str]] = {}
    for i, binding in enumerate(bindings):
        here = f"{where}[{i}]"
        if not isinstance(binding, Mapping):
            raise invalid_argument(f"{here} must be an object with role and members")
        role = binding.get("role")
        if not role:
            raise invalid_argument(f"{here}.role is required")
        if not is_known_role(role):
            raise invalid_argument(f"{here}.role: unknown role {role!r}")
        if binding.get("condition"):
            raise invalid_argument(f"{here}.condition: conditional role bindings are not supported")
        members = binding.get("members")
        if not members:
            raise invalid_argument(f"{here}.members must not be empty")
        if not isinstance(members, list):
            raise invalid_argument(f"{here}.members must be a list of member strings")
        target = merged.setdefault(role, [])
        for j, member in enumerate(members):
            if not is_valid_member(member):
                raise invalid_argument(
                    f"{here}.members[{j}]: invalid member {member!r} (expected user:EMAIL, "
                    "serviceAccount:EMAIL, group:EMAIL, domain:DOMAIN, allUsers or allAuthenticatedUsers)"
                )
            if member not in target:
                target.append(member)
    return [{"role": role, "members": members} for role, members in merged.items()]


def decode_etag(etag: object, where: str) -> bytes:
    if not isinstance(etag, str):
        raise invalid_argument(f"{where} must be a base64 string")
    try:
        return base64.b64decode(etag + "=" * (-len(etag) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid_argument(f"{where} is not valid base64: {etag!r}") from None


def group_email(group: object, where: str) -> str:
    """``group:team@x.org`` or ``team@x.org`` -> ``team@x.org`` (lower-cased), else 400."""
    email = group[len("group:") :] if isinstance(group, str) and group.startswith("group:") else group
    if not isinstance(email, str) or not _EMAIL_RE.match(email):
        raise invalid_argument(f"{where}: invalid group {group!r} (expected an email)")
    return email.lower()


def check_policy(policy: Any) -> list[dict[str, Any]]:
    """The normalized bindings of a ``setIamPolicy`` policy (its etag is the caller's business)."""
    if policy is None:
        raise invalid_argument("policy is required")
    if not isinstance(policy, Mapping):
        raise invalid_argument("policy must be an object")
    if len(json.dumps(policy, default=str)) > MAX_POLICY_BYTES:
        raise invalid_argument(f"policy is larger than the {MAX_POLICY_BYTES // 1024} KB limit")
    version = policy.get("version")
    if version is not None and version not in POLICY_VERSIONS:
        raise invalid_argument(f"policy.version must be one of {POLICY_VERSIONS}, got {version!r}")
    return validate_bindings(policy.get("bindings"), "policy.bindings")
