"""Property: for random principals, bindings, policies and operations, the backend's outcome
(success / 403 / 404) is what the documented permission table predicts, and no list or
search returns anything the caller cannot read.

The oracle below is written from docs/permissions.md, not from the implementation:
a role's level (viewer 1 < editor 2 < owner/admin 3) must reach the permission's
kind (READ 1, WRITE 2, IAM 3); members are matched by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.principals import ANONYMOUS, DEFAULT_OWNER, Principal
from mockserver.backend.public_references import GRCH38
from mockserver.errors import ApiError

ROLE_LEVEL = {
    "roles/viewer": 1,
    "roles/genomics.viewer": 1,
    "roles/editor": 2,
    "roles/genomics.editor": 2,
    "roles/owner": 3,
    "roles/genomics.admin": 3,
}
VERB_LEVEL = {"get": 1, "list": 1, "create": 2, "update": 2, "delete": 2, "export": 2, "cancel": 2}
VERB_LEVEL |= {"getIamPolicy": 3, "setIamPolicy": 3}
DATASET_PERMISSIONS = [
    f"genomics.datasets.{v}"
    for v in ("create", "delete", "get", "list", "update", "getIamPolicy", "setIamPolicy")
]

USERS = [
    "user:alice@example.com",
    "user:bob@example.com",
    "user:carol@other.org",
    "serviceAccount:sa@example.com",
]
GROUP = "group:team@example.com"
MEMBERS = [*USERS, GROUP, "domain:example.com", "allUsers", "allAuthenticatedUsers"]
PROJECTS = ["p1", "p2"]
DATASET_PROJECTS = ["p1", "p1", "p2"]  # the initial datasets d0, d1, d2

principals = st.sampled_from([*(Principal(u) for u in USERS), ANONYMOUS])
bindings = st.lists(st.tuples(st.sampled_from(sorted(ROLE_LEVEL)), st.sampled_from(MEMBERS)), max_size=4)


@dataclass
class Model:
    group: set[str]
    project_bindings: dict[str, list[tuple[str, str]]]
    policies: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    project_of: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def matches(self, principal: Principal, member: str) -> bool:
        who = principal.member
        authenticated = who != ANONYMOUS.member
        if member == "allUsers":
            return True
        if member == "allAuthenticatedUsers":
            return authenticated
        if member == GROUP:
            return who in self.group
        if member == "domain:example.com":
            return who.startswith("user:") and who.endswith("@example.com")
        return member == who

    def level(self, principal: Principal, bindings: list[tuple[str, str]]) -> int:
        return max((ROLE_LEVEL[r] for r, m in bindings if self.matches(principal, m)), default=0)

    def project_level(self, principal: Principal, project: str) -> int:
        return self.level(principal, self.project_bindings.get(project, []))

    def dataset_level(self, principal: Principal, dataset: str) -> int:
        project = self.level(principal, self.project_bindings.get(self.project_of[dataset], []))
        return max(project, self.level(principal, self.policies.get(dataset, [])))

    def holds(self, principal: Principal, permission: str, dataset: str) -> bool:
        return self.dataset_level(principal, dataset) >= VERB_LEVEL[permission.rsplit(".", 1)[1]]

    def expect_dataset(self, principal: Principal, permission: str, dataset: str) -> int:
        """200, 403 or 404 for an operation checked on ``datasets/<dataset>``."""
        if dataset in self.deleted:
            return 404
        if self.holds(principal, permission, dataset):
            return 200
        return 403 if self.dataset_level(principal, dataset) > 0 else 404

    def expect_project(self, principal: Principal, permission: str, project: str) -> int:
        needed = VERB_LEVEL[permission.rsplit(".", 1)[1]]
        return 200 if self.project_level(principal, project) >= needed else 403


def outcome(call) -> tuple[int, Any]:
    try:
        return 200, call()
    except ApiError as error:
        return error.code, error


@dataclass
class World:
    b: Backend
    model: Model
    datasets: list[str]
    annotation_sets: dict[str, str]  # dataset -> its annotation set
    variant_sets: dict[str, str]
    reference: str


def build(group: set[str], project_bindings: dict, policies: dict[int, list]) -> World:
    b = Backend(clock=FakeClock(), id_seed=11)
    model = Model(group, project_bindings)
    for member in group:
        b.iam.add_group_member(GROUP, member)
    for project, pairs in project_bindings.items():
        for role, member in pairs:
            b.iam.add_project_binding(project, role, member)
    w = World(b, model, [], {}, {}, "")
    for project in DATASET_PROJECTS:
        ds = b.datasets.create(DEFAULT_OWNER, {"projectId": project})["id"]
        w.datasets.append(ds)
        model.project_of[ds] = project
        w.annotation_sets[ds] = b.annotation_sets.create(
            DEFAULT_OWNER, {"datasetId": ds, "referenceSetId": GRCH38}
        )["id"]
        w.variant_sets[ds] = b.variant_sets.create(DEFAULT_OWNER, {"datasetId": ds})["id"]
    for index, pairs in policies.items():
        if pairs:
            ds = w.datasets[index]
            b.dataset_policies.set_policy(DEFAULT_OWNER, ds, {"bindings": _policy(pairs)})
            model.policies[ds] = list(pairs)
    w.reference = b.reference_sets.create([{"name": "chr1", "length": 10}])["referenceIds"][0]
    return w


def _policy(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [{"role": role, "members": [member]} for role, member in pairs]


# -- operations: each runs the call and asserts the outcome against the model ------------------


def op_dataset(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    ds = w.datasets[i % len(w.datasets)]
    m = w.model
    calls = {
        "get": ("genomics.datasets.get", lambda: w.b.datasets.get(p, ds)),
        "patch": ("genomics.datasets.update", lambda: w.b.datasets.patch(p, ds, {"name": "n"}, None)),
        "delete": ("genomics.datasets.delete", lambda: w.b.datasets.delete(p, ds)),
        "getIamPolicy": ("genomics.datasets.getIamPolicy", lambda: w.b.dataset_policies.get_policy(p, ds)),
        "setIamPolicy": (
            "genomics.datasets.setIamPolicy",
            lambda: w.b.dataset_policies.set_policy(p, ds, {"bindings": _policy(extra)}),
        ),
        "asetGet": ("genomics.annotationSets.get", lambda: w.b.annotation_sets.get(p, w.annotation_sets[ds])),
        "asetCreate": (
            "genomics.annotationSets.create",
            lambda: w.b.annotation_sets.create(p, {"datasetId": ds, "referenceSetId": GRCH38}),
        ),
        "vsGet": ("genomics.variantSets.get", lambda: w.b.variant_sets.get(p, w.variant_sets[ds])),
        "vsPatch": (
            "genomics.variantSets.update",
            lambda: w.b.variant_sets.patch(p, w.variant_sets[ds], {"name": "n"}, "name"),
        ),
    }
    permission, call = calls[kind]
    expected = m.expect_dataset(p, permission, ds)
    code, result = outcome(call)
    assert code == expected, (kind, p.member, ds, result)
    if code == 200 and kind == "delete":
        m.deleted.add(ds)
    if code == 200 and kind == "setIamPolicy":
        m.policies[ds] = list(extra)


def op_project(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    project = PROJECTS[i % len(PROJECTS)]
    m = w.model
    if kind == "list":
        code, result = outcome(lambda: w.b.datasets.list(p, project, 1024))
        assert code == m.expect_project(p, "genomics.datasets.list", project), result
        if code == 200:
            listed = [d["id"] for d in result.get("datasets", [])]
            live = [d for d in w.datasets if m.project_of[d] == project and d not in m.deleted]
            assert sorted(listed) == sorted(live)
            for ds in listed:  # never anything the caller cannot read
                assert m.holds(p, "genomics.datasets.get", ds)
    else:
        code, result = outcome(lambda: w.b.datasets.create(p, {"projectId": project}))
        assert code == m.expect_project(p, "genomics.datasets.create", project), result
        if code == 200:
            ds = result["id"]
            w.datasets.append(ds)
            m.project_of[ds] = project
            w.annotation_sets[ds] = w.b.annotation_sets.create(
                DEFAULT_OWNER, {"datasetId": ds, "referenceSetId": GRCH38}
            )["id"]
            w.variant_sets[ds] = w.b.variant_sets.create(DEFAULT_OWNER, {"datasetId": ds})["id"]


def op_search(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    m = w.model
    chosen = sorted({w.datasets[j % len(w.datasets)] for j in extra}) or [w.datasets[0]]
    code, result = outcome(lambda: w.b.annotation_sets.search(p, {"datasetIds": chosen}))
    if any(d in m.deleted for d in chosen):
        expected = 404
    else:
        failures = [m.expect_dataset(p, "genomics.annotationSets.list", d) for d in chosen]
        expected = next((f for f in failures if f != 200), 200)
    assert code == expected, (chosen, result)
    if code == 200:
        for record in result.get("annotationSets", []):
            assert record["datasetId"] in chosen
            assert m.holds(p, "genomics.annotationSets.get", record["datasetId"])
        assert {r["datasetId"] for r in result.get("annotationSets", [])} == set(chosen)


def op_variant_set_search(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    ds = w.datasets[i % len(w.datasets)]
    code, result = outcome(lambda: w.b.variant_sets.search(p, {"datasetIds": [ds]}))
    assert code == w.model.expect_dataset(p, "genomics.variantSets.list", ds), result
    if code == 200:
        found = result.get("variantSets", [])
        assert [r["datasetId"] for r in found] == [ds] * len(found) and found
        assert w.model.holds(p, "genomics.variantSets.get", ds)


def op_test_permissions(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    ds = w.datasets[i % len(w.datasets)]
    result = w.b.dataset_policies.test_permissions(p, ds, DATASET_PERMISSIONS)
    if ds in w.model.deleted:
        expected = []
    else:
        expected = [perm for perm in DATASET_PERMISSIONS if w.model.holds(p, perm, ds)]
    assert result == ({"permissions": expected} if expected else {})


def op_reference(w: World, p: Principal, i: int, kind: str, extra: Any) -> None:
    code, result = outcome(lambda: w.b.references.get(p, w.reference))
    assert code == (403 if p is ANONYMOUS else 200), result


OPS = {
    **{k: op_dataset for k in ("get", "patch", "delete", "getIamPolicy", "setIamPolicy")},
    **{k: op_dataset for k in ("asetGet", "asetCreate", "vsGet", "vsPatch")},
    "list": op_project,
    "create": op_project,
    "search": op_search,
    "vsSearch": op_variant_set_search,
    "testIamPermissions": op_test_permissions,
    "referenceGet": op_reference,
}

steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(OPS)),
        principals,
        st.integers(0, 5),
        st.one_of(bindings, st.lists(st.integers(0, 5), max_size=3)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    group=st.sets(st.sampled_from(USERS), max_size=2),
    project_bindings=st.fixed_dictionaries({p: bindings for p in PROJECTS}),
    policies=st.dictionaries(st.integers(0, 2), bindings, max_size=3),
    actions=steps,
)
def test_outcomes_match_the_permission_table(group, project_bindings, policies, actions) -> None:
    w = build(set(group), project_bindings, policies)
    for kind, principal, index, extra in actions:
        if kind == "setIamPolicy" and not (
            isinstance(extra, list) and all(isinstance(x, tuple) for x in extra)
        ):
            extra = []
        if kind == "search" and not all(isinstance(x, int) for x in extra):
            extra = [index]
        OPS[kind](w, principal, index, kind, extra)
