"""Model-based run: random API call sequences checked against a small reference model.

A Hypothesis ``RuleBasedStateMachine`` creates, reads, updates, deletes and
undeletes datasets, annotation sets and annotations (and searches them) in a
fresh project; after every step the server's lists and searches must equal
what the model predicts, and every call's status must be the one the model
predicts (soft-deleted datasets hide their contents, deleted sets take their
annotations with them, updates touch only the masked fields). A second
machine (:mod:`contracts.model_variants`) does the same for variants, call
sets and variant sets; it is skipped, with the reason, on a target without
variants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hypothesis
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from contracts.client import ContractViolation, expect
from contracts.core import MODEL_RUNS, Context, Suite
from contracts.model_variants import build_variants_machine

SUITE = Suite("model", "random call sequences agree with a reference model after every step")

names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
references = st.sampled_from(["chr1", "chr2", "chr10"])


@dataclass
class DatasetM:
    name: str
    deleted: bool = False


@dataclass
class SetM:
    dataset: str
    type: str
    name: str
    source_uri: str | None = None
    info: dict[str, Any] | None = None
    deleted: bool = False


@dataclass
class AnnotationM:
    set_id: str
    reference: str
    start: int
    end: int
    name: str
    info: dict[str, Any] | None = None
    deleted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def build_machine(ctx: Context) -> type[RuleBasedStateMachine]:
    api = ctx.writer

    class GenomicsModel(RuleBasedStateMachine):
        datasets = Bundle("datasets")
        sets = Bundle("sets")
        annotations = Bundle("annotations")

        def __init__(self) -> None:
            super().__init__()
            self.project = ctx.project
            self.ds: dict[str, DatasetM] = {}
            self.st: dict[str, SetM] = {}
            self.an: dict[str, AnnotationM] = {}

        # -- model queries ----------------------------------------------------------------

        def set_visible(self, set_id: str) -> bool:
            s = self.st[set_id]
            return not s.deleted and not self.ds[s.dataset].deleted

        def ann_visible(self, ann_id: str) -> bool:
            a = self.an[ann_id]
            return not a.deleted and self.set_visible(a.set_id)

        # -- fixed opening --------------------------------------------------------------
        # Every example starts from a dataset holding an annotation set and an annotation,
        # each already updated once with an updateMask narrower than the body. The random
        # rules then start from populated bundles, and the rules every server must keep
        # (a mask limits the update; contents follow their set) are exercised in every
        # example by construction, not by the luck of the draw.

        @initialize(target=sets)
        def opening(self) -> str:
            dataset = self.create_dataset("opening")
            set_id = self.create_set(dataset, "opening", "GENERIC")
            self.update_set(set_id, "renamed", "opening", "name", {"a": ["kept-out"]})
            self.update_set(set_id, "renamed", "opening", "sourceUri", {"b": ["kept-out"]})
            annotation = self.create_annotation(set_id, "chr1", 10, 5, "opening")
            self.update_annotation(annotation, "renamed", {"x": ["kept-out"]})
            return set_id

        # -- datasets ---------------------------------------------------------------------

        @rule(target=datasets, name=names)
        def create_dataset(self, name: str) -> str:
            body = expect(
                api.post("/v1/datasets", {"projectId": self.project, "name": name}),
                200,
                rule="datasets.create",
            )
            self.ds[body["id"]] = DatasetM(name)
            return body["id"]

        @rule(ds=datasets)
        def get_dataset(self, ds: str) -> None:
            r = api.get(f"/v1/datasets/{ds}")
            if self.ds[ds].deleted:
                expect(r, 404, rule="datasets.get of a deleted dataset")
            elif expect(r, 200, rule="datasets.get").get("name") != self.ds[ds].name:
                raise ContractViolation(
                    f"datasets.get: name {r.json().get('name')!r}, model {self.ds[ds].name!r}"
                )

        @rule(ds=datasets, name=names)
        def patch_dataset(self, ds: str, name: str) -> None:
            r = api.patch(f"/v1/datasets/{ds}", {"name": name, "projectId": "elsewhere"}, updateMask="name")
            if self.ds[ds].deleted:
                expect(r, 404, rule="datasets.patch of a deleted dataset")
                return
            got = expect(r, 200, rule="datasets.patch")
            self.ds[ds].name = name
            if got.get("name") != name or got.get("projectId") != self.project:
                raise ContractViolation(f"datasets.patch updateMask=name: got {got}")

        @rule(ds=datasets)
        def delete_dataset(self, ds: str) -> None:
            r = api.delete(f"/v1/datasets/{ds}")
            if self.ds[ds].deleted:
                expect(r, 404, rule="datasets.delete of a deleted dataset")
            else:
                expect(r, 200, rule="datasets.delete")
                self.ds[ds].deleted = True

        @rule(ds=datasets)
        def undelete_dataset(self, ds: str) -> None:
            r = api.post(f"/v1/datasets/{ds}:undelete", {})
            if self.ds[ds].deleted:
                expect(r, 200, rule="datasets.undelete of a deleted dataset")
                self.ds[ds].deleted = False
            else:
                expect(r, 400, 409, rule="datasets.undelete of a live dataset")

        # -- annotation sets --------------------------------------------------------------

        @rule(target=sets, ds=datasets, name=names, type_=st.sampled_from(["GENERIC", "GENE"]))
        def create_set(self, ds: str, name: str, type_: str) -> str:
            r = api.post(
                "/v1/annotationsets",
                {"datasetId": ds, "referenceSetId": ctx.reference_set_id, "name": name, "type": type_},
            )
            if self.ds[ds].deleted:
                expect(r, 404, rule="annotationsets.create in a deleted dataset")
                return "missing-set"
            body = expect(r, 200, rule="annotationsets.create")
            self.st[body["id"]] = SetM(ds, type_, name)
            return body["id"]

        @rule(
            s=sets,
            name=names,
            uri=names,
            mask=st.sampled_from(["name", "sourceUri", "name,sourceUri", "info"]),
            info=st.dictionaries(
                st.sampled_from(["a", "b"]), st.lists(names, min_size=1, max_size=2), max_size=1
            ),
        )
        def update_set(self, s: str, name: str, uri: str, mask: str, info: dict[str, Any]) -> None:
            if s not in self.st:
                return
            r = api.put(
                f"/v1/annotationsets/{s}",
                {"name": name, "sourceUri": f"gs://{uri}", "info": info},
                updateMask=mask,
            )
            if not self.set_visible(s):
                expect(r, 404, rule="annotationsets.update of an invisible set")
                return
            expect(r, 200, rule="annotationsets.update")
            m = self.st[s]
            fields = mask.split(",")
            if "name" in fields:
                m.name = name
            if "sourceUri" in fields:
                m.source_uri = f"gs://{uri}"
            if "info" in fields:
                m.info = info or None

        @rule(s=sets)
        def delete_set(self, s: str) -> None:
            if s not in self.st:
                return
            r = api.delete(f"/v1/annotationsets/{s}")
            if not self.set_visible(s):
                expect(r, 404, rule="annotationsets.delete of an invisible set")
                return
            expect(r, 200, rule="annotationsets.delete")
            self.st[s].deleted = True
            for a in self.an.values():
                if a.set_id == s:
                    a.deleted = True

        # -- annotations ------------------------------------------------------------------

        @rule(
            target=annotations,
            s=sets,
            ref=references,
            start=st.integers(0, 300),
            length=st.integers(0, 50),
            name=names,
        )
        def create_annotation(self, s: str, ref: str, start: int, length: int, name: str) -> str:
            if s not in self.st:
                return "missing-annotation"
            r = api.post(
                "/v1/annotations",
                {
                    "annotationSetId": s,
                    "referenceName": ref,
                    "start": str(start),
                    "end": str(start + length),
                    "name": name,
                },
            )
            if not self.set_visible(s):
                expect(r, 404, rule="annotations.create in an invisible set")
                return "missing-annotation"
            body = expect(r, 200, rule="annotations.create")
            self.an[body["id"]] = AnnotationM(s, ref, start, start + length, name)
            return body["id"]

        @rule(
            a=annotations,
            name=names,
            info=st.dictionaries(st.just("x"), st.lists(names, min_size=1), min_size=1, max_size=1),
        )
        def update_annotation(self, a: str, name: str, info: dict[str, Any]) -> None:
            if a not in self.an:
                return
            r = api.put(
                f"/v1/annotations/{a}", {"name": name, "info": info, "start": "999999"}, updateMask="name"
            )
            if not self.ann_visible(a):
                expect(r, 404, rule="annotations.update of an invisible annotation")
                return
            expect(r, 200, rule="annotations.update")
            self.an[a].name = name

        @rule(a=annotations)
        def get_annotation(self, a: str) -> None:
            if a not in self.an:
                return
            r = api.get(f"/v1/annotations/{a}")
            if not self.ann_visible(a):
                expect(r, 404, rule="annotations.get of an invisible annotation")
                return
            self.compare_annotation(expect(r, 200, rule="annotations.get"), "annotations.get")

        @rule(a=annotations)
        def delete_annotation(self, a: str) -> None:
            if a not in self.an:
                return
            r = api.delete(f"/v1/annotations/{a}")
            if not self.ann_visible(a):
                expect(r, 404, rule="annotations.delete of an invisible annotation")
                return
            expect(r, 200, rule="annotations.delete")
            self.an[a].deleted = True

        # -- comparison -------------------------------------------------------------------

        def compare_annotation(self, got: dict[str, Any], where: str) -> None:
            m = self.an.get(got.get("id", ""))
            if m is None:
                raise ContractViolation(f"{where}: unknown annotation {got.get('id')!r}")
            want = {
                "annotationSetId": m.set_id,
                "referenceName": m.reference,
                "start": m.start,
                "end": m.end,
                "name": m.name,
                "info": m.info,
            }
            seen = {
                "annotationSetId": got.get("annotationSetId"),
                "referenceName": got.get("referenceName"),
                "start": int(got.get("start", 0)),
                "end": int(got.get("end", 0)),
                "name": got.get("name"),
                "info": got.get("info") or None,
            }
            if seen != want:
                raise ContractViolation(f"{where}: server {seen} != model {want}")

        @invariant()
        def server_equals_model(self) -> None:
            ctx.checked()
            listed = expect(
                api.get("/v1/datasets", projectId=self.project, pageSize=1024), 200, rule="datasets.list"
            )
            got = {d["id"]: d.get("name") for d in listed.get("datasets", []) if d["id"] in self.ds}
            want = {i: d.name for i, d in self.ds.items() if not d.deleted}
            if got != want:
                raise ContractViolation(f"datasets.list: server {got} != model {want}")
            if not want:
                return
            found = expect(
                api.post("/v1/annotationsets/search", {"datasetIds": sorted(want), "pageSize": 1024}),
                200,
                rule="annotationsets.search",
            )
            got_sets = {
                s["id"]: (s.get("name"), s.get("sourceUri"), s.get("info") or None, s.get("type"))
                for s in found.get("annotationSets", [])
            }
            want_sets = {
                i: (s.name, s.source_uri, s.info, s.type) for i, s in self.st.items() if self.set_visible(i)
            }
            if got_sets != want_sets:
                raise ContractViolation(f"annotationsets.search: server {got_sets} != model {want_sets}")
            for type_ in ("GENERIC", "GENE"):
                ids = sorted(i for i, s in want_sets.items() if s[3] == type_)
                if not ids:
                    continue
                body = expect(
                    api.post("/v1/annotations/search", {"annotationSetIds": ids, "pageSize": 2048}),
                    200,
                    rule="annotations.search",
                )
                items = body.get("annotations", [])
                expected = {i for i, a in self.an.items() if self.ann_visible(i) and a.set_id in ids}
                if {a["id"] for a in items} != expected:
                    raise ContractViolation(
                        f"annotations.search {ids}: server {sorted(a['id'] for a in items)} "
                        f"!= model {sorted(expected)}"
                    )
                for item in items:
                    self.compare_annotation(item, "annotations.search")

        def teardown(self) -> None:
            ctx.teardown_example()
            for ds, m in self.ds.items():
                if not m.deleted:
                    api.delete(f"/v1/datasets/{ds}")

    return GenomicsModel


@SUITE.check
def model_based_run(ctx: Context) -> None:
    """Random create/get/update/delete/undelete/search sequences match the reference model."""
    ctx.covers(
        "genomics.datasets.create",
        "genomics.datasets.get",
        "genomics.datasets.patch",
        "genomics.datasets.delete",
        "genomics.datasets.undelete",
        "genomics.datasets.list",
        "genomics.annotationsets.create",
        "genomics.annotationsets.update",
        "genomics.annotationsets.delete",
        "genomics.annotationsets.search",
        "genomics.annotations.create",
        "genomics.annotations.update",
        "genomics.annotations.get",
        "genomics.annotations.delete",
        "genomics.annotations.search",
    )
    run_machine(ctx, build_machine(ctx))


def run_machine(ctx: Context, machine: type[RuleBasedStateMachine]) -> None:
    """Run a state machine with the profile's examples and steps and the run's seed."""
    examples, steps = MODEL_RUNS[ctx.target.profile]

    def factory() -> RuleBasedStateMachine:
        ctx.case_started()  # per example: bookkeeping, and the shrink budget
        return machine()

    settings = ctx.settings(examples, stateful_step_count=steps)
    if ctx.target.seed is not None:
        factory = hypothesis.seed(ctx.target.seed)(factory)
    run_state_machine_as_test(factory, settings=settings)


@SUITE.check
def variants_model_run(ctx: Context) -> None:
    """Random variant, call set and variant set histories (create, get, masked patch, merge,
    delete; a dataset's delete and undelete) match the reference model. Skipped on a target
    without variants."""
    ctx.require_variants()
    ctx.covers(
        "genomics.variants.create",
        "genomics.variants.get",
        "genomics.variants.patch",
        "genomics.variants.delete",
        "genomics.variants.search",
        "genomics.variants.merge",
        "genomics.callsets.create",
        "genomics.callsets.delete",
        "genomics.variantsets.create",
        "genomics.variantsets.delete",
        "genomics.datasets.delete",
        "genomics.datasets.undelete",
    )
    run_machine(ctx, build_variants_machine(ctx))
