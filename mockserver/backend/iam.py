"""Who the caller is and whether they may act: the single authorization hook.

Every backend operation calls :meth:`Iam.authorize` before it reads or writes,
naming the permission the real API documents (``genomics.datasets.get`` …) and
the resource it is checked on (``projects/<id>`` or ``datasets/<id>``). The
permission model (roles, project bindings, dataset policies) lives here and
nowhere else; the role -> permission table is :mod:`mockserver.backend.roles`,
what a binding, member or config may look like is :mod:`.policies`, and the
dataset policy methods of the API are :mod:`.dataset_policies`.

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
      unknown id gets: components call through ``Component.authorize``, which
      passes the unknown-id error of the record the caller named as
      ``hidden=`` (the dataset itself for its own methods, ``datasetId`` of a
      child create and ``datasetIds`` of a search; the annotation for an
      annotation get), so "exists but invisible" reads byte-for-byte like
      "never existed". Without ``hidden`` the 404 says "Requested entity was
      not found." and never names the dataset.
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
import hashlib
import itertools
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mockserver.backend.base import synchronized
from mockserver.backend.policies import (
    EMPTY_POLICY_ETAG,
    PUBLIC_MEMBERS,
    IamConfig,
    check_config,
    decode_etag,
    group_email,
    is_valid_member,
    validate_bindings,
)
from mockserver.backend.principals import Principal
from mockserver.backend.roles import ALL_PERMISSIONS, PUBLIC_READ, permissions_of
from mockserver.backend.tables import Stateful, TableSpec, fail, text
from mockserver.errors import ApiError, error_info, invalid_argument, not_found, permission_denied

if TYPE_CHECKING:
    import threading

    from mockserver.backend import Backend

_EVERYTHING = frozenset(ALL_PERMISSIONS)
#: memoized (member, resource) answers kept before the memo starts over
CACHE_LIMIT = 100_000


def _checked(check: Callable[[], Any]) -> Any:
    """A saved IAM entry checked by the rules the API applies (their 400 becomes a refusal)."""
    try:
        return check()
    except ApiError as error:
        fail(error.message)


def _load_bindings(_project_id: str, value: Any) -> list[dict[str, Any]]:
    return _checked(lambda: validate_bindings(value, "bindings"))


def _load_group(email: str, value: Any) -> list[str]:
    def check() -> list[str]:
        if group_email(email, "group") != email or type(value) is not list:
            raise invalid_argument("must be keyed by a lower-case group email and hold a list of members")
        for member in value:
            if not is_valid_member(member) or member in PUBLIC_MEMBERS:
                raise invalid_argument(f"invalid member {member!r}")
        return value

    return _checked(check)


def _load_policy(_dataset_id: str, value: Any) -> dict[str, Any]:
    if type(value) is not dict or set(value) != {"bindings", "etag"}:
        fail("must be an object with bindings and etag")
    _checked(lambda: decode_etag(text(value["etag"], "etag"), "etag"))
    return {"bindings": _load_bindings("", value["bindings"]), "etag": value["etag"]}


class Iam(Stateful):
    """Role bindings, group memberships, dataset policies, and the checks over them."""

    tables = (
        #: projectId -> bindings [{role, members}]
        TableSpec("projects", _load_bindings),
        #: lower-cased group email -> member strings
        TableSpec("groups", _load_group),
        #: datasetId -> {bindings, etag}
        TableSpec("policies", _load_policy),
    )
    derived = frozenset({"backend", "lock", "feed", "_cache", "_writes"})

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: the backend's lock (an attribute: every check takes it)
        self.lock: threading.RLock = backend.lock
        self.feed = backend.changes
        #: etags stay unique across reset() and restarts (a client's old etag never matches a new policy)
        self._writes = itertools.count(1)
        self._nonce = secrets.token_hex(8)
        self.reset()

    @synchronized
    def reset(self) -> None:
        self._projects = self.table("projects")
        self._groups = self.table("groups")
        self._policies = self.table("policies")
        #: (member, resource, project) -> granted permissions; cleared on every IAM write
        self._cache: dict[tuple[str, str, str | None], frozenset[str]] = {}

    def after_restore(self) -> None:
        self._cache.clear()

    # -- the check every component calls ----------------------------------------------

    def authorize(
        self,
        principal: Principal,
        permission: str,
        resource: str,
        *,
        hidden: ApiError | Callable[[], ApiError] | None = None,
    ) -> None:
        """Return if ``principal`` holds ``permission`` on ``resource``, else raise 403 or 404.

        404 when the caller holds nothing at all on the resource: ``hidden``
        (any resource; an error or a function making it, so the common case
        builds none), else for ``datasets/<id>`` a 404 naming nothing; see
        the module docstring. Without ``hidden`` a project check is 403.
        """
        with self.lock:
            # allowed(), inline: the check of every request, already under the lock granted() takes
            if principal.superuser or (permission in PUBLIC_READ and principal.authenticated):
                return
            if permission in self._granted(principal, resource):
                return
            if not self.can_see(principal, resource):
                if hidden is not None:
                    raise hidden if isinstance(hidden, ApiError) else hidden()
                if resource.startswith("datasets/"):
                    raise not_found("Requested entity was not found.")
            denied = permission_denied(
                f"Permission '{permission}' denied on resource '{resource}' for {principal.member}"
            )
            denied.details.append(
                error_info(
                    "IAM_PERMISSION_DENIED",
                    {"permission": permission, "resource": resource},
                    domain="iam.googleapis.com",
                )
            )
            raise denied

    def allowed(self, principal: Principal, permission: str, resource: str) -> bool:
        if principal.superuser:
            return True
        if permission in PUBLIC_READ and principal.authenticated:
            return True
        return permission in self.granted(principal, resource)

    def can_see(self, principal: Principal, resource: str) -> bool:
        """Whether the caller holds any permission at all on ``resource`` (403 vs 404)."""
        return principal.superuser or bool(self.granted(principal, resource))

    @synchronized
    def granted(self, principal: Principal, resource: str) -> frozenset[str]:
        """Every permission ``principal``'s bindings give it on ``resource``.

        Memoized per (member, resource, the dataset's project) until the next
        IAM write: a check costs a dict lookup however many bindings exist.
        """
        return self._granted(principal, resource)

    def _granted(self, principal: Principal, resource: str) -> frozenset[str]:
        """:meth:`granted` for a caller holding the lock."""
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
        return self.backend.datasets.project_of(dataset_id)

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

    # -- dataset policies (the API methods are in .dataset_policies) --------------------

    def policy(self, dataset_id: str) -> dict[str, Any]:
        """The dataset's policy as the API shows it; ``{"etag": EMPTY_POLICY_ETAG}`` when it never had one."""
        with self.lock:
            return self._render(dataset_id)

    def current_etag(self, dataset_id: str) -> str:
        with self.lock:
            return self._current_etag(dataset_id)

    @synchronized
    def replace_policy(self, dataset_id: str, bindings: list[dict[str, Any]]) -> dict[str, Any]:
        """Store checked ``bindings`` as the dataset's whole policy (a new etag); returns it."""
        self._policies[dataset_id] = {"bindings": bindings, "etag": self._new_etag(dataset_id, bindings)}
        self._cache.clear()
        return self._render(dataset_id)

    def _current_etag(self, dataset_id: str) -> str:
        return self._policies.get(dataset_id, {}).get("etag", EMPTY_POLICY_ETAG)

    def _new_etag(self, dataset_id: str, bindings: list[dict[str, Any]]) -> str:
        seed = json.dumps([self._nonce, next(self._writes), dataset_id, bindings], sort_keys=True)
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

    @synchronized
    def add_project_binding(self, project_id: str, role: str, member: str) -> None:
        """Grant ``role`` on ``projects/<project_id>`` to ``member``."""
        if not project_id or not isinstance(project_id, str):
            raise invalid_argument("projectId is required")
        bindings = validate_bindings([{"role": role, "members": [member]}], "bindings")
        self._cache.clear()
        current = self._projects.get(project_id, [])
        for binding in current:
            if binding["role"] == role:
                if member not in binding["members"]:
                    binding["members"].append(member)
                break
        else:
            current.extend(bindings)
        self._projects[project_id] = current

    @synchronized
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

    @synchronized
    def add_group_member(self, group: str, member: str) -> None:
        """Put ``member`` (any member form, including another ``group:``) into ``group``."""
        email = group_email(group, "group")
        if not is_valid_member(member) or member in PUBLIC_MEMBERS:
            raise invalid_argument(f"groups.{email}: invalid member {member!r}")
        self._cache.clear()
        members = self._groups.get(email, [])
        if member not in members:
            self._groups[email] = [*members, member]

    @synchronized
    def load_config(self, config: Mapping[str, Any]) -> None:
        """Add ``{projects: {<id>: {bindings: [...]}}, groups: {<email>: [members]}}``.

        Checked entirely before anything changes, so a bad file leaves the state as it was.
        """
        self._apply(check_config(config))

    def _apply(self, config: IamConfig) -> None:
        for project_id, bindings in config.projects.items():
            self._projects[project_id] = bindings
        for email, members in config.groups.items():
            current = self._groups.get(email, [])
            self._groups[email] = [*current, *(m for m in dict.fromkeys(members) if m not in current)]
        for dataset_id, (bindings, etag) in config.policies.items():
            etag = etag if etag is not None else self._new_etag(dataset_id, bindings)
            self._policies[dataset_id] = {"bindings": bindings, "etag": etag}
        self._cache.clear()
    @synchronized
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

    @synchronized
    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace all IAM state with a :meth:`snapshot` (validated first)."""
        checked = check_config(state)
        for table in (self._projects, self._groups, self._policies):
            table.clear()
        self._apply(checked)
