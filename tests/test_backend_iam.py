"""IAM at the backend: every permission has an allowed and a denied caller; policies; members.

Each ``denied`` case expects 403 or 404 from a call that succeeds for the
``allowed`` caller on the same world, so removing a check makes its test fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.policies import EMPTY_POLICY_ETAG
from mockserver.backend.principals import ANONYMOUS, DEFAULT_OWNER, Principal
from mockserver.backend.public_references import GRCH38
from mockserver.backend.roles import ALL_PERMISSIONS, ROLES, access_kind
from mockserver.errors import ApiError

ROOT = Path(__file__).resolve().parents[1]
P1, P2 = "p1", "p2"
VIEWER = Principal("user:viewer@example.com")
EDITOR = Principal("user:editor@example.com")
ADMIN = Principal("serviceAccount:admin@p1.iam.gserviceaccount.com")
STRANGER = Principal("user:stranger@elsewhere.org")  # no binding anywhere
OUTSIDER = Principal("user:outsider@elsewhere.org")  # viewer of p2 only


@dataclass
class World:
    b: Backend
    dataset: str
    annotation_set: str
    annotation: str
    variant_set: str
    call_set: str
    reference_set: str
    reference: str
    variant: str


def make_world() -> World:
    b = Backend(clock=FakeClock(), id_seed=7)
    b.operations.mode = "immediate"
    (b.bigquery.root / P1 / "bq").mkdir(parents=True)
    b.iam.add_project_binding(P1, "roles/genomics.viewer", VIEWER.member)
    b.iam.add_project_binding(P1, "roles/editor", EDITOR.member)
    b.iam.add_project_binding(P1, "roles/genomics.admin", ADMIN.member)
    b.iam.add_project_binding(P2, "roles/viewer", OUTSIDER.member)
    ds = b.datasets.create(DEFAULT_OWNER, {"projectId": P1})["id"]
    aset = b.annotation_sets.create(DEFAULT_OWNER, {"datasetId": ds, "referenceSetId": GRCH38})["id"]
    ann = b.annotations.create(
        DEFAULT_OWNER, {"annotationSetId": aset, "referenceName": "chr1", "start": "1", "end": "5"}
    )["id"]
    vs = b.variant_sets.create(DEFAULT_OWNER, {"datasetId": ds})["id"]
    cs = b.call_sets.create(DEFAULT_OWNER, {"variantSetIds": [vs], "name": "c1"})["id"]
    rs = b.reference_sets.create([{"name": "chr1", "length": 100, "bases": "ACGT" * 25}])
    variant = b.variants.create(
        DEFAULT_OWNER, {"variantSetId": vs, "referenceName": "chr1", "start": "1", "referenceBases": "C"}
    )["id"]
    return World(b, ds, aset, ann, vs, cs, rs["id"], rs["referenceIds"][0], variant)


@pytest.fixture
def w() -> World:
    return make_world()


def _undelete(w: World, p: Principal) -> Any:
    w.b.datasets.delete(DEFAULT_OWNER, w.dataset)
    return w.b.datasets.undelete(p, w.dataset)


Call = Callable[[World, Principal], Any]
#: (operation, permission it needs, scope of the check, call)
OPERATIONS: list[tuple[str, str, str, Call]] = [
    ("datasets.create", "genomics.datasets.create", "project",
     lambda w, p: w.b.datasets.create(p, {"projectId": P1})),
    ("datasets.get", "genomics.datasets.get", "dataset", lambda w, p: w.b.datasets.get(p, w.dataset)),
    ("datasets.list", "genomics.datasets.list", "project", lambda w, p: w.b.datasets.list(p, P1)),
    ("datasets.patch", "genomics.datasets.update", "dataset",
     lambda w, p: w.b.datasets.patch(p, w.dataset, {"name": "n"}, None)),
    ("datasets.delete", "genomics.datasets.delete", "dataset",
     lambda w, p: w.b.datasets.delete(p, w.dataset)),
    ("datasets.undelete", "genomics.datasets.delete", "dataset", _undelete),
    ("datasets.getIamPolicy", "genomics.datasets.getIamPolicy", "dataset",
     lambda w, p: w.b.dataset_policies.get_policy(p, w.dataset)),
    ("datasets.setIamPolicy", "genomics.datasets.setIamPolicy", "dataset",
     lambda w, p: w.b.dataset_policies.set_policy(p, w.dataset, {"bindings": []})),
    ("annotationsets.create", "genomics.annotationSets.create", "dataset",
     lambda w, p: w.b.annotation_sets.create(p, {"datasetId": w.dataset, "referenceSetId": GRCH38})),
    ("annotationsets.get", "genomics.annotationSets.get", "dataset",
     lambda w, p: w.b.annotation_sets.get(p, w.annotation_set)),
    ("annotationsets.update", "genomics.annotationSets.update", "dataset",
     lambda w, p: w.b.annotation_sets.update(p, w.annotation_set, {"name": "n"}, "name")),
    ("annotationsets.delete", "genomics.annotationSets.delete", "dataset",
     lambda w, p: w.b.annotation_sets.delete(p, w.annotation_set)),
    ("annotationsets.search", "genomics.annotationSets.list", "dataset",
     lambda w, p: w.b.annotation_sets.search(p, {"datasetIds": [w.dataset]})),
    ("annotations.create", "genomics.annotations.create", "dataset",
     lambda w, p: w.b.annotations.create(
         p, {"annotationSetId": w.annotation_set, "referenceName": "chr1", "start": "2", "end": "3"})),
    ("annotations.batchCreate", "genomics.annotations.create", "dataset",
     lambda w, p: w.b.annotations.batch_create(
         p, {"annotations": [{"annotationSetId": w.annotation_set, "referenceName": "chr1"}]})),
    ("annotations.get", "genomics.annotations.get", "dataset",
     lambda w, p: w.b.annotations.get(p, w.annotation)),
    ("annotations.update", "genomics.annotations.update", "dataset",
     lambda w, p: w.b.annotations.update(p, w.annotation, {"name": "n"}, "name")),
    ("annotations.delete", "genomics.annotations.delete", "dataset",
     lambda w, p: w.b.annotations.delete(p, w.annotation)),
    ("annotations.search", "genomics.annotations.list", "dataset",
     lambda w, p: w.b.annotations.search(p, {"annotationSetIds": [w.annotation_set]})),
    ("variantsets.create", "genomics.variantSets.create", "dataset",
     lambda w, p: w.b.variant_sets.create(p, {"datasetId": w.dataset})),
    ("variantsets.get", "genomics.variantSets.get", "dataset",
     lambda w, p: w.b.variant_sets.get(p, w.variant_set)),
    ("variantsets.patch", "genomics.variantSets.update", "dataset",
     lambda w, p: w.b.variant_sets.patch(p, w.variant_set, {"name": "n"}, "name")),
    ("variantsets.delete", "genomics.variantSets.delete", "dataset",
     lambda w, p: w.b.variant_sets.delete(p, w.variant_set)),
    ("variantsets.search", "genomics.variantSets.list", "dataset",
     lambda w, p: w.b.variant_sets.search(p, {"datasetIds": [w.dataset]})),
    ("callsets.create", "genomics.callSets.create", "dataset",
     lambda w, p: w.b.call_sets.create(p, {"variantSetIds": [w.variant_set]})),
    ("callsets.get", "genomics.callSets.get", "dataset", lambda w, p: w.b.call_sets.get(p, w.call_set)),
    ("callsets.patch", "genomics.callSets.update", "dataset",
     lambda w, p: w.b.call_sets.patch(p, w.call_set, {"name": "n"}, "name")),
    ("callsets.delete", "genomics.callSets.delete", "dataset",
     lambda w, p: w.b.call_sets.delete(p, w.call_set)),
    ("callsets.search", "genomics.callSets.list", "dataset",
     lambda w, p: w.b.call_sets.search(p, {"variantSetIds": [w.variant_set]})),
    ("variantsets.export", "genomics.variantSets.export", "dataset",
     lambda w, p: w.b.variant_sets.export(
         p, w.variant_set, {"projectId": P1, "bigqueryDataset": "bq", "bigqueryTable": "t"})),
    ("variants.create", "genomics.variants.create", "dataset",
     lambda w, p: w.b.variants.create(
         p, {"variantSetId": w.variant_set, "referenceName": "chr1", "start": "5", "referenceBases": "C"})),
    ("variants.get", "genomics.variants.get", "dataset", lambda w, p: w.b.variants.get(p, w.variant)),
    ("variants.patch", "genomics.variants.update", "dataset",
     lambda w, p: w.b.variants.patch(p, w.variant, {"names": ["rs1"]}, "names")),
    ("variants.delete", "genomics.variants.delete", "dataset",
     lambda w, p: w.b.variants.delete(p, w.variant)),
    ("variants.search", "genomics.variants.list", "dataset",
     lambda w, p: w.b.variants.search(p, {"variantSetIds": [w.variant_set], "referenceName": "chr1"})),
    ("variants.search by call set", "genomics.variants.list", "dataset",
     lambda w, p: w.b.variants.search(p, {"callSetIds": [w.call_set], "referenceName": "chr1"})),
    ("variants.merge", "genomics.variants.create", "dataset",
     lambda w, p: w.b.variants.merge(p, {"variantSetId": w.variant_set, "variants": [
         {"referenceName": "chr1", "start": "1", "referenceBases": "C"}]})),
    ("variants.import", "genomics.variants.create", "dataset",
     lambda w, p: w.b.variants.import_(p, {"variantSetId": w.variant_set, "sourceUris": ["gs://b/x.vcf"]})),
    ("references.bases.list", "genomics.references.get", "public",
     lambda w, p: w.b.references.bases_list(p, w.reference)),
    ("referencesets.get", "genomics.referenceSets.get", "public",
     lambda w, p: w.b.reference_sets.get(p, w.reference_set)),
    ("referencesets.search", "genomics.referenceSets.list", "public",
     lambda w, p: w.b.reference_sets.search(p, {})),
    ("references.get", "genomics.references.get", "public",
     lambda w, p: w.b.references.get(p, w.reference)),
    ("references.search", "genomics.references.list", "public",
     lambda w, p: w.b.references.search(p, {})),
]  # fmt: skip


def allowed_caller(permission: str, scope: str) -> Principal:
    """The least-privileged caller holding ``permission``."""
    if scope == "public":
        return STRANGER
    return {"READ": VIEWER, "WRITE": EDITOR, "IAM": ADMIN}[access_kind(permission)]


def denied_caller(permission: str, scope: str) -> tuple[Principal, int]:
    """The most-privileged caller lacking ``permission``, and the status it must get."""
    kind = access_kind(permission)
    if scope == "public":
        return ANONYMOUS, 403
    if kind == "IAM":
        return EDITOR, 403
    if kind == "WRITE":
        return VIEWER, 403
    return (STRANGER, 403) if scope == "project" else (STRANGER, 404)


IDS = [op[0] for op in OPERATIONS]


@pytest.mark.parametrize(("name", "permission", "scope", "call"), OPERATIONS, ids=IDS)
def test_allowed_caller_succeeds(w: World, name: str, permission: str, scope: str, call: Call) -> None:
    principal = allowed_caller(permission, scope)
    assert permission in w.b.iam.granted(principal, f"projects/{P1}") or scope == "public"
    result = call(w, principal)
    assert isinstance(result, dict)


@pytest.mark.parametrize(("name", "permission", "scope", "call"), OPERATIONS, ids=IDS)
def test_denied_caller_fails(w: World, name: str, permission: str, scope: str, call: Call) -> None:
    principal, status = denied_caller(permission, scope)
    with pytest.raises(ApiError) as info:
        call(w, principal)
    assert info.value.code == status, info.value.message
    if status == 403:
        assert permission in info.value.message


DATASET_SCOPED = [op for op in OPERATIONS if op[2] == "dataset"]


@pytest.mark.parametrize(
    ("name", "permission", "scope", "call"), DATASET_SCOPED, ids=[o[0] for o in DATASET_SCOPED]
)
def test_caller_with_other_project_only_gets_the_unknown_id_answer(
    w: World, name: str, permission: str, scope: str, call: Call
) -> None:
    """OUTSIDER reads p2, nothing in p1: p1's dataset-scoped resources look absent (404)."""
    with pytest.raises(ApiError) as info:
        call(w, OUTSIDER)
    assert info.value.code == 404


def test_every_permission_used_by_the_backend_is_in_the_role_table() -> None:
    """A typo in a component's permission would deny everyone but the superuser."""
    used: set[str] = set()
    for path in (ROOT / "mockserver" / "backend").glob("*.py"):
        used |= set(re.findall(r"\"(genomics\.[A-Za-z]+\.[A-Za-z]+)\"", path.read_text()))
    assert used, "no permission literals found"
    assert used <= set(ALL_PERMISSIONS), used - set(ALL_PERMISSIONS)


def test_docs_list_every_permission_and_role() -> None:
    text = (ROOT / "docs" / "permissions.md").read_text()
    for permission in ALL_PERMISSIONS:
        assert f"`{permission}`" in text, permission
    for role in ROLES:
        assert f"`{role}`" in text, role


# -- not leaking existence -------------------------------------------------------------


def _same_up_to_id(a: ApiError, b: ApiError, id_a: str, id_b: str) -> bool:
    return (a.code, a.status, a.message.replace(id_a, "ID")) == (
        b.code,
        b.status,
        b.message.replace(id_b, "ID"),
    )


@pytest.mark.parametrize(
    ("getter", "attr"),
    [
        (lambda b, p, i: b.datasets.get(p, i), "dataset"),
        (lambda b, p, i: b.datasets.delete(p, i), "dataset"),
        (lambda b, p, i: b.dataset_policies.get_policy(p, i), "dataset"),
        (lambda b, p, i: b.dataset_policies.set_policy(p, i, {}), "dataset"),
        (lambda b, p, i: b.annotation_sets.get(p, i), "annotation_set"),
        (lambda b, p, i: b.annotations.get(p, i), "annotation"),
        (lambda b, p, i: b.variant_sets.get(p, i), "variant_set"),
        (lambda b, p, i: b.call_sets.get(p, i), "call_set"),
        (lambda b, p, i: b.variants.get(p, i), "variant"),
    ],
)
def test_invisible_resource_is_indistinguishable_from_unknown_id(w: World, getter, attr: str) -> None:
    real_id = getattr(w, attr)
    with pytest.raises(ApiError) as hidden:
        getter(w.b, STRANGER, real_id)
    with pytest.raises(ApiError) as unknown:
        getter(w.b, STRANGER, "999999")
    assert _same_up_to_id(hidden.value, unknown.value, real_id, "999999")
    assert w.dataset not in hidden.value.message or attr == "dataset"


def test_visible_dataset_without_the_permission_is_403_naming_permission_and_resource(w: World) -> None:
    with pytest.raises(ApiError) as info:
        w.b.datasets.delete(VIEWER, w.dataset)
    assert info.value.status == "PERMISSION_DENIED"
    assert "genomics.datasets.delete" in info.value.message
    assert f"datasets/{w.dataset}" in info.value.message


def test_project_level_checks_are_403_even_without_any_access(w: World) -> None:
    for call in (
        lambda: w.b.datasets.list(STRANGER, P1),
        lambda: w.b.datasets.create(STRANGER, {"projectId": P1}),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.status == "PERMISSION_DENIED"


def test_search_naming_one_unreadable_dataset_fails_as_a_whole(w: World) -> None:
    other = w.b.datasets.create(DEFAULT_OWNER, {"projectId": P2})["id"]
    w.b.annotation_sets.create(DEFAULT_OWNER, {"datasetId": other, "referenceSetId": GRCH38})
    w.b.dataset_policies.set_policy(
        DEFAULT_OWNER, other, {"bindings": [{"role": "roles/viewer", "members": [VIEWER.member]}]}
    )
    both = {"datasetIds": [w.dataset, other]}
    assert len(w.b.annotation_sets.search(VIEWER, both)["annotationSets"]) == 2
    with pytest.raises(ApiError) as info:
        w.b.annotation_sets.search(OUTSIDER, both)  # reads p2's dataset, not p1's
    assert info.value.code == 404


def test_datasets_list_returns_only_the_projects_datasets(w: World) -> None:
    w.b.datasets.create(DEFAULT_OWNER, {"projectId": P2})
    listed = w.b.datasets.list(VIEWER, P1)["datasets"]
    assert [d["id"] for d in listed] == [w.dataset]
    with pytest.raises(ApiError) as info:
        w.b.datasets.list(VIEWER, P2)
    assert info.value.code == 403


# -- dataset policies -------------------------------------------------------------------


def test_empty_policy_has_an_etag_and_no_bindings(w: World) -> None:
    assert w.b.dataset_policies.get_policy(ADMIN, w.dataset) == {"etag": EMPTY_POLICY_ETAG}


def test_policy_round_trip_and_etag_changes_on_every_write(w: World) -> None:
    policy = {"bindings": [{"role": "roles/viewer", "members": [STRANGER.member]}]}
    etags = {EMPTY_POLICY_ETAG}
    for _ in range(5):
        written = w.b.dataset_policies.set_policy(ADMIN, w.dataset, policy)  # identical content each time
        assert written["etag"] not in etags
        etags.add(written["etag"])
        assert w.b.dataset_policies.get_policy(ADMIN, w.dataset) == written
        assert written["version"] == 1
        assert written["bindings"] == policy["bindings"]


def test_stale_etag_is_aborted_and_current_etag_succeeds(w: World) -> None:
    first = w.b.dataset_policies.set_policy(ADMIN, w.dataset, {"bindings": [], "etag": EMPTY_POLICY_ETAG})
    second = w.b.dataset_policies.set_policy(ADMIN, w.dataset, {"bindings": [], "etag": first["etag"]})
    with pytest.raises(ApiError) as info:
        w.b.dataset_policies.set_policy(ADMIN, w.dataset, {"bindings": [], "etag": first["etag"]})
    assert (info.value.code, info.value.status) == (409, "ABORTED")
    with pytest.raises(ApiError) as info:
        w.b.dataset_policies.set_policy(ADMIN, w.dataset, {"bindings": [], "etag": EMPTY_POLICY_ETAG})
    assert info.value.status == "ABORTED"
    assert w.b.dataset_policies.get_policy(ADMIN, w.dataset)["etag"] == second["etag"]


def test_set_policy_replaces_the_whole_policy(w: World) -> None:
    grant = {"bindings": [{"role": "roles/viewer", "members": [STRANGER.member]}]}
    w.b.dataset_policies.set_policy(ADMIN, w.dataset, grant)
    assert w.b.datasets.get(STRANGER, w.dataset)["id"] == w.dataset
    w.b.dataset_policies.set_policy(
        ADMIN, w.dataset, {"bindings": [{"role": "roles/viewer", "members": [OUTSIDER.member]}]}
    )
    with pytest.raises(ApiError) as info:
        w.b.datasets.get(STRANGER, w.dataset)
    assert info.value.code == 404


def test_dataset_policy_grants_that_dataset_only(w: World) -> None:
    sibling = w.b.datasets.create(DEFAULT_OWNER, {"projectId": P1})["id"]
    w.b.dataset_policies.set_policy(
        ADMIN, w.dataset, {"bindings": [{"role": "roles/genomics.editor", "members": [VIEWER.member]}]}
    )
    w.b.datasets.patch(VIEWER, w.dataset, {"name": "x"}, None)  # editor on this dataset
    with pytest.raises(ApiError) as info:
        w.b.datasets.patch(VIEWER, sibling, {"name": "x"}, None)  # still viewer on the sibling
    assert info.value.code == 403
    with pytest.raises(ApiError):
        w.b.datasets.create(VIEWER, {"projectId": P1})  # a dataset policy never grants on the project


def test_policy_survives_delete_and_undelete(w: World) -> None:
    w.b.dataset_policies.set_policy(
        ADMIN, w.dataset, {"bindings": [{"role": "roles/viewer", "members": [STRANGER.member]}]}
    )
    w.b.datasets.delete(ADMIN, w.dataset)
    with pytest.raises(ApiError):
        w.b.dataset_policies.get_policy(ADMIN, w.dataset)
    w.b.datasets.undelete(ADMIN, w.dataset)
    assert w.b.datasets.get(STRANGER, w.dataset)["id"] == w.dataset


def test_bindings_with_one_role_are_merged_and_members_deduplicated(w: World) -> None:
    policy = {
        "bindings": [
            {"role": "roles/viewer", "members": ["user:a@example.com", "user:a@example.com"]},
            {"role": "roles/owner", "members": ["user:b@example.com"]},
            {"role": "roles/viewer", "members": ["user:c@example.com"]},
        ]
    }
    written = w.b.dataset_policies.set_policy(ADMIN, w.dataset, policy)
    assert written["bindings"] == [
        {"role": "roles/viewer", "members": ["user:a@example.com", "user:c@example.com"]},
        {"role": "roles/owner", "members": ["user:b@example.com"]},
    ]


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        (None, "policy is required"),
        ({"bindings": "x"}, "policy.bindings"),
        ({"bindings": [{"role": "roles/viewer", "members": ["user:a@example.com"]},
                       {"role": "roles/nope", "members": ["allUsers"]}]}, "policy.bindings[1].role"),
        ({"bindings": [{"members": ["allUsers"]}]}, "policy.bindings[0].role"),
        ({"bindings": [{"role": "roles/viewer", "members": []}]}, "policy.bindings[0].members"),
        ({"bindings": [{"role": "roles/viewer"}]}, "policy.bindings[0].members"),
        ({"bindings": [{"role": "roles/viewer", "members": ["alice@example.com"]}]}, "'alice@example.com'"),
        ({"bindings": [{"role": "roles/viewer", "members": ["user:not-an-email"]}]}, "'user:not-an-email'"),
        ({"bindings": [{"role": "roles/viewer", "members": ["robot:x@example.com"]}]},
         "'robot:x@example.com'"),
        ({"bindings": [{"role": "roles/viewer", "members": ["domain:"]}]}, "'domain:'"),
        ({"bindings": [{"role": "roles/viewer", "members": ["allUsers"], "condition": {"expression": "x"}}]},
         "policy.bindings[0].condition"),
        ({"etag": "!!not base64!!"}, "policy.etag"),
        ({"version": 7}, "policy.version"),
        ({"bindings": [{"role": "roles/viewer", "members": [f"user:u{i}@example.com" for i in range(5000)]}]},
         "policy is larger"),
    ],
)  # fmt: skip
def test_invalid_policy_is_400_naming_the_field(w: World, policy: Any, field: str) -> None:
    with pytest.raises(ApiError) as info:
        w.b.dataset_policies.set_policy(ADMIN, w.dataset, policy)
    assert info.value.status == "INVALID_ARGUMENT"
    assert field in info.value.message
    assert w.b.dataset_policies.get_policy(ADMIN, w.dataset) == {"etag": EMPTY_POLICY_ETAG}  # nothing written


def test_policy_on_unknown_dataset_is_404(w: World) -> None:
    for call in (
        lambda: w.b.dataset_policies.get_policy(DEFAULT_OWNER, "nope"),
        lambda: w.b.dataset_policies.set_policy(DEFAULT_OWNER, "nope", {}),
    ):
        with pytest.raises(ApiError) as info:
            call()
        assert info.value.code == 404
        assert "'nope'" in info.value.message


# -- testIamPermissions ------------------------------------------------------------------

DATASET_PERMS = [
    f"genomics.datasets.{v}"
    for v in ("create", "delete", "get", "list", "update", "getIamPolicy", "setIamPolicy")
]


@pytest.mark.parametrize(
    ("principal", "expected"),
    [
        (VIEWER, ["genomics.datasets.get", "genomics.datasets.list"]),
        (EDITOR, ["genomics.datasets.create", "genomics.datasets.delete", "genomics.datasets.get",
                  "genomics.datasets.list", "genomics.datasets.update"]),
        (ADMIN, DATASET_PERMS),
        (STRANGER, []),
    ],
)  # fmt: skip
def test_test_permissions_returns_the_subset_held(
    w: World, principal: Principal, expected: list[str]
) -> None:
    result = w.b.dataset_policies.test_permissions(principal, w.dataset, DATASET_PERMS)
    assert result == ({"permissions": expected} if expected else {})


def test_test_permissions_keeps_request_order_and_drops_repeats(w: World) -> None:
    asked = ["genomics.datasets.list", "genomics.datasets.get", "genomics.datasets.list"]
    assert w.b.dataset_policies.test_permissions(VIEWER, w.dataset, asked) == {
        "permissions": ["genomics.datasets.list", "genomics.datasets.get"]
    }


@pytest.mark.parametrize(
    "permissions",
    [None, [], "genomics.datasets.get", ["*"], ["genomics.*"], ["genomics.datasets.*"],
     ["genomics.datasets.get", "genomics.annotations.get"], ["genomics.datasets.nope"], [3]],
)  # fmt: skip
def test_test_permissions_rejects_bad_lists_and_wildcards(w: World, permissions: Any) -> None:
    with pytest.raises(ApiError) as info:
        w.b.dataset_policies.test_permissions(ADMIN, w.dataset, permissions)
    assert info.value.status == "INVALID_ARGUMENT"
    assert "permissions" in info.value.message


def test_test_permissions_reveals_nothing_about_unknown_or_deleted_datasets(w: World) -> None:
    assert w.b.dataset_policies.test_permissions(STRANGER, w.dataset, DATASET_PERMS) == {}
    assert w.b.dataset_policies.test_permissions(ADMIN, "no-such-dataset", DATASET_PERMS) == {}
    w.b.datasets.delete(ADMIN, w.dataset)
    assert w.b.dataset_policies.test_permissions(ADMIN, w.dataset, DATASET_PERMS) == {}


# -- members -----------------------------------------------------------------------------


def _grant(w: World, member: str, role: str = "roles/viewer") -> None:
    policy = {"bindings": [{"role": role, "members": [member]}]}
    w.b.dataset_policies.set_policy(DEFAULT_OWNER, w.dataset, policy)


def _can_read(w: World, principal: Principal) -> bool:
    try:
        w.b.datasets.get(principal, w.dataset)
    except ApiError as error:
        assert error.code == 404
        return False
    return True


def test_group_membership_from_config_including_nested_groups(w: World) -> None:
    carol = Principal("user:carol@example.com")
    w.b.iam.load_config({"groups": {"readers@example.com": ["group:inner@example.com"],
                                    "group:inner@example.com": ["user:Carol@Example.com"]}})  # fmt: skip
    assert not _can_read(w, carol)
    _grant(w, "group:readers@example.com")
    assert _can_read(w, carol)
    assert not _can_read(w, STRANGER)


def test_group_member_added_through_the_admin_api(w: World) -> None:
    _grant(w, "group:team@example.com")
    assert not _can_read(w, STRANGER)
    w.b.iam.add_group_member("team@example.com", STRANGER.member)
    assert _can_read(w, STRANGER)


def test_domain_member_matches_users_of_exactly_that_domain(w: World) -> None:
    _grant(w, "domain:elsewhere.org")
    assert _can_read(w, STRANGER)
    assert not _can_read(w, Principal("user:x@sub.elsewhere.org"))
    assert not _can_read(w, Principal("user:x@notelsewhere.org"))
    assert not _can_read(w, Principal("serviceAccount:robot@elsewhere.org"))


def test_all_users_includes_api_key_callers(w: World) -> None:
    assert not _can_read(w, ANONYMOUS)
    _grant(w, "allUsers")
    assert _can_read(w, ANONYMOUS)
    assert _can_read(w, STRANGER)


def test_all_authenticated_users_excludes_api_key_callers(w: World) -> None:
    _grant(w, "allAuthenticatedUsers")
    assert _can_read(w, STRANGER)
    assert _can_read(w, Principal("serviceAccount:robot@x.iam.gserviceaccount.com"))
    assert not _can_read(w, ANONYMOUS)


def test_user_and_service_account_members_match_exactly(w: World) -> None:
    _grant(w, "user:Stranger@Elsewhere.org")  # emails compare case-insensitively
    assert _can_read(w, STRANGER)
    assert not _can_read(w, Principal("serviceAccount:stranger@elsewhere.org"))
    assert not _can_read(w, Principal("user:stranger@elsewhere.org.evil.com"))


def test_superuser_passes_everything(w: World) -> None:
    for permission in ALL_PERMISSIONS:
        assert w.b.iam.allowed(DEFAULT_OWNER, permission, f"datasets/{w.dataset}")


# -- admin API, config, snapshot ---------------------------------------------------------


def test_set_project_bindings_replaces_and_empty_removes(w: World) -> None:
    w.b.iam.set_project_bindings(P1, [{"role": "roles/viewer", "members": [STRANGER.member]}])
    assert _can_read(w, STRANGER)
    assert not _can_read(w, VIEWER)  # the old bindings are gone
    w.b.iam.set_project_bindings(P1, [])
    assert w.b.iam.project_bindings(P1) == []
    assert not _can_read(w, STRANGER)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda iam: iam.add_project_binding("p", "roles/nope", "user:a@example.com"), "role"),
        (lambda iam: iam.add_project_binding("p", "roles/viewer", "bob"), "'bob'"),
        (lambda iam: iam.add_project_binding("", "roles/viewer", "allUsers"), "projectId"),
        (lambda iam: iam.add_group_member("not-an-email", "user:a@example.com"), "not-an-email"),
        (lambda iam: iam.add_group_member("g@example.com", "allUsers"), "allUsers"),
        (lambda iam: iam.load_config(
            {"projects": {"p": {"bindings": [{"role": "roles/x", "members": ["allUsers"]}]}}}),
         "projects.p.bindings[0].role"),
        (lambda iam: iam.load_config({"groups": {"g@example.com": "user:a@example.com"}}),
         "groups.g@example.com"),
        (lambda iam: iam.load_config({"bogus": {}}), "bogus"),
        (lambda iam: iam.load_config([]), "config"),
    ],
)  # fmt: skip
def test_admin_api_rejects_bad_input_naming_it(w: World, call, field: str) -> None:
    before = w.b.iam.snapshot()
    with pytest.raises(ApiError) as info:
        call(w.b.iam)
    assert info.value.status == "INVALID_ARGUMENT"
    assert field in info.value.message
    assert w.b.iam.snapshot() == before


def test_load_config_is_all_or_nothing(w: World) -> None:
    before = w.b.iam.snapshot()
    bad = {
        "projects": {"p9": {"bindings": [{"role": "roles/viewer", "members": ["allUsers"]}]}},
        "groups": {"g@example.com": ["user:ok@example.com", "nonsense"]},
    }
    with pytest.raises(ApiError):
        w.b.iam.load_config(bad)
    assert w.b.iam.snapshot() == before


def test_snapshot_restore_round_trip_keeps_access_and_etags(w: World) -> None:
    w.b.iam.add_group_member("g@example.com", STRANGER.member)
    written = w.b.dataset_policies.set_policy(
        ADMIN, w.dataset, {"bindings": [{"role": "roles/viewer", "members": ["group:g@example.com"]}]}
    )
    state = w.b.iam.snapshot()
    w.b.iam.reset()
    assert not _can_read(w, STRANGER) and not _can_read(w, VIEWER)
    w.b.iam.restore(state)
    assert w.b.iam.snapshot() == state
    assert _can_read(w, STRANGER) and _can_read(w, VIEWER)
    assert w.b.dataset_policies.get_policy(ADMIN, w.dataset)["etag"] == written["etag"]


def test_reset_clears_bindings_groups_and_policies_but_etags_stay_unique(w: World) -> None:
    first = w.b.dataset_policies.set_policy(DEFAULT_OWNER, w.dataset, {"bindings": []})
    w.b.iam.reset()
    assert w.b.iam.snapshot() == {"projects": {}, "groups": {}, "policies": {}}
    again = w.b.dataset_policies.set_policy(DEFAULT_OWNER, w.dataset, {"bindings": []})
    assert again["etag"] != first["etag"]


def test_backend_reset_resets_iam() -> None:
    w = make_world()
    w.b.reset()
    assert w.b.iam.snapshot() == {"projects": {}, "groups": {}, "policies": {}}


def test_docs_have_a_row_for_every_operation_of_the_spec() -> None:
    spec = (ROOT / "spec" / "openapi.yaml").read_text()
    operations = set(re.findall(r"operationId: (genomics\.[\w.]+)", spec))
    assert operations
    text = (ROOT / "docs" / "permissions.md").read_text()
    missing = [op for op in sorted(operations) if f"| `{op}` |" not in text]
    assert not missing, missing


# -- read group sets, reads, coverage, operations ------------------------------------------


@dataclass
class ReadsWorld:
    b: Backend
    dataset: str
    read_group_set: str
    operation: str


@pytest.fixture
def rw(tmp_path: Path) -> ReadsWorld:
    import samfiles

    b = samfiles.new_backend(tmp_path / "storage")
    b.iam.add_project_binding(P1, "roles/genomics.viewer", VIEWER.member)
    b.iam.add_project_binding(P1, "roles/editor", EDITOR.member)
    b.iam.add_project_binding(P1, "roles/genomics.admin", ADMIN.member)
    b.iam.add_project_binding(P2, "roles/viewer", OUTSIDER.member)
    ds = b.datasets.create(DEFAULT_OWNER, {"projectId": P1})["id"]
    samfiles.write_toy(b.storage.root / "bk" / "a.bam")
    op = samfiles.run_import(b, ds, "gs://bk/a.bam", partitionStrategy="MERGE_ALL")
    assert op["done"] and "error" not in op, op
    return ReadsWorld(b, ds, op["response"]["readGroupSetIds"][0], op["name"])


RCall = Callable[[ReadsWorld, Principal], Any]
READ_OPERATIONS: list[tuple[str, str, str, RCall]] = [
    ("readgroupsets.import", "genomics.readGroupSets.create", "dataset",
     lambda w, p: w.b.read_group_sets.import_(p, {"datasetId": w.dataset, "sourceUris": ["gs://bk/a.bam"]})),
    ("readgroupsets.get", "genomics.readGroupSets.get", "dataset",
     lambda w, p: w.b.read_group_sets.get(p, w.read_group_set)),
    ("readgroupsets.patch", "genomics.readGroupSets.update", "dataset",
     lambda w, p: w.b.read_group_sets.patch(p, w.read_group_set, {"name": "n"}, "name")),
    ("readgroupsets.delete", "genomics.readGroupSets.delete", "dataset",
     lambda w, p: w.b.read_group_sets.delete(p, w.read_group_set)),
    ("readgroupsets.search", "genomics.readGroupSets.list", "dataset",
     lambda w, p: w.b.read_group_sets.search(p, {"datasetIds": [w.dataset]})),
    ("readgroupsets.coveragebuckets.list", "genomics.readGroupSets.get", "dataset",
     lambda w, p: w.b.coverage.list_buckets(p, w.read_group_set)),
    ("reads.search", "genomics.reads.list", "dataset",
     lambda w, p: w.b.reads.search(p, {"readGroupSetIds": [w.read_group_set]})),
    ("operations.get", "genomics.operations.get", "project", lambda w, p: w.b.operations.get(p, w.operation)),
    ("operations.list", "genomics.operations.list", "project",
     lambda w, p: w.b.operations.list(p, f"projectId = {P1}")),
    ("operations.cancel", "genomics.operations.cancel", "project",
     lambda w, p: w.b.operations.cancel(p, w.operation)),
]  # fmt: skip
READ_IDS = [op[0] for op in READ_OPERATIONS]


@pytest.mark.parametrize(("name", "permission", "scope", "call"), READ_OPERATIONS, ids=READ_IDS)
def test_reads_allowed_caller_succeeds(rw: ReadsWorld, name: str, permission: str, scope: str, call) -> None:
    assert isinstance(call(rw, allowed_caller(permission, scope)), dict)


@pytest.mark.parametrize(("name", "permission", "scope", "call"), READ_OPERATIONS, ids=READ_IDS)
def test_reads_denied_caller_fails(rw: ReadsWorld, name: str, permission: str, scope: str, call) -> None:
    principal, status = denied_caller(permission, scope)
    if principal is STRANGER and name in ("operations.get", "operations.cancel"):
        status = 404  # named by id in a project the caller cannot see at all: looks unknown
    with pytest.raises(ApiError) as info:
        call(rw, principal)
    assert info.value.code == status, info.value.message
    if status == 403:
        assert permission in info.value.message


@pytest.mark.parametrize(("name", "permission", "scope", "call"), READ_OPERATIONS, ids=READ_IDS)
def test_reads_other_project_caller_gets_404_or_403(
    rw: ReadsWorld, name: str, permission: str, scope: str, call
) -> None:
    with pytest.raises(ApiError) as info:
        call(rw, OUTSIDER)
    by_id = name in ("operations.get", "operations.cancel")  # another project's operation looks unknown
    assert info.value.code == (404 if scope == "dataset" or by_id else 403)


@pytest.mark.parametrize("method", ["get", "cancel"])
def test_operation_of_an_invisible_project_reads_like_an_unknown_one(rw: ReadsWorld, method: str) -> None:
    call = getattr(rw.b.operations, method)
    with pytest.raises(ApiError) as hidden:
        call(STRANGER, rw.operation)
    with pytest.raises(ApiError) as unknown:
        call(STRANGER, "operations/nope")
    assert _same_up_to_id(hidden.value, unknown.value, rw.operation, "operations/nope")


@pytest.mark.parametrize(
    "getter",
    [
        lambda b, p, i: b.read_group_sets.get(p, i),
        lambda b, p, i: b.read_group_sets.delete(p, i),
        lambda b, p, i: b.coverage.list_buckets(p, i),
        lambda b, p, i: b.reads.search(p, {"readGroupSetIds": [i]}),
    ],
    ids=["get", "delete", "coverage", "reads.search"],
)
def test_invisible_read_group_set_is_indistinguishable_from_unknown_id(rw: ReadsWorld, getter) -> None:
    with pytest.raises(ApiError) as hidden:
        getter(rw.b, STRANGER, rw.read_group_set)
    with pytest.raises(ApiError) as unknown:
        getter(rw.b, STRANGER, "999999")
    assert _same_up_to_id(hidden.value, unknown.value, rw.read_group_set, "999999")


def test_export_needs_read_on_the_set_and_write_on_the_target_project(rw: ReadsWorld) -> None:
    """The doc: READ on the read group set, WRITE on the project that receives the export."""
    rw.b.iam.add_project_binding(P2, "roles/editor", VIEWER.member)  # VIEWER: reads p1, writes p2
    body = {"projectId": P2, "exportUri": "gs://out/x.bam"}
    op = rw.b.read_group_sets.export(VIEWER, rw.read_group_set, body)
    assert op["done"] and "error" not in op, op
    with pytest.raises(ApiError) as info:  # EDITOR reads and writes p1 only
        rw.b.read_group_sets.export(
            EDITOR, rw.read_group_set, {"projectId": P2, "exportUri": "gs://out/y.bam"}
        )
    assert info.value.code == 403
    with pytest.raises(ApiError) as info:
        rw.b.read_group_sets.export(
            STRANGER, rw.read_group_set, {"projectId": P2, "exportUri": "gs://o/z.bam"}
        )
    assert info.value.code == 404


def test_invisible_read_group_named_by_group_id_does_not_reveal_its_set(rw: ReadsWorld) -> None:
    group = rw.b.read_group_sets.get(DEFAULT_OWNER, rw.read_group_set)["readGroups"][0]["id"]
    with pytest.raises(ApiError) as hidden:
        rw.b.reads.search(STRANGER, {"readGroupIds": [group]})
    with pytest.raises(ApiError) as unknown:
        rw.b.reads.search(STRANGER, {"readGroupIds": ["nope"]})
    assert _same_up_to_id(hidden.value, unknown.value, group, "nope")
    assert rw.read_group_set not in hidden.value.message


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (
            lambda w, p, d: w.b.annotation_sets.create(p, {"datasetId": d, "referenceSetId": GRCH38}),
            "datasetId",
        ),
        (lambda w, p, d: w.b.annotation_sets.search(p, {"datasetIds": [d]}), "datasetIds"),
        (lambda w, p, d: w.b.variant_sets.create(p, {"datasetId": d}), "datasetId"),
        (lambda w, p, d: w.b.variant_sets.search(p, {"datasetIds": [d]}), "datasetIds"),
    ],
    ids=["annotationsets.create", "annotationsets.search", "variantsets.create", "variantsets.search"],
)
def test_invisible_dataset_named_in_a_body_reads_like_an_unknown_one(w: World, call, field: str) -> None:
    with pytest.raises(ApiError) as hidden:
        call(w, STRANGER, w.dataset)
    with pytest.raises(ApiError) as unknown:
        call(w, STRANGER, "999999")
    assert _same_up_to_id(hidden.value, unknown.value, w.dataset, "999999")
    assert f"({field})" in hidden.value.message


def test_invisible_dataset_in_read_group_set_calls_reads_like_an_unknown_one(rw: ReadsWorld) -> None:
    calls = [
        lambda d: rw.b.read_group_sets.search(STRANGER, {"datasetIds": [d]}),
        lambda d: rw.b.read_group_sets.import_(STRANGER, {"datasetId": d, "sourceUris": ["gs://bk/a.bam"]}),
    ]
    for call in calls:
        with pytest.raises(ApiError) as hidden:
            call(rw.dataset)
        with pytest.raises(ApiError) as unknown:
            call("999999")
        assert _same_up_to_id(hidden.value, unknown.value, rw.dataset, "999999")


def test_hidden_applies_to_project_checks_when_given(w: World) -> None:
    """Operations are checked on their project; hidden= makes another project's operation look unknown."""
    hidden = ApiError("NOT_FOUND", "Operation 'operations/x' not found (name)")
    with pytest.raises(ApiError) as info:
        w.b.iam.authorize(STRANGER, "genomics.operations.get", f"projects/{P1}", hidden=hidden)
    assert info.value is hidden
    with pytest.raises(ApiError) as info:  # some access to the project: a plain 403
        w.b.iam.authorize(VIEWER, "genomics.operations.cancel", f"projects/{P1}", hidden=hidden)
    assert info.value.code == 403
    with pytest.raises(ApiError) as info:  # no hidden: 403
        w.b.iam.authorize(STRANGER, "genomics.operations.get", f"projects/{P1}")
    assert info.value.code == 403


def test_every_iam_write_takes_effect_on_the_next_check(w: World) -> None:
    """Checks are memoized; each kind of write must invalidate them."""
    carol = Principal("user:carol@example.com")
    assert not _can_read(w, carol)
    w.b.iam.add_project_binding(P1, "roles/viewer", carol.member)
    assert _can_read(w, carol)
    w.b.iam.set_project_bindings(P1, [])
    assert not _can_read(w, carol)
    w.b.iam.load_config(
        {"projects": {P1: {"bindings": [{"role": "roles/viewer", "members": ["group:g@x.org"]}]}}}
    )
    assert not _can_read(w, carol)
    w.b.iam.load_config({"groups": {"g@x.org": [carol.member]}})
    assert _can_read(w, carol)
    state = w.b.iam.snapshot()
    w.b.iam.reset()
    assert not _can_read(w, carol)
    w.b.iam.restore(state)
    assert _can_read(w, carol)


def test_authorize_passes_exactly_when_allowed(w: World) -> None:
    """``authorize`` (the check of every request, with ``allowed`` inlined) lets a call through
    exactly when ``allowed`` says so, for every permission, caller kind and resource, a public
    reference set's read included; refused calls are 403 or 404, never through."""
    callers = [VIEWER, EDITOR, ADMIN, STRANGER, OUTSIDER, ANONYMOUS, DEFAULT_OWNER,
               Principal("serviceAccount:robot@x.iam.gserviceaccount.com")]
    resources = [f"datasets/{w.dataset}", "projects/p1", "projects/p2", "datasets/missing"]
    checked = 0
    for caller in callers:
        for resource in resources:
            for permission in sorted(ALL_PERMISSIONS):
                allowed = w.b.iam.allowed(caller, permission, resource)
                try:
                    w.b.iam.authorize(caller, permission, resource)
                except ApiError as exc:
                    assert not allowed and exc.code in (403, 404), (caller, permission, resource)
                else:
                    assert allowed, (caller, permission, resource)
                checked += allowed
    assert checked > 50  # some pass, some do not
