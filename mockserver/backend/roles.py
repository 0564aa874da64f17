"""Roles and the permissions they grant: the mock's whole permission table.

Google names permissions ``genomics.<resource>.<verb>``; a role is a set of
them. The primitive roles (``roles/viewer``, ``roles/editor``,
``roles/owner``) and the Genomics roles (``roles/genomics.viewer``,
``.editor``, ``.admin``) grant the same Genomics permissions pairwise:

* viewer: every ``get`` and ``list`` (reads and searches);
* editor: viewer + ``create``/``update``/``delete``/``export`` and
  ``operations.cancel``;
* owner / admin: editor + ``datasets.getIamPolicy``/``setIamPolicy``.

Reference sets and references are public reference data: any authenticated
caller may read them, whatever its bindings (see :data:`PUBLIC_READ`).
``docs/permissions.md`` renders this table; a test keeps them in step.
"""

from __future__ import annotations

#: resource -> the verbs Google defines for it (the order is the docs' order)
RESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "datasets": ("create", "get", "list", "update", "delete", "getIamPolicy", "setIamPolicy"),
    "annotationSets": ("create", "get", "list", "update", "delete"),
    "annotations": ("create", "get", "list", "update", "delete"),
    "callSets": ("create", "get", "list", "update", "delete"),
    "readGroupSets": ("create", "get", "list", "update", "delete", "export"),
    "reads": ("list",),
    "variantSets": ("create", "get", "list", "update", "delete", "export"),
    "variants": ("create", "get", "list", "update", "delete"),
    "referenceSets": ("get", "list"),
    "references": ("get", "list"),
    "operations": ("get", "list", "cancel"),
}

#: every permission the mock knows, in table order
ALL_PERMISSIONS: tuple[str, ...] = tuple(
    f"genomics.{resource}.{verb}" for resource, verbs in RESOURCE_VERBS.items() for verb in verbs
)

READ_VERBS = frozenset({"get", "list"})
WRITE_VERBS = frozenset({"create", "update", "delete", "export", "cancel"})
IAM_VERBS = frozenset({"getIamPolicy", "setIamPolicy"})


def verb_of(permission: str) -> str:
    return permission.rsplit(".", 1)[-1]


def access_kind(permission: str) -> str:
    """READ, WRITE or IAM: how the docs classify a permission."""
    verb = verb_of(permission)
    if verb in READ_VERBS:
        return "READ"
    if verb in IAM_VERBS:
        return "IAM"
    return "WRITE"


_VIEWER = frozenset(p for p in ALL_PERMISSIONS if verb_of(p) in READ_VERBS)
_EDITOR = _VIEWER | frozenset(p for p in ALL_PERMISSIONS if verb_of(p) in WRITE_VERBS)
_ADMIN = _EDITOR | frozenset(p for p in ALL_PERMISSIONS if verb_of(p) in IAM_VERBS)

#: role name -> permissions it grants
ROLES: dict[str, frozenset[str]] = {
    "roles/viewer": _VIEWER,
    "roles/editor": _EDITOR,
    "roles/owner": _ADMIN,
    "roles/genomics.viewer": _VIEWER,
    "roles/genomics.editor": _EDITOR,
    "roles/genomics.admin": _ADMIN,
}

#: readable by every authenticated caller without any binding (public reference data)
PUBLIC_READ = frozenset(
    {
        "genomics.referenceSets.get",
        "genomics.referenceSets.list",
        "genomics.references.get",
        "genomics.references.list",
    }
)

#: the permissions ``datasets.testIamPermissions`` accepts (Google's documented list)
TESTABLE_DATASET_PERMISSIONS = frozenset(f"genomics.datasets.{verb}" for verb in RESOURCE_VERBS["datasets"])


def permissions_of(role: str) -> frozenset[str]:
    """The permissions ``role`` grants (empty for an unknown role)."""
    return ROLES.get(role, frozenset())


def is_known_role(role: object) -> bool:
    return isinstance(role, str) and role in ROLES
