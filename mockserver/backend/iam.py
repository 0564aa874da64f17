"""Who the caller is and whether they may act: the single authorization hook.

Every backend operation calls :meth:`Iam.authorize` before it reads or writes,
naming the permission the real API documents (``genomics.datasets.get`` …) and
the resource it is checked on (``projects/<id>`` or ``datasets/<id>``). The
permission model (roles, project bindings, dataset policies) lives here and
nowhere else; the role -> permission table is :mod:`mockserver.backend.roles`.

Effective permissions
    on ``projects/<p>``: the permissions of every project binding of ``p``
    whose members include the caller; on ``datasets/<d>``: those of ``d``'s
    project *plus* those of ``d``'s own IAM policy. Members are ``user:``,
    ``serviceAccount:``, ``group:`` (membership from the config, nested
    groups allowed), ``domain:`` (every ``user:`` whose email is in the
    domain), ``allUsers`` (anyone, even an API-key-only caller) and
    ``allAuthenticatedUsers`` (anyone with a user or service account).
    Reference sets and references are readable by every authenticated caller.

Not leaking existence (the outcome a caller sees)
    * holds the permission -> the operation runs;
    * holds *some* permission on the dataset (through its project or its
      policy) but not this one -> ``403 PERMISSION_DENIED`` naming the
      permission and the resource;
    * holds *nothing* on the dataset -> ``404 NOT_FOUND``, the very error an
      unknown id gets. Where the caller named the dataset (its own methods,
      ``datasetId`` of a child create, ``datasetIds`` of a search) the default
      is exactly what :meth:`Datasets.require_live` says for that field
      (:data:`NAMED_DATASET_FIELD`). A component checking a dataset the caller
      did not name (annotation get checks the annotation's dataset) passes its
      own unknown-id error as ``hidden=``, so "exists but invisible" reads
      byte-for-byte like "never existed"; without it the 404 says "Requested
      entity was not found." and never names the dataset.
    * ``datasets.testIamPermissions`` never fails for lack of access: an
      unknown, deleted or invisible dataset answers ``{}``.
    * project-level checks (``projects/<id>``: dataset create/list, export
      targets) are 403: the mock has no notion of a project existing, so
      there is nothing to leak. A check on a project made for a resource the
      caller named by id (an operation) passes ``hidden=`` too, so another
      project's operation reads like an unknown one.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from mockserver.backend.policies import (
    EMPTY_POLICY_ETAG,
    PUBLIC_MEMBERS,
    check_policy,
    decode_etag,
    group_email,
    is_valid_member,
    validate_bindings,
)
from mockserver.backend.roles import (
    ALL_PERMISSIONS,
    PUBLIC_READ,
    RESOURCE_VERBS,
    TESTABLE_DATASET_PERMISSIONS,
    permissions_of,
)
from mockserver.errors import ApiError, aborted, invalid_argument, not_found, permission_denied

if TYPE_CHECKING:
    from mockserver.backend import Backend

_EVERYTHING = frozenset(ALL_PERMISSIONS)
#: memoized (member, resource) answers kept before the memo starts over
CACHE_LIMIT = 100_000

SCOPE_CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
SCOPE_GENOMICS = "https://www.googleapis.com/auth/genomics"
SCOPE_READONLY = "https://www.googleapis.com/auth/genomics.readonly"
SCOPE_STORAGE_RW = "https://www.googleapis.com/auth/devstorage.read_write"
SCOPE_BIGQUERY = "https://www.googleapis.com/auth/bigquery"
ALL_SCOPES = frozenset(
    {SCOPE_CLOUD_PLATFORM, SCOPE_GENOMICS, SCOPE_READONLY, SCOPE_STORAGE_RW, SCOPE_BIGQUERY}
)

#: permission -> the request field that names the dataset it is checked on, where the
#: caller names the dataset itself (the hidden 404 then reads like an unknown id there)
NAMED_DATASET_FIELD: dict[str, str] = {
    **{f"genomics.datasets.{verb}": "datasetId" for verb in RESOURCE_VERBS["datasets"]},
    **{f"genomics.{kind}.create": "datasetId" for kind in ("annotationSets", "variantSets", "readGroupSets")},
    **{f"genomics.{kind}.list": "datasetIds" for kind in ("annotationSets", "variantSets", "readGroupSets")},
}


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


P = ParamSpec("P")
R = TypeVar("R")


def _locked(method: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0].lock:  # type: ignore[attr-defined]  # args[0] is the Iam (self)
            return method(*args, **kwargs)

    return wrapper


class Iam:
    """Role bindings, group memberships, dataset policies, and the checks over them."""

    def __init__(self, backend: Backend | None = None) -> None:
        self.backend = backend
        self.lock = backend.lock if backend is not None else threading.RLock()
        #: etags stay unique across reset() (a client's old etag never matches a new policy)
        self._writes = itertools.count(1)
        self.reset()

    @_locked
    def reset(self) -> None:
        #: projectId -> bindings [{role, members}]
        self._projects: dict[str, list[dict[str, Any]]] = {}
        #: lower-cased group email -> member strings
        self._groups: dict[str, list[str]] = {}
        #: datasetId -> {bindings, etag}
        self._policies: dict[str, dict[str, Any]] = {}
        #: (member, resource, project) -> granted permissions; cleared on every IAM write
        self._cache: dict[tuple[str, str, str | None], frozenset[str]] = {}

    # -- the check every component calls ----------------------------------------------

    def authorize(
        self,
        principal: Principal,
        permission: str,
        resource: str,
        *,
        hidden: ApiError | None = None,
    ) -> None:
        """Return if ``principal`` holds ``permission`` on ``resource``, else raise 403 or 404.

        404 when the caller holds nothing at all on the resource: ``hidden``
        (any resource), else for ``datasets/<id>`` the unknown-dataset error;
        see the module docstring. Without ``hidden`` a project check is 403.
        """
        with self.lock:
            if self.allowed(principal, permission, resource):
                return
            if not self.can_see(principal, resource):
                if hidden is not None:
                    raise hidden
                if resource.startswith("datasets/"):
                    raise self._hidden_error(permission, resource)
            raise permission_denied(
                f"Permission '{permission}' denied on resource '{resource}' for {principal.member}"
            )

    def allowed(self, principal: Principal, permission: str, resource: str) -> bool:
        if principal.superuser:
            return True
        if permission in PUBLIC_READ and principal.authenticated:
            return True
        return permission in self.granted(principal, resource)

    def can_see(self, principal: Principal, resource: str) -> bool:
        """Whether the caller holds any permission at all on ``resource`` (403 vs 404)."""
        return principal.superuser or bool(self.granted(principal, resource))

    @_locked
    def granted(self, principal: Principal, resource: str) -> frozenset[str]:
        """Every permission ``principal``'s bindings give it on ``resource``.

        Memoized per (member, resource, the dataset's project) until the next
        IAM write: a check costs a dict lookup however many bindings exist.
        """
        if principal.superuser:
            return _EVERYTHING
        kind, _, ident = resource.partition("/")
        key = (principal.member, resource, self._project_of(ident) if kind == "datasets" else None)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[key] = self._compute_granted(principal, resource)
        return cached

    def _compute_granted(self, principal: Principal, resource: str) -> frozenset[str]:
        groups = self._groups_of(principal)
        result: set[str] = set()
        for binding in self._bindings_for(resource):
            if any(self._matches(principal, groups, member) for member in binding["members"]):
                result |= permissions_of(binding["role"])
        return frozenset(result)

    def _bindings_for(self, resource: str) -> Iterable[dict[str, Any]]:
        kind, _, ident = resource.partition("/")
        if kind == "projects":
            yield from self._projects.get(ident, ())
        elif kind == "datasets":
            project = self._project_of(ident)
            if project is not None:
                yield from self._projects.get(project, ())
            yield from self._policies.get(ident, {}).get("bindings", ())

    def _project_of(self, dataset_id: str) -> str | None:
        datasets = getattr(self.backend, "datasets", None)
        if datasets is None:
            return None
        try:
            return datasets.project_of(dataset_id)
        except KeyError:
            return None

    def _groups_of(self, principal: Principal) -> set[str]:
        """The groups (lower-cased emails) the caller belongs to, directly or through other groups."""
        if not self._groups:
            return set()
        identities = {principal.member.lower()}
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for group, members in self._groups.items():
                if group not in found and any(m.lower() in identities for m in members):
                    found.add(group)
                    identities.add(f"group:{group}")
                    changed = True
        return found

    @staticmethod
    def _matches(principal: Principal, groups: set[str], member: str) -> bool:
        if member == "allUsers":
            return True
        if member == "allAuthenticatedUsers":
            return principal.authenticated
        if not principal.authenticated:
            return False
        kind, _, value = member.partition(":")
        value = value.lower()
        if kind == "group":
            return value in groups
        if kind == "domain":
            return principal.member.startswith("user:") and principal.member.lower().endswith("@" + value)
        return member.lower() == principal.member.lower()

    @classmethod
    def _hidden_error(cls, permission: str, resource: str) -> ApiError:
        """The default 404 for an invisible dataset (when the component passed no ``hidden=``).

        Where the caller named the dataset itself (a dataset's own methods, a
        child create naming ``datasetId``, a search naming ``datasetIds``) it
        is exactly the unknown-dataset error for that field. A child's check
        on a dataset the caller never named (annotation get checks the
        annotation's dataset) must not name it, so it only says nothing was found.
        """
        field = NAMED_DATASET_FIELD.get(permission)
        if field is not None:
            return cls._unknown_dataset(resource, field)
        return not_found("Requested entity was not found.")

    @staticmethod
    def _unknown_dataset(resource: str, field: str = "datasetId") -> ApiError:
        """What :meth:`Datasets.require_live` says for an unknown id."""
        dataset_id = resource.partition("/")[2]
        return not_found(f"Dataset {dataset_id!r} not found ({field})")

    # -- dataset IAM policies (datasets.getIamPolicy / setIamPolicy / testIamPermissions) --

    def _require_dataset(self, dataset_id: str) -> None:
        datasets = getattr(self.backend, "datasets", None)
        if datasets is not None:
            datasets.require_live(dataset_id)

    @_locked
    def get_policy(self, principal: Principal, dataset_id: str) -> dict[str, Any]:
        """The dataset's policy; ``{"etag": EMPTY_POLICY_ETAG}`` when it never had one."""
        self._require_dataset(dataset_id)
        self.authorize(principal, "genomics.datasets.getIamPolicy", f"datasets/{dataset_id}")
        return self._render(dataset_id)

    @_locked
    def set_policy(self, principal: Principal, dataset_id: str, policy: Any) -> dict[str, Any]:
        """Replace the whole policy. A given ``etag`` must be the current one (else 409 ABORTED)."""
        self._require_dataset(dataset_id)
        self.authorize(principal, "genomics.datasets.setIamPolicy", f"datasets/{dataset_id}")
        bindings = check_policy(policy)
        etag = policy.get("etag")
        if etag not in (None, ""):
            sent = decode_etag(etag, "policy.etag")
            current = self._current_etag(dataset_id)
            if sent != base64.b64decode(current):
                raise aborted(
                    f"The policy of datasets/{dataset_id} was changed concurrently: policy.etag "
                    f"{etag!r} is not the current etag; read the policy again and retry"
                )
        self._policies[dataset_id] = {"bindings": bindings, "etag": self._new_etag(dataset_id, bindings)}
        self._cache.clear()
        return self._render(dataset_id)

    @_locked
    def test_permissions(self, principal: Principal, dataset_id: str, permissions: Any) -> dict[str, Any]:
        """The subset of ``permissions`` the caller holds on the dataset (``{}`` when none).

        Any caller may ask, about any id: an unknown, deleted or invisible
        dataset answers ``{}`` alike, so the answer reveals no existence.
        """
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
        resource = f"datasets/{dataset_id}"
        datasets = getattr(self.backend, "datasets", None)
        if datasets is not None and not datasets.is_live(dataset_id):
            return {}  # like a dataset the caller cannot see: nothing held, nothing revealed
        held = [p for p in dict.fromkeys(permissions) if self.allowed(principal, p, resource)]
        return {"permissions": held} if held else {}

    def _current_etag(self, dataset_id: str) -> str:
        return self._policies.get(dataset_id, {}).get("etag", EMPTY_POLICY_ETAG)

    def _new_etag(self, dataset_id: str, bindings: list[dict[str, Any]]) -> str:
        seed = json.dumps([next(self._writes), dataset_id, bindings], sort_keys=True)
        return base64.b64encode(hashlib.sha256(seed.encode()).digest()[:9]).decode("ascii")

    def _render(self, dataset_id: str) -> dict[str, Any]:
        stored = self._policies.get(dataset_id)
        if stored is None:
            return {"etag": EMPTY_POLICY_ETAG}
        policy: dict[str, Any] = {"version": 1}
        if stored["bindings"]:
            policy["bindings"] = [
                {"role": b["role"], "members": list(b["members"])} for b in stored["bindings"]
            ]
        policy["etag"] = stored["etag"]
        return policy

    # -- admin-facing API (config file, admin endpoints, pytest plugin) ---------------

    @_locked
    def add_project_binding(self, project_id: str, role: str, member: str) -> None:
        """Grant ``role`` on ``projects/<project_id>`` to ``member``."""
        if not project_id or not isinstance(project_id, str):
            raise invalid_argument("projectId is required")
        bindings = validate_bindings([{"role": role, "members": [member]}], "bindings")
        self._cache.clear()
        current = self._projects.setdefault(project_id, [])
        for binding in current:
            if binding["role"] == role:
                if member not in binding["members"]:
                    binding["members"].append(member)
                return
        current.extend(bindings)

    @_locked
    def set_project_bindings(self, project_id: str, bindings: Any) -> None:
        """Replace every binding of ``projects/<project_id>`` (an empty list removes them)."""
        if not project_id or not isinstance(project_id, str):
            raise invalid_argument("projectId is required")
        checked = validate_bindings(bindings, f"projects.{project_id}.bindings")
        self._cache.clear()
        if checked:
            self._projects[project_id] = checked
        else:
            self._projects.pop(project_id, None)

    def project_bindings(self, project_id: str) -> list[dict[str, Any]]:
        with self.lock:
            bindings = self._projects.get(project_id, [])
            return [{"role": b["role"], "members": list(b["members"])} for b in bindings]

    @_locked
    def add_group_member(self, group: str, member: str) -> None:
        """Put ``member`` (any member form, including another ``group:``) into ``group``."""
        email = group_email(group, "group")
        if not is_valid_member(member) or member in PUBLIC_MEMBERS:
            raise invalid_argument(f"groups.{email}: invalid member {member!r}")
        self._cache.clear()
        members = self._groups.setdefault(email, [])
        if member not in members:
            members.append(member)

    @_locked
    def load_config(self, config: Mapping[str, Any]) -> None:
        """Add ``{projects: {<id>: {bindings: [...]}}, groups: {<email>: [members]}}``.

        Checked entirely before anything changes, so a bad file leaves the state as it was.
        """
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
        new_projects: dict[str, list[dict[str, Any]]] = {}
        for project_id, entry in projects.items():
            if not isinstance(entry, Mapping):
                raise invalid_argument(f"projects.{project_id} must be an object with bindings")
            new_projects[str(project_id)] = validate_bindings(
                entry.get("bindings"), f"projects.{project_id}.bindings"
            )
        new_groups: dict[str, list[str]] = {}
        for group, members in groups.items():
            email = group_email(group, f"groups.{group}")
            if not isinstance(members, list):
                raise invalid_argument(f"groups.{group} must be a list of members")
            for member in members:
                if not is_valid_member(member) or member in PUBLIC_MEMBERS:
                    raise invalid_argument(f"groups.{group}: invalid member {member!r}")
            new_groups.setdefault(email, []).extend(m for m in members)
        new_policies: dict[str, dict[str, Any]] = {}
        for dataset_id, policy in policies.items():
            if not isinstance(policy, Mapping):
                raise invalid_argument(f"policies.{dataset_id} must be a policy object")
            bindings = validate_bindings(policy.get("bindings"), f"policies.{dataset_id}.bindings")
            etag = policy.get("etag")
            if etag is None:
                etag = self._new_etag(str(dataset_id), bindings)
            else:
                decode_etag(etag, f"policies.{dataset_id}.etag")
            new_policies[str(dataset_id)] = {"bindings": bindings, "etag": etag}
        for project_id, bindings in new_projects.items():
            self._projects[project_id] = bindings
        for email, members in new_groups.items():
            current = self._groups.setdefault(email, [])
            current.extend(m for m in members if m not in current)
        self._policies.update(new_policies)
        self._cache.clear()

    @_locked
    def snapshot(self) -> dict[str, Any]:
        """All IAM state as plain JSON (the shape :meth:`load_config` reads)."""
        return {
            "projects": {p: {"bindings": self.project_bindings(p)} for p in self._projects},
            "groups": {g: list(m) for g, m in self._groups.items()},
            "policies": {
                d: {
                    "bindings": [{"role": b["role"], "members": list(b["members"])} for b in s["bindings"]],
                    "etag": s["etag"],
                }
                for d, s in self._policies.items()
            },
        }

    @_locked
    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace all IAM state with a :meth:`snapshot` (validated first)."""
        scratch = Iam()
        scratch.load_config(state)
        self.reset()
        self.load_config(state)
