"""Field-requirement invariants: bad payloads are 400 naming the field, good neighbours pass.

For each create/update: one required field removed, one immutable field put
in the ``updateMask``, one limit crossed (100 Mbp range, 4096-entry batch,
documented ``pageSize`` maximum, transcript exons outside their annotation)
must be ``400 INVALID_ARGUMENT`` whose message names that field; the same
payload without the defect is accepted; server-generated fields (``id``,
``createTime``) sent on input are ignored; fields left out of the mask keep
their values; int64 fields travel as exact decimal strings.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from contracts.client import ContractViolation, error_message, expect
from contracts.core import Context, Suite

SUITE = Suite("fields", "required fields, immutable fields, limits: 400 naming the field")

MAX_RANGE = 100_000_000
BATCH_MAX = 4096

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ ", min_size=1, max_size=12)
info = st.dictionaries(st.sampled_from(["k1", "k2", "tag"]), st.lists(names, max_size=2), max_size=2)


def rejected(response: Any, *fields: str, rule: str) -> None:
    """400 whose message names one of ``fields``."""
    expect(response, 400, rule=rule)
    message = error_message(response)
    if not any(f in message for f in fields):
        raise ContractViolation(f"{rule}: the 400 message does not name {' or '.join(fields)}: {message!r}")


@SUITE.check
def required_fields(ctx: Context) -> None:
    """Each create/list/search without one required field is 400 naming it; with it, 200."""
    ctx.covers(
        "genomics.datasets.create",
        "genomics.annotationsets.create",
        "genomics.annotations.create",
        "genomics.annotationsets.search",
        "genomics.annotations.search",
        "genomics.datasets.list",
        "genomics.annotations.batchCreate",
        "genomics.variantsets.create",
    )
    dataset_id = ctx.new_dataset("fields")
    set_id = ctx.new_annotation_set(dataset_id)["id"]

    def payloads(data: st.DataObject) -> dict[str, tuple[str, str, dict[str, Any], list[tuple[str, ...]]]]:
        """operation -> (method, path, valid body, required groups: any one field of a group names it)."""
        opt_name = data.draw(st.none() | names, label="name")
        return {
            "datasets.create": (
                "POST",
                "/v1/datasets",
                {"projectId": ctx.project, "name": opt_name},
                [("projectId",)],
            ),
            "annotationsets.create": (
                "POST",
                "/v1/annotationsets",
                {
                    "datasetId": dataset_id,
                    "referenceSetId": ctx.reference_set_id,
                    "name": opt_name,
                    "type": data.draw(st.sampled_from(["GENERIC", "GENE"])),
                    "info": data.draw(info, label="info") or None,
                },
                [("datasetId",), ("referenceSetId",)],
            ),
            "annotations.create": (
                "POST",
                "/v1/annotations",
                {
                    "annotationSetId": set_id,
                    "referenceName": "chr1",
                    "start": str(data.draw(st.integers(0, 1000), label="start")),
                    "end": "1500",
                    "name": opt_name,
                },
                [("annotationSetId",), ("referenceName", "referenceId")],
            ),
            "annotations.batchCreate": (
                "POST",
                "/v1/annotations:batchCreate",
                {
                    "annotations": [
                        {"annotationSetId": set_id, "referenceName": "chr2", "start": "1", "end": "2"}
                    ]
                },
                [("annotations",)],
            ),
            "annotationsets.search": (
                "POST",
                "/v1/annotationsets/search",
                {"datasetIds": [dataset_id], "name": opt_name},
                [("datasetIds",)],
            ),
            "annotations.search": (
                "POST",
                "/v1/annotations/search",
                {"annotationSetIds": [set_id]},
                [("annotationSetIds",)],
            ),
            "variantsets.create": (
                "POST",
                "/v1/variantsets",
                {"datasetId": dataset_id, "name": opt_name},
                [("datasetId",)],
            ),
            "datasets.list": ("GET", "/v1/datasets", {"projectId": ctx.project}, [("projectId",)]),
        }

    @ctx.given(st.data())
    def run(data: st.DataObject) -> None:
        table = payloads(data)
        # every (operation, required field) pair in each example; Hypothesis varies the rest
        for op in sorted(table):
            method, path, body, groups = table[op]
            for group in groups:
                broken = {k: v for k, v in body.items() if k not in group}
                if method == "GET":
                    bad, good = ctx.writer.get(path, **broken), ctx.writer.get(path, **body)
                else:
                    bad, good = ctx.writer.post(path, broken), ctx.writer.post(path, body)
                rejected(bad, *group, rule=f"{op} without {'/'.join(group)}")
                expect(good, 200, rule=f"{op} with every required field (the valid neighbour)")
                ctx.checked(2)

    run()


@SUITE.check
def immutable_fields_in_mask(ctx: Context) -> None:
    """An updateMask naming an immutable field is 400 naming it; a mutable one is applied."""
    ctx.covers("genomics.datasets.patch", "genomics.annotationsets.update", "genomics.annotations.update")
    dataset_id = ctx.new_dataset("fields-mask")
    aset = ctx.new_annotation_set(dataset_id, sourceUri="gs://bucket/a")
    ann = expect(
        ctx.writer.post(
            "/v1/annotations",
            {"annotationSetId": aset["id"], "referenceName": "chr1", "start": "10", "end": "20", "name": "a"},
        ),
        200,
    )
    targets = {
        "datasets.patch": ("PATCH", f"/v1/datasets/{dataset_id}", ["projectId", "id", "createTime"], "name"),
        "annotationsets.update": (
            "PUT",
            f"/v1/annotationsets/{aset['id']}",
            ["type", "datasetId", "referenceSetId", "id"],
            "name",
        ),
        "annotations.update": (
            "PUT",
            f"/v1/annotations/{ann['id']}",
            ["referenceName", "start", "end", "annotationSetId", "type", "id"],
            "name",
        ),
    }

    @ctx.given(st.data(), names)
    def run(data: st.DataObject, new_name: str) -> None:
        for op in sorted(targets):
            check_mask(op, data, new_name)

    def check_mask(op: str, data: st.DataObject, new_name: str) -> None:
        method, path, immutable, mutable = targets[op]
        field = data.draw(st.sampled_from(immutable), label="immutable")
        mask = data.draw(st.sampled_from([field, f"{mutable},{field}", f"{field},{mutable}"]), label="mask")
        current = expect(ctx.writer.get(path), 200, rule=f"{op}: get before update")
        body = {**current, mutable: new_name, field: current.get(field, "x")}
        rejected(
            ctx.writer.request(method, path, json_body=body, params={"updateMask": mask}),
            field,
            rule=f"{op} with immutable {field!r} in updateMask",
        )
        after = expect(ctx.writer.get(path), 200)
        if after != current:
            raise ContractViolation(f"{op}: a rejected update changed the resource: {current} -> {after}")
        updated = expect(
            ctx.writer.request(method, path, json_body=body, params={"updateMask": mutable}),
            200,
            rule=f"{op} with updateMask={mutable} (the valid neighbour)",
        )
        if updated.get(mutable) != new_name:
            raise ContractViolation(
                f"{op}: updateMask={mutable} did not set {mutable} to {new_name!r}: {updated}"
            )
        ctx.checked(3)

    run()


@SUITE.check
def mask_limits_update(ctx: Context) -> None:
    """Fields left out of updateMask keep their values, even when the body changes them."""
    ctx.covers("genomics.annotationsets.update", "genomics.datasets.patch", "genomics.annotations.update")
    dataset_id = ctx.new_dataset("fields-keep")

    @ctx.given(
        names,
        names,
        st.sampled_from(["name", "sourceUri", "info"]),
        st.dictionaries(st.sampled_from(["k1", "k2"]), st.lists(names, max_size=2), min_size=1, max_size=2),
        explicit=[("after", "gs://b/after", m, {"k1": ["new"]}) for m in ("name", "sourceUri", "info")],
    )
    def run(name: str, uri: str, masked: str, new_info: dict[str, Any]) -> None:
        aset = ctx.new_annotation_set(
            dataset_id, name="before", sourceUri="gs://b/before", info={"old": ["1"]}
        )
        path = f"/v1/annotationsets/{aset['id']}"
        body = {**aset, "name": name, "sourceUri": uri, "info": new_info}
        got = expect(ctx.writer.put(path, body, updateMask=masked), 200, rule="annotationsets.update")
        stored = expect(ctx.writer.get(path), 200)
        for field, new in (("name", name), ("sourceUri", uri), ("info", new_info)):
            want = new if field == masked else aset.get(field)
            for where, seen in (("response", got), ("stored", stored)):
                if seen.get(field) != want:
                    raise ContractViolation(
                        f"annotationsets.update updateMask={masked}: {where} {field} is {seen.get(field)!r}, "
                        f"expected {want!r}"
                    )
        ctx.checked(6)

    run()


@SUITE.check
def limits(ctx: Context) -> None:
    """100 Mbp ranges, 4096-entry batches, pageSize maxima and transcript exons: 400 past the limit."""
    ctx.covers(
        "genomics.annotations.create",
        "genomics.annotations.batchCreate",
        "genomics.annotations.search",
        "genomics.annotationsets.search",
        "genomics.datasets.list",
    )
    dataset_id = ctx.new_dataset("fields-limits")
    generic = ctx.new_annotation_set(dataset_id)["id"]
    transcript = ctx.new_annotation_set(dataset_id, type_="TRANSCRIPT")["id"]

    def ann(set_id: str, start: int, end: int, **extra: Any) -> dict[str, Any]:
        return {
            "annotationSetId": set_id,
            "referenceName": "chr1",
            "start": str(start),
            "end": str(end),
            **extra,
        }

    # the batch limit, once: 4097 is refused, 4096 accepted
    too_many = [ann(generic, i, i + 1) for i in range(BATCH_MAX + 1)]
    rejected(
        ctx.writer.post("/v1/annotations:batchCreate", {"annotations": too_many}),
        "annotations",
        rule=f"annotations.batchCreate with {BATCH_MAX + 1} entries",
    )
    expect(
        ctx.writer.post("/v1/annotations:batchCreate", {"annotations": too_many[:BATCH_MAX]}),
        200,
        rule=f"annotations.batchCreate with {BATCH_MAX} entries (the valid neighbour)",
    )
    ctx.checked(2)
    page_limits: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/v1/datasets", {"projectId": ctx.project}, 1024),
        ("POST", "/v1/annotationsets/search", {"datasetIds": [dataset_id]}, 1024),
        ("POST", "/v1/annotations/search", {"annotationSetIds": [generic]}, 2048),
    ]

    @ctx.given(
        st.integers(0, 10_000_000),
        st.integers(1, 1000),
        st.sampled_from(range(len(page_limits))),
        st.integers(1, 100_000),
        st.sampled_from(["range", "page", "exon-out", "exon-overlap"]),
    )
    def run(start: int, over: int, which: int, past: int, kind: str) -> None:
        if kind == "range":
            rejected(
                ctx.writer.post("/v1/annotations", ann(generic, start, start + MAX_RANGE + over)),
                "end",
                "start",
                rule="annotations.create longer than 100 Mbp",
            )
            expect(
                ctx.writer.post("/v1/annotations", ann(generic, start, start + MAX_RANGE)),
                200,
                rule="annotations.create of exactly 100 Mbp (the valid neighbour)",
            )
        elif kind == "page":
            method, path, query, maximum = page_limits[which]
            for size, status in ((maximum + past, 400), (maximum, 200)):
                if method == "GET":
                    r = ctx.writer.get(path, **query, pageSize=size)
                else:
                    r = ctx.writer.post(path, {**query, "pageSize": size})
                if status == 400:
                    rejected(r, "pageSize", rule=f"{path} with pageSize {size} over the maximum {maximum}")
                else:
                    expect(r, 200, rule=f"{path} with pageSize at the maximum {maximum}")
        else:
            end = start + 100 + over
            good = [
                {"start": str(start), "end": str(start + 50)},
                {"start": str(start + 60), "end": str(end)},
            ]
            if kind == "exon-out":
                bad = [good[0], {"start": str(start + 60), "end": str(end + over)}]
            else:
                bad = [good[0], {"start": str(start + 40), "end": str(end)}]
            rejected(
                ctx.writer.post("/v1/annotations", ann(transcript, start, end, transcript={"exons": bad})),
                "exons",
                rule=f"TRANSCRIPT annotation with {kind} exons",
            )
            expect(
                ctx.writer.post("/v1/annotations", ann(transcript, start, end, transcript={"exons": good})),
                200,
                rule="TRANSCRIPT annotation with ordered exons inside it (the valid neighbour)",
            )
        ctx.checked(2)

    run()


@SUITE.check
def int64_as_strings(ctx: Context) -> None:
    """int64 fields (annotation start/end) are JSON strings holding the exact value, in create,
    get and search answers alike (proto3 JSON: a JSON number loses digits past 2**53)."""
    ctx.covers("genomics.annotations.create", "genomics.annotations.get", "genomics.annotations.search")
    dataset_id = ctx.new_dataset("fields-int64")
    set_id = ctx.new_annotation_set(dataset_id)["id"]

    @ctx.given(st.integers(1, 200_000_000), st.integers(1, 1000), explicit=[(123_456_789, 7), (1, 1)])
    def run(start: int, length: int) -> None:
        end = start + length
        body = {"annotationSetId": set_id, "referenceName": "chr1", "start": str(start), "end": str(end)}
        made = expect(ctx.writer.post("/v1/annotations", body), 200, rule="annotations.create")
        got = expect(ctx.writer.get(f"/v1/annotations/{made['id']}"), 200, rule="annotations.get")
        query = {"annotationSetIds": [set_id], "referenceName": "chr1", "start": str(start), "end": str(end)}
        found = expect(ctx.writer.post("/v1/annotations/search", query), 200, rule="annotations.search")
        hit = next((a for a in found.get("annotations", []) if a.get("id") == made["id"]), None)
        if hit is None:
            raise ContractViolation(f"annotations.search over [{start}, {end}) missed {made['id']}")
        for where, answer in (("create", made), ("get", got), ("search", hit)):
            for field, want in (("start", start), ("end", end)):
                value = answer.get(field)
                if value != str(want):
                    raise ContractViolation(
                        f"annotations.{where}: {field} is {value!r} ({type(value).__name__}); int64 fields "
                        f"are JSON strings, expected {str(want)!r}"
                    )
        ctx.checked(6)

    run()


@SUITE.check
def server_fields_ignored(ctx: Context) -> None:
    """id and createTime sent on create are ignored: the server assigns its own."""
    ctx.covers("genomics.datasets.create", "genomics.annotationsets.create", "genomics.annotations.create")
    dataset_id = ctx.new_dataset("fields-generated")
    set_id = ctx.new_annotation_set(dataset_id)["id"]

    @ctx.given(
        st.sampled_from(["datasets", "annotationsets", "annotations"]),
        st.text(alphabet="abcdefXYZ0123456789", min_size=6, max_size=12),
    )
    def run(kind: str, fake: str) -> None:
        fake_id = f"client{fake}"
        if kind == "datasets":
            body: dict[str, Any] = {
                "projectId": ctx.project,
                "id": fake_id,
                "createTime": "2001-01-01T00:00:00Z",
            }
        elif kind == "annotationsets":
            body = {"datasetId": dataset_id, "referenceSetId": ctx.reference_set_id, "id": fake_id}
        else:
            body = {
                "annotationSetId": set_id,
                "referenceName": "chr1",
                "start": "1",
                "end": "2",
                "id": fake_id,
            }
        made = expect(ctx.writer.post(f"/v1/{kind}", body), 200, rule=f"{kind}.create with server fields set")
        if made.get("id") in (None, fake_id):
            raise ContractViolation(f"{kind}.create kept the client-sent id {fake_id!r}")
        if kind == "datasets" and made.get("createTime") == body["createTime"]:
            raise ContractViolation("datasets.create kept the client-sent createTime")
        expect(ctx.writer.get(f"/v1/{kind}/{made['id']}"), 200, rule=f"{kind}.get of the new id")
        expect(ctx.writer.get(f"/v1/{kind}/{fake_id}"), 404, rule=f"{kind}.get of the ignored client id")
        ctx.checked(3)

    run()
