"""What a client sees of a backend's state: every list, search and get the state shows in (for
comparing a state before and after saving, replaying or upgrading it)."""

from __future__ import annotations

from typing import Any

from mockserver.backend import DEFAULT_OWNER as OWNER
from mockserver.backend import Backend
from mockserver.backend.public_references import PUBLIC


def _stored(page: dict[str, Any], field: str, built_in: Any) -> dict[str, Any]:
    """A search page without the built-in public records (every server has them; not state)."""
    kept = [item for item in page.get(field, []) if item["id"] not in built_in]
    return {**page, field: kept} if kept else {k: v for k, v in page.items() if k != field}


def views(backend: Backend, tokens: Any = None, projects: tuple[str, ...] = ("p1",)) -> dict[str, Any]:
    b = backend
    out: dict[str, Any] = {}
    ids = []
    for project in projects:
        listed = b.datasets.list(OWNER, project, 1024, None).get("datasets", [])
        out[f"datasets {project}"] = listed
        ids += [d["id"] for d in listed]
    if ids:
        out["annotationSets"] = b.annotation_sets.search(OWNER, {"datasetIds": ids, "pageSize": 1024})
        sets = [s["id"] for s in out["annotationSets"].get("annotationSets", [])]
        if sets:
            out["annotations"] = b.annotations.search(OWNER, {"annotationSetIds": sets, "pageSize": 2048})
            out["annotationsChr1"] = b.annotations.search(
                OWNER, {"annotationSetIds": sets, "referenceName": "chr1", "start": "1", "end": "300"}
            )
        variant_sets = []
        for dataset_id in ids:
            found = b.variant_sets.search(OWNER, {"datasetIds": [dataset_id]}).get("variantSets", [])
            variant_sets += [v["id"] for v in found]
        out["variantSets"] = variant_sets
        out["variantSetRecords"] = [b.variant_sets.get(OWNER, v) for v in variant_sets]
        if variant_sets:
            out["callSets"] = b.call_sets.search(OWNER, {"variantSetIds": variant_sets})
            out["variants"] = {
                f"{v['id']} {bound['referenceName']}": b.variants.search(
                    OWNER, {"variantSetIds": [v["id"]], "referenceName": bound["referenceName"]}
                )
                for v in out["variantSetRecords"]
                for bound in v.get("referenceBounds", [])
            }
        out["readGroupSets"] = b.read_group_sets.search(OWNER, {"datasetIds": ids})
        rg = out["readGroupSets"].get("readGroupSets", [])
        out["reads"] = {s["id"]: b.reads.search(OWNER, {"readGroupSetIds": [s["id"]]}) for s in rg}
        out["readsByGroup"] = {
            g["id"]: b.reads.search(OWNER, {"readGroupIds": [g["id"]]}) for s in rg for g in s["readGroups"]
        }
        out["coverage"] = {s["id"]: b.coverage.list_buckets(OWNER, s["id"], target_bucket_width="2048")
                           for s in rg}
        out["policies"] = {d: b.dataset_policies.get_policy(OWNER, d) for d in ids}
    out["referenceSets"] = _stored(b.reference_sets.search(OWNER, {}), "referenceSets", PUBLIC.sets)
    out["references"] = _stored(b.references.search(OWNER, {}), "references", PUBLIC.references)
    out["bases"] = {r["id"]: b.references.bases(r["id"]) for r in out["references"].get("references", [])}
    out["operations"] = {project: b.operations.list(OWNER, f"projectId = {project}") for project in projects}
    out["iam"] = b.iam.snapshot()
    out["clock"] = b.clock.now().isoformat()
    if tokens is not None:
        out["tokens"] = tokens.snapshot()
    return out
