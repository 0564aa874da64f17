"""What a dataset IAM policy, a role binding and a member may look like.

Pure checks shared by ``setIamPolicy``, the IAM config file (:func:`check_config`)
and the admin API; each rejects bad input with ``400 INVALID_ARGUMENT`` naming the field
(``policy.bindings[1].role``, ``projects.p1.bindings[0].members[2]`` …).
Who holds what is :mod:`mockserver.backend.iam`'s business.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass
class IamConfig:
    """A checked IAM config: what :meth:`Iam.load_config` adds (policies without etag get one)."""

    projects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: datasetId -> (bindings, etag or None)
    policies: dict[str, tuple[list[dict[str, Any]], str | None]] = field(default_factory=dict)


def check_config(config: Any) -> IamConfig:
    """``{projects: {<id>: {bindings}}, groups: {<email>: [members]}, policies: {<datasetId>: policy}}``
    checked whole (400 naming the entry), before anything is applied."""
    if not isinstance(config, Mapping):
        raise invalid_argument("the IAM config must be an object with projects and groups")
    unknown = set(config) - {"projects", "groups", "policies"}
    if unknown:
        raise invalid_argument(f"unknown IAM config keys: {', '.join(sorted(unknown))}")
    projects = config.get("projects") or {}
    groups = config.get("groups") or {}
    policies = config.get("policies") or {}
    for name, value in (("projects", projects), ("groups", groups), ("policies", policies)):
        if not isinstance(value, Mapping):
            raise invalid_argument(f"{name} must be an object keyed by id")
    checked = IamConfig()
    for project_id, entry in projects.items():
        if not isinstance(entry, Mapping):
            raise invalid_argument(f"projects.{project_id} must be an object with bindings")
        checked.projects[str(project_id)] = validate_bindings(
            entry.get("bindings"), f"projects.{project_id}.bindings"
        )
    for group, members in groups.items():
        email = group_email(group, f"groups.{group}")
        if not isinstance(members, list):
            raise invalid_argument(f"groups.{group} must be a list of members")
        for member in members:
            if not is_valid_member(member) or member in PUBLIC_MEMBERS:
                raise invalid_argument(f"groups.{group}: invalid member {member!r}")
        checked.groups.setdefault(email, []).extend(members)
    for dataset_id, policy in policies.items():
        if not isinstance(policy, Mapping):
            raise invalid_argument(f"policies.{dataset_id} must be a policy object")
        bindings = validate_bindings(policy.get("bindings"), f"policies.{dataset_id}.bindings")
        etag = policy.get("etag")
        if etag is not None:
            decode_etag(etag, f"policies.{dataset_id}.etag")
        checked.policies[str(dataset_id)] = (bindings, etag)
    return checked
