"""Permission rules: each outcome (2xx / 401 / 403 / 404) is what the permission table predicts.

The table (docs/permissions.md, Google's IAM model for Genomics v1): READ =
get/list/search, WRITE = create/update/delete, IAM = get/set a dataset's
policy; viewer roles hold READ, editor roles READ + WRITE, owner/admin roles
everything. A caller's permissions on a dataset are its project roles plus
the dataset policy's. Outcome order: no or unknown credentials 401; a token
without a scope the operation accepts (``genomics.readonly`` on a write) 403;
holding the permission 2xx; holding something on the dataset but not this
403; holding nothing on the dataset 404 (existence is not leaked);
project-level operations (dataset create/list) 403.

Checks: the fixed callers given on the command line over every operation
(works against any server); random principals, project role bindings and
dataset policies (needs the mock's admin API to mint principals); and that a
search never returns what the caller cannot read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from hypothesis import strategies as st

from contracts.client import ApiClient, ContractViolation, expect
from contracts.core import Context, SkipCheck, Suite

SUITE = Suite("permissions", "outcomes match the permission table; no search leaks unreadable data")

RESOURCES = ("datasets", "annotationSets", "annotations", "callSets", "readGroupSets", "variantSets")
READ = frozenset(
    {f"genomics.{r}.{v}" for r in RESOURCES for v in ("get", "list")}
    | {"genomics.reads.list", "genomics.operations.get", "genomics.operations.list"}
)
WRITE = frozenset(
    {f"genomics.{r}.{v}" for r in RESOURCES for v in ("create", "update", "delete")}
    | {"genomics.readGroupSets.export", "genomics.variantSets.export", "genomics.operations.cancel"}
)
IAM = frozenset({"genomics.datasets.getIamPolicy", "genomics.datasets.setIamPolicy"})
ROLES: dict[str, frozenset[str]] = {
    "roles/viewer": READ,
    "roles/genomics.viewer": READ,
    "roles/editor": READ | WRITE,
    "roles/genomics.editor": READ | WRITE,
    "roles/owner": READ | WRITE | IAM,
    "roles/genomics.admin": READ | WRITE | IAM,
}
SCOPES = ("cloud-platform", "genomics", "genomics.readonly")


@dataclass
class Fixture:
    """A dataset with one annotation set and one annotation, owned by the writer."""

    ctx: Context
    project: str
    dataset: str
    aset: str
    annotation: str

    @classmethod
    def make(cls, ctx: Context) -> Fixture:
        dataset = ctx.new_dataset("permissions")
        aset = ctx.new_annotation_set(dataset)["id"]
        annotation = cls.new_annotation(ctx, aset)
        return cls(ctx, ctx.project, dataset, aset, annotation)

    @staticmethod
    def new_annotation(ctx: Context, aset: str) -> str:
        body = {"annotationSetId": aset, "referenceName": "chr1", "start": "1", "end": "5"}
        return expect(ctx.writer.post("/v1/annotations", body), 200, rule="annotations.create (writer)")["id"]


@dataclass
class Op:
    name: str
    permission: str
    on_project: bool
    call: Callable[[ApiClient, Fixture], httpx.Response]


def _delete_dataset(c: ApiClient, f: Fixture) -> httpx.Response:
    r = c.delete(f"/v1/datasets/{f.dataset}")
    if r.status_code == 200:
        expect(f.ctx.writer.post(f"/v1/datasets/{f.dataset}:undelete", {}), 200, rule="undelete (writer)")
    return r


def _undelete_dataset(c: ApiClient, f: Fixture) -> httpx.Response:
    expect(f.ctx.writer.delete(f"/v1/datasets/{f.dataset}"), 200, rule="datasets.delete (writer)")
    r = c.post(f"/v1/datasets/{f.dataset}:undelete", {})
    if r.status_code != 200:
        expect(f.ctx.writer.post(f"/v1/datasets/{f.dataset}:undelete", {}), 200, rule="undelete (writer)")
    return r


def _set_policy(c: ApiClient, f: Fixture) -> httpx.Response:
    policy = expect(f.ctx.writer.post(f"/v1/datasets/{f.dataset}:getIamPolicy", {}), 200)
    return c.post(f"/v1/datasets/{f.dataset}:setIamPolicy", {"policy": policy})


def _throwaway_set(f: Fixture) -> str:
    return f.ctx.new_annotation_set(f.dataset)["id"]


OPS = [
    Op("datasets.get", "genomics.datasets.get", False, lambda c, f: c.get(f"/v1/datasets/{f.dataset}")),
    Op(
        "datasets.list",
        "genomics.datasets.list",
        True,
        lambda c, f: c.get("/v1/datasets", projectId=f.project),
    ),
    Op(
        "datasets.create",
        "genomics.datasets.create",
        True,
        lambda c, f: c.post("/v1/datasets", {"projectId": f.project, "name": "by-caller"}),
    ),
    Op(
        "datasets.patch",
        "genomics.datasets.update",
        False,
        lambda c, f: c.patch(f"/v1/datasets/{f.dataset}", {"name": "patched"}, updateMask="name"),
    ),
    Op("datasets.delete", "genomics.datasets.delete", False, _delete_dataset),
    Op("datasets.undelete", "genomics.datasets.delete", False, _undelete_dataset),
    Op(
        "datasets.getIamPolicy",
        "genomics.datasets.getIamPolicy",
        False,
        lambda c, f: c.post(f"/v1/datasets/{f.dataset}:getIamPolicy", {}),
    ),
    Op("datasets.setIamPolicy", "genomics.datasets.setIamPolicy", False, _set_policy),
    Op(
        "annotationsets.create",
        "genomics.annotationSets.create",
        False,
        lambda c, f: c.post(
            "/v1/annotationsets", {"datasetId": f.dataset, "referenceSetId": f.ctx.reference_set_id}
        ),
    ),
    Op(
        "annotationsets.get",
        "genomics.annotationSets.get",
        False,
        lambda c, f: c.get(f"/v1/annotationsets/{f.aset}"),
    ),
    Op(
        "annotationsets.update",
        "genomics.annotationSets.update",
        False,
        lambda c, f: c.put(f"/v1/annotationsets/{f.aset}", {"name": "renamed"}, updateMask="name"),
    ),
    Op(
        "annotationsets.delete",
        "genomics.annotationSets.delete",
        False,
        lambda c, f: c.delete(f"/v1/annotationsets/{_throwaway_set(f)}"),
    ),
    Op(
        "annotationsets.search",
        "genomics.annotationSets.list",
        False,
        lambda c, f: c.post("/v1/annotationsets/search", {"datasetIds": [f.dataset]}),
    ),
    Op(
        "annotations.create",
        "genomics.annotations.create",
        False,
        lambda c, f: c.post(
            "/v1/annotations", {"annotationSetId": f.aset, "referenceName": "chr2", "end": "9"}
        ),
    ),
    Op(
        "annotations.batchCreate",
        "genomics.annotations.create",
        False,
        lambda c, f: c.post(
            "/v1/annotations:batchCreate",
            {"annotations": [{"annotationSetId": f.aset, "referenceName": "chr2", "end": "3"}]},
        ),
    ),
    Op(
        "annotations.get",
        "genomics.annotations.get",
        False,
        lambda c, f: c.get(f"/v1/annotations/{f.annotation}"),
    ),
    Op(
        "annotations.update",
        "genomics.annotations.update",
        False,
        lambda c, f: c.put(f"/v1/annotations/{f.annotation}", {"name": "renamed"}, updateMask="name"),
    ),
    Op(
        "annotations.delete",
        "genomics.annotations.delete",
        False,
        lambda c, f: c.delete(f"/v1/annotations/{Fixture.new_annotation(f.ctx, f.aset)}"),
    ),
    Op(
        "annotations.search",
        "genomics.annotations.list",
        False,
        lambda c, f: c.post("/v1/annotations/search", {"annotationSetIds": [f.aset]}),
    ),
    Op(
        "variantsets.create",
        "genomics.variantSets.create",
        False,
        lambda c, f: c.post("/v1/variantsets", {"datasetId": f.dataset}),
    ),
    Op(
        "variantsets.search",
        "genomics.variantSets.list",
        False,
        lambda c, f: c.post("/v1/variantsets/search", {"datasetIds": [f.dataset]}),
    ),
]


def expected_status(
    op: Op, project_perms: frozenset[str], dataset_perms: frozenset[str], readonly: bool
) -> int:
    """What the permission table predicts (200 for success)."""
    if readonly and (op.permission in WRITE or op.permission in IAM):
        return 403
    held = project_perms if op.on_project else project_perms | dataset_perms
    if op.permission in held:
        return 200
    if op.on_project or held:
        return 403
    return 404


def check_outcome(ctx: Context, op: Op, caller: ApiClient, fx: Fixture, want: int, who: str) -> None:
    ctx.covers(f"genomics.{op.name}")
    got = op.call(caller, fx).status_code
    ctx.checked()
    if got != want:
        raise ContractViolation(
            f"{op.name} by {who}: answered {got}, the permission table predicts {want} "
            f"(needs {op.permission} on {'the project' if op.on_project else 'the dataset'})"
        )


@SUITE.check
def fixed_callers(ctx: Context) -> None:
    """Every operation by the reader, outsider, readonly-scope and anonymous callers of the target."""
    t = ctx.target
    callers: list[tuple[str, frozenset[str], bool]] = []
    if t.reader_token:
        callers.append(("reader", READ, False))
    if t.outsider_token:
        callers.append(("outsider", frozenset(), False))
    if t.readonly_token:
        callers.append(("readonly", READ | WRITE, True))
    if not callers and not t.strict_auth:
        raise SkipCheck("no --reader-token/--outsider-token/--readonly-token given and the target is open")
    if t.project is None and (t.reader_token or t.readonly_token):
        raise SkipCheck("--project is needed: the reader/readonly tokens hold their roles on a known project")
    fx = Fixture.make(ctx)
    for role, perms, readonly in callers:
        caller = ctx.caller(role)
        for op in OPS:
            ctx.recorder.clear()
            ctx.stats.cases += 1
            check_outcome(ctx, op, caller, fx, expected_status(op, perms, frozenset(), readonly), role)
    if t.strict_auth:
        anonymous = ctx.anonymous()
        for op in OPS:
            ctx.recorder.clear()
            ctx.stats.cases += 1
            check_outcome(ctx, op, anonymous, fx, 401, "an anonymous caller (strict target)")


def mint_principal(ctx: Context, roles: list[str], scope: str) -> tuple[str, ApiClient]:
    """A new principal through the mock's admin API: (member, client)."""
    member = f"user:c{secrets.token_hex(5)}@contracts.example.com"
    body = {
        "member": member,
        "token": f"tok-{secrets.token_hex(10)}",
        "roles": roles,
        "projectId": ctx.project,
        "scopes": [scope],
    }
    result = expect(ctx.admin().post("/_mock/principals", body), 200, rule="admin: add principal")
    return member, ctx.writer.with_token(result["token"], member)


def grant(ctx: Context, dataset: str, role: str, member: str) -> None:
    """Add ``member`` to ``role`` in the dataset's IAM policy (read-modify-write with the etag)."""
    policy = expect(ctx.writer.post(f"/v1/datasets/{dataset}:getIamPolicy", {}), 200, rule="getIamPolicy")
    bindings = [b for b in policy.get("bindings", []) if b.get("role") != role]
    members: list[str] = next((b["members"] for b in policy.get("bindings", []) if b.get("role") == role), [])
    bindings.append({"role": role, "members": [*members, member]})
    new = {"bindings": bindings, **({"etag": policy["etag"]} if "etag" in policy else {})}
    expect(ctx.writer.post(f"/v1/datasets/{dataset}:setIamPolicy", {"policy": new}), 200, rule="setIamPolicy")


def require_admin(ctx: Context) -> None:
    if not ctx.has_admin():
        raise SkipCheck("needs the mock's admin API (/_mock/) to create principals with random project roles")


role_choice = st.one_of(st.none(), st.sampled_from(sorted(ROLES)))


@SUITE.check
def random_policies(ctx: Context) -> None:
    """Random principals, project role bindings, dataset policies and scopes over random operations."""
    require_admin(ctx)

    @ctx.given(
        role_choice,
        role_choice,
        st.sampled_from(SCOPES),
        st.lists(st.sampled_from(range(len(OPS))), min_size=1, max_size=4, unique=True),
    )
    def run(project_role: str | None, dataset_role: str | None, scope: str, ops: list[int]) -> None:
        member, caller = mint_principal(ctx, [project_role] if project_role else [], scope)
        fx = Fixture.make(ctx)
        if dataset_role:
            grant(ctx, fx.dataset, dataset_role, member)
        project_perms = ROLES.get(project_role or "", frozenset())
        dataset_perms = ROLES.get(dataset_role or "", frozenset())
        for i in ops:
            op = OPS[i]
            want = expected_status(op, project_perms, dataset_perms, scope == "genomics.readonly")
            check_outcome(
                ctx,
                op,
                caller,
                fx,
                want,
                f"{member} (project role {project_role}, dataset role {dataset_role}, scope {scope})",
            )

    run()


@SUITE.check
def searches_do_not_leak(ctx: Context) -> None:
    """A search naming an unreadable container fails as a whole; lists show only readable datasets."""
    if not ctx.has_admin() and not ctx.target.outsider_member:
        raise SkipCheck("needs the admin API or --outsider-token with --outsider-member")
    a, b = Fixture.make(ctx), Fixture.make(ctx)
    ctx.covers(
        "genomics.annotationsets.search",
        "genomics.annotations.search",
        "genomics.datasets.list",
        "genomics.variantsets.search",
    )

    # both orders, explicitly: a server that checks only the first container it is named
    # leaks exactly when the readable one sorts first
    @ctx.given(
        st.sampled_from(["roles/viewer", "roles/genomics.viewer", "roles/editor"]),
        st.booleans(),
        explicit=[("roles/viewer", True), ("roles/viewer", False)],
    )
    def run(role: str, readable_first: bool) -> None:
        if not ctx.has_admin():
            readable_first = True  # one fixed member: grants accumulate, so keep b unreadable
        readable, hidden = (a, b) if readable_first else (b, a)
        if ctx.has_admin():
            member, caller = mint_principal(ctx, [], "genomics.readonly")
        else:
            member, caller = str(ctx.target.outsider_member), ctx.caller("outsider")
        grant(ctx, readable.dataset, role, member)
        both = sorted([readable.dataset, hidden.dataset])
        body = expect(
            caller.post("/v1/annotationsets/search", {"datasetIds": [readable.dataset]}),
            200,
            rule="annotationsets.search of a readable dataset",
        )
        leaked = [s["id"] for s in body.get("annotationSets", []) if s.get("datasetId") != readable.dataset]
        if leaked:
            raise ContractViolation(f"annotationsets.search returned sets of another dataset: {leaked}")
        for path, query, what in (
            ("/v1/annotationsets/search", {"datasetIds": both}, "annotationsets.search"),
            (
                "/v1/annotations/search",
                {"annotationSetIds": sorted([readable.aset, hidden.aset])},
                "annotations.search",
            ),
            ("/v1/annotationsets/search", {"datasetIds": [hidden.dataset]}, "annotationsets.search"),
        ):
            r = caller.post(path, query)
            if r.status_code not in (403, 404):
                raise ContractViolation(
                    f"{what} naming an unreadable container answered {r.status_code} (must fail as a whole "
                    f"with 403/404): {r.text[:300]}"
                )
        r = caller.get("/v1/datasets", projectId=ctx.project)
        if r.status_code == 200:
            shown = {d["id"] for d in r.json().get("datasets", [])}
            if hidden.dataset in shown:
                raise ContractViolation("datasets.list showed a dataset the caller cannot read")
        ctx.checked(5)

    run()
