"""The model suite's variants machine: variant histories checked against a small reference model.

Random sequences of variant creates, gets, patches (``updateMask``), deletes and merges, call
set creates and deletes, variant set deletes and a dataset's delete and undelete; after every
step each visible variant set's ``variants.search`` must hold exactly the variants the model
holds, each with the calls the model predicts. The machine's opening walks the rules that
must be reached on every run, whatever the draw: a masked patch, a call set's deletion taking
its calls out of a variant, a dataset's soft delete hiding its variants and the undelete
bringing them back unchanged. :func:`contracts.model.variants_model_run` runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from contracts.client import ContractViolation, expect
from contracts.core import Context, variant_body

names = st.text(alphabet="abcdefghij", min_size=1, max_size=6)
REFERENCES = ("chr1", "chr2")


@dataclass
class VariantM:
    set_id: str
    reference: str
    start: int
    end: int
    names: list[str]
    #: call set id -> genotype
    calls: dict[str, list[int]]
    deleted: bool = False


def build_variants_machine(ctx: Context) -> type[RuleBasedStateMachine]:
    api = ctx.writer

    class VariantsModel(RuleBasedStateMachine):
        variant_sets = Bundle("variant_sets")
        call_sets = Bundle("call_sets")
        variants = Bundle("variants")

        def __init__(self) -> None:
            super().__init__()
            self.dataset = ctx.new_dataset("model-variants")
            self.dataset_deleted = False
            self.sets: dict[str, bool] = {}  # variant set id -> deleted
            self.cs: dict[str, tuple[str, bool]] = {}  # call set id -> (variant set id, deleted)
            self.vs: dict[str, VariantM] = {}

        # -- model queries ----------------------------------------------------------------

        def set_visible(self, set_id: str) -> bool:
            return not self.dataset_deleted and not self.sets[set_id]

        def visible(self, variant_id: str) -> bool:
            v = self.vs[variant_id]
            return not v.deleted and self.set_visible(v.set_id)

        def live_call_sets(self, set_id: str) -> list[str]:
            return sorted(c for c, (owner, deleted) in self.cs.items() if owner == set_id and not deleted)

        # -- the opening: what every run reaches -----------------------------------------

        @initialize(target=variant_sets)
        def opening(self) -> str:
            """A set with three call sets and a variant calling all three; its names patched with
            a mask narrower than the body; one call set deleted (its call must leave the
            variant); the dataset deleted (the variant is hidden) and undeleted (it is back,
            unchanged)."""
            set_id, call_sets = ctx.new_variant_set(self.dataset, call_sets=3)
            self.sets[set_id] = False
            for call_set in call_sets:
                self.cs[call_set] = (set_id, False)
            variant = self.create_variant(set_id, "chr1", 10, 3, call_sets)
            self.patch_variant(variant, ["rs1"])
            self.delete_call_set(call_sets[2])
            self.get_variant(variant)
            self.delete_or_undelete_dataset()
            self.get_variant(variant)
            self.search_hidden_set(set_id)
            self.delete_or_undelete_dataset()
            self.get_variant(variant)
            return set_id

        def search_hidden_set(self, set_id: str) -> None:
            """A search naming a set of a deleted dataset finds no set to search."""
            query = {"variantSetIds": [set_id], "referenceName": "chr1"}
            expect(
                api.post("/v1/variants/search", query), 404, rule="variants.search of a hidden variant set"
            )
            ctx.checked()

        # -- rules ------------------------------------------------------------------------

        @rule(target=variant_sets)
        def create_variant_set(self) -> str:
            body = {"datasetId": self.dataset, "referenceSetId": ctx.reference_set_id}
            r = api.post("/v1/variantsets", body)
            if self.dataset_deleted:
                expect(r, 404, rule="variantsets.create in a deleted dataset")
                return "missing-set"
            set_id = expect(r, 200, rule="variantsets.create")["id"]
            self.sets[set_id] = False
            return set_id

        @rule(target=call_sets, s=variant_sets)
        def create_call_set(self, s: str) -> str:
            if s not in self.sets:
                return "missing-call-set"
            r = api.post("/v1/callsets", {"variantSetIds": [s], "name": "sample"})
            if not self.set_visible(s):
                expect(r, 404, rule="callsets.create in an invisible variant set")
                return "missing-call-set"
            call_set = expect(r, 200, rule="callsets.create")["id"]
            self.cs[call_set] = (s, False)
            return call_set

        @rule(
            target=variants,
            s=variant_sets,
            ref=st.sampled_from(REFERENCES),
            start=st.integers(0, 60),
            length=st.integers(1, 8),
            holders=st.integers(0, 3),
        )
        def create_variant_rule(self, s: str, ref: str, start: int, length: int, holders: int) -> str:
            if s not in self.sets:
                return "missing-variant"
            mine = self.live_call_sets(s)
            return self.create_variant(s, ref, start, length, mine[: holders % (len(mine) + 1)])

        def create_variant(self, s: str, ref: str, start: int, length: int, holders: list[str]) -> str:
            body = variant_body(s, ref, start, start + length, {c: [0, 1] for c in holders})
            r = api.post("/v1/variants", body)
            if not self.set_visible(s):
                expect(r, 404, rule="variants.create in an invisible variant set")
                return "missing-variant"
            variant_id = expect(r, 200, rule="variants.create")["id"]
            self.vs[variant_id] = VariantM(s, ref, start, start + length, [], {c: [0, 1] for c in holders})
            return variant_id

        @rule(v=variants, new_names=st.lists(names, max_size=2))
        def patch_variant(self, v: str, new_names: list[str]) -> None:
            """updateMask=names: the start and info in the body must be left alone."""
            if v not in self.vs:
                return
            body = {"names": new_names, "start": "99999", "info": {"kept": ["out"]}}
            r = api.patch(f"/v1/variants/{v}", body, updateMask="names")
            if not self.visible(v):
                expect(r, 404, rule="variants.patch of an invisible variant")
                return
            got = expect(r, 200, rule="variants.patch")
            self.vs[v].names = list(new_names)
            if got.get("start") != str(self.vs[v].start) or got.get("info"):
                raise ContractViolation(f"variants.patch updateMask=names changed other fields: {got}")
            if got.get("names", []) != new_names:
                raise ContractViolation(
                    f"variants.patch updateMask=names: names {got.get('names')} != {new_names}"
                )
            ctx.checked()

        @rule(v=variants)
        def get_variant(self, v: str) -> None:
            if v not in self.vs:
                return
            r = api.get(f"/v1/variants/{v}")
            if not self.visible(v):
                expect(r, 404, rule="variants.get of an invisible variant")
            else:
                self.compare(expect(r, 200, rule="variants.get"), "variants.get")
            ctx.checked()

        @rule(v=variants)
        def delete_variant(self, v: str) -> None:
            if v not in self.vs:
                return
            r = api.delete(f"/v1/variants/{v}")
            if not self.visible(v):
                expect(r, 404, rule="variants.delete of an invisible variant")
                return
            expect(r, 200, rule="variants.delete")
            self.vs[v].deleted = True

        @rule(v=variants, genotype=st.sampled_from([[1, 1], [0, 0], [-1, 1]]))
        def merge_call(self, v: str, genotype: list[int]) -> None:
            """Merge the variant again with one call: it replaces that call set's call, or joins.
            Sent only when the model holds exactly one live variant with those coordinates in
            the set (which of several equal variants a merge picks is the server's choice)."""
            if v not in self.vs:
                return
            m = self.vs[v]
            mine = self.live_call_sets(m.set_id)
            twins = [
                i
                for i, o in self.vs.items()
                if not o.deleted
                and (o.set_id, o.reference, o.start, o.end) == (m.set_id, m.reference, m.start, m.end)
            ]
            if not mine or twins != [v]:
                return
            call_set = mine[len(m.calls) % len(mine)]
            variant = variant_body(m.set_id, m.reference, m.start, m.end, {call_set: genotype})
            r = api.post("/v1/variants:merge", {"variantSetId": m.set_id, "variants": [variant]})
            if not self.set_visible(m.set_id):
                expect(r, 404, rule="variants.merge into an invisible variant set")
                return
            expect(r, 200, rule="variants.merge")
            m.calls[call_set] = genotype

        @rule(c=call_sets)
        def delete_call_set(self, c: str) -> None:
            if c not in self.cs:
                return
            owner, deleted = self.cs[c]
            r = api.delete(f"/v1/callsets/{c}")
            if deleted or not self.set_visible(owner):
                expect(r, 404, rule="callsets.delete of an invisible call set")
                return
            expect(r, 200, rule="callsets.delete")
            self.cs[c] = (owner, True)
            for m in self.vs.values():
                m.calls.pop(c, None)

        @rule(s=variant_sets)
        def delete_variant_set(self, s: str) -> None:
            if s not in self.sets:
                return
            r = api.delete(f"/v1/variantsets/{s}")
            if not self.set_visible(s):
                expect(r, 404, rule="variantsets.delete of an invisible set")
                return
            expect(r, 200, rule="variantsets.delete")
            self.sets[s] = True

        @rule()
        def delete_or_undelete_dataset(self) -> None:
            if self.dataset_deleted:
                expect(api.post(f"/v1/datasets/{self.dataset}:undelete", {}), 200, rule="datasets.undelete")
            else:
                expect(api.delete(f"/v1/datasets/{self.dataset}"), 200, rule="datasets.delete")
            self.dataset_deleted = not self.dataset_deleted

        # -- comparisons ------------------------------------------------------------------

        def compare(self, got: dict[str, Any], where: str) -> None:
            m = self.vs.get(got.get("id", ""))
            if m is None:
                raise ContractViolation(f"{where}: a variant the model never made: {got.get('id')!r}")
            seen = (
                got.get("variantSetId"),
                got.get("referenceName"),
                int(got.get("start", 0)),
                int(got.get("end", 0)),
                got.get("names", []),
                {c.get("callSetId"): c.get("genotype", []) for c in got.get("calls", [])},
            )
            want = (m.set_id, m.reference, m.start, m.end, m.names, m.calls)
            if seen != want:
                raise ContractViolation(f"{where}: server {seen} != model {want}")

        @invariant()
        def searches_equal_the_model(self) -> None:
            for set_id in self.sets:
                if not self.set_visible(set_id):
                    continue
                for reference in REFERENCES:
                    query = {"variantSetIds": [set_id], "referenceName": reference, "pageSize": 10000}
                    found = expect(api.post("/v1/variants/search", query), 200, rule="variants.search")
                    items = found.get("variants", [])
                    want = {
                        i
                        for i, m in self.vs.items()
                        if m.set_id == set_id and m.reference == reference and self.visible(i)
                    }
                    if {v.get("id") for v in items} != want:
                        raise ContractViolation(
                            f"variants.search {set_id} {reference}: server "
                            f"{sorted(v.get('id') for v in items)} != model {sorted(want)}"
                        )
                    for item in items:
                        self.compare(item, "variants.search")
            ctx.checked()

        def teardown(self) -> None:
            ctx.teardown_example()
            if self.dataset_deleted:
                api.post(f"/v1/datasets/{self.dataset}:undelete", {})
            api.delete(f"/v1/datasets/{self.dataset}")

    return VariantsModel
