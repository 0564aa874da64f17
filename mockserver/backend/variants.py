"""Variants: create/get/patch/delete, search, merge and VCF import (:mod:`.variant_import`).

A variant belongs to a variant set and is visible while the set is (and so while the set's
dataset is live); permissions are checked on that dataset. Storage is
:mod:`.variant_store` (one store per variant set); ids are ``<variantSetId>_<n>``.

Search (``variants.search``) takes ``variantSetIds`` (at most one) or ``callSetIds`` (their
variant sets are searched), ``referenceName`` (required) and a window ``[start, end)``
(``end`` unset or 0: to the end of the reference). A variant overlaps the window when
``start < end`` of the window and its ``end`` is past the window's start. Results are
ordered by ``(start, variantSetId, n)`` — position, then a stable key — and cut by
``pageSize`` and by ``maxCalls`` (a page stops before the variant whose calls would take it
past ``maxCalls``, but always holds one variant). With ``callSetIds`` only those calls are
returned, and variants holding none of them are left out.

Decisions where the documentation is silent (tested):

* ``variants.patch`` returns the variant without its calls (as documented) and changes only
  ``names`` and ``info``;
* ``variants.merge`` matches on (reference, start, end, reference bases, alternate bases);
  the merged calls and info follow :func:`~.variant_store.merge_variant`; each variant of the
  request is checked before any is stored (a 400 names ``variants[i].<field>``);
* a variant of a call set that is deleted loses that call (the variant stays).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockserver.backend.base import Component, Kind, Updates, synchronized
from mockserver.backend.clock import epoch_millis
from mockserver.backend.operations import Job
from mockserver.backend.paging import Budget, Listing, page_size_for
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import (
    optional_int64,
    optional_str,
    request_body,
    required_str,
    string_list,
)
from mockserver.backend.tables import TableSpec, flag
from mockserver.backend.variant_import import IMPORT_REQUEST_TYPE, ImportPlan, checked_merge_config
from mockserver.backend.variant_store import (
    Item,
    Journal,
    VariantStore,
    dump_loose,
    dump_segment,
    key_parts,
    load_call_set_owner,
    load_loose,
    load_segment,
    merge_variant,
    move_to_calls,
    variant_id,
)
from mockserver.backend.variant_validation import checked_variant
from mockserver.backend.variantsets import validate_info
from mockserver.errors import invalid_argument

#: items are (start, variant set id, seq, rendered variant)
SEARCH = Listing("variants.search", "variants", key=lambda item: [item[0], item[1], item[2]])
IMPORT_FORMATS = ("FORMAT_UNSPECIFIED", "FORMAT_VCF", "FORMAT_COMPLETE_GENOMICS")
#: a sequence number larger than any stored
_LAST = 2**63


@dataclass
class VariantHandle:
    """A found variant: its set, that set's store, and where it is in the store."""

    set_id: str
    store: VariantStore
    item: Item


class Variants(Component):
    kind = Kind("Variant", "variantId", "genomics.variants", parent="variant_sets")
    updates = Updates("variants.patch", ("names", "info"))
    #: the saved state (:mod:`.variant_store`); every key but removedCalls' is a variant id
    tables = (
        TableSpec("segments", load_segment, dump_segment),
        TableSpec("variants", load_loose, dump_loose),
        TableSpec("dropped", flag),
        TableSpec("removedCalls", load_call_set_owner),
    )
    #: the per-set stores are indexes over the tables; no records table (``_records`` stays empty)
    derived = Component.derived | {"_stores", "_records"}

    def reset(self) -> None:
        super().reset()
        self._segments = self.table("segments")
        self._loose = self.table("variants")
        self._dropped = self.table("dropped")
        self._removed = self.table("removedCalls")
        #: variant set id -> its variants (an index over the tables)
        self._stores: dict[str, VariantStore] = {}

    def after_restore(self) -> None:
        """Every variant set's store, rebuilt from the tables."""
        parts: dict[str, tuple[list, list, list, list]] = {}

        def of(set_id: str) -> tuple[list, list, list, list]:
            return parts.setdefault(set_id, ([], [], [], []))

        for key, segment in self._segments.items():
            of(key_parts(key)[0])[0].append(segment)
        for key, record in self._loose.items():
            of(key_parts(key)[0])[1].append(record)
        for key in self._dropped:
            set_id, seq = key_parts(key)
            of(set_id)[2].append(seq)
        for call_set_id, set_id in self._removed.items():
            of(set_id)[3].append(call_set_id)
        for set_id, (segments, loose, dropped, removed) in parts.items():
            self.store(set_id).attach(segments, loose, dropped, removed)

    # -- what other components call ---------------------------------------------------

    def store(self, set_id: str) -> VariantStore:
        """The variants of a variant set (an empty store made on first use)."""
        store = self._stores.get(set_id)
        if store is None:
            journal = Journal(set_id, self._segments, self._loose, self._dropped, self._removed)
            store = self._stores[set_id] = VariantStore(journal)
        return store

    def drop_variant_set(self, set_id: str) -> None:
        """Forget every variant of a deleted variant set (irreversible)."""
        store = self._stores.pop(set_id, None)
        if store is not None and store.journal is not None:
            store.journal.forget_all(store)

    def drop_call_set(self, set_id: str, call_set_id: str) -> None:
        """A deleted call set's calls leave every variant of its set."""
        store = self._stores.get(set_id)
        if store is not None:
            store.remove_call_set(call_set_id)

    def reference_bounds(self, set_id: str) -> list[dict[str, str]]:
        store = self._stores.get(set_id)
        return store.upper_bounds() if store is not None else []

    def view(self, set_id: str) -> VariantStore:
        """A copy of a set's variants for work off the lock (:meth:`VariantStore.view`)."""
        return self.store(set_id).view()

    # -- ids and the steps Component shares -------------------------------------------

    def find(self, item_id: Any) -> VariantHandle | None:
        if not isinstance(item_id, str):
            return None
        set_id, sep, number = item_id.rpartition("_")
        if not sep or not number.isascii() or not number.isdigit() or str(int(number)) != number:
            return None
        store = self._stores.get(set_id)
        item = store.find(int(number)) if store is not None else None
        if item is None:
            return None
        handle = VariantHandle(set_id, store, item)  # type: ignore[arg-type]
        return handle if self.visible(handle) else None

    def id_of(self, record: VariantHandle) -> str:
        return variant_id(record.set_id, record.item[1])

    def parent_id(self, record: VariantHandle) -> str:
        return record.set_id

    def render(self, record: VariantHandle) -> dict[str, Any]:
        return self._ids(record.set_id, record.item[1], record.store.render(record.item))

    def _ids(self, set_id: str, seq: int, fields: dict[str, Any]) -> dict[str, Any]:
        """A stored variant's fields as the API shows them: ids first, call set names filled in."""
        name_of = self.backend.call_sets.name_of
        for call in fields.get("calls", ()):
            name = name_of(call["callSetId"])
            if name:
                call["callSetName"] = name
        return {"id": variant_id(set_id, seq), "variantSetId": set_id, **fields}

    # -- create / patch / delete ------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        set_id = self._writable_set(principal, body.get("variantSetId"), "variantSetId")
        reference, start, end, fields = self._checked(set_id, body)
        fields["created"] = str(epoch_millis(self.clock.now()))
        store = self.store(set_id)
        record = store.add_loose(reference, start, end, fields)
        return self.render(VariantHandle(set_id, store, (start, record.seq, None, record)))

    #: variants.patch is the standard update (names, info); the answer leaves out the calls
    @synchronized
    def patch(
        self, principal: Principal, item_id: str, body: dict[str, Any] | None, update_mask: str | None = None
    ) -> dict[str, Any]:
        variant = self.update(principal, item_id, body, update_mask)
        variant.pop("calls", None)
        return variant

    def changes(self, record: VariantHandle, body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if "names" in fields:
            values["names"] = string_list(body.get("names"), "names")
        if "info" in fields:
            values["info"] = validate_info(body.get("info"))
        return values

    def apply_changes(self, record: VariantHandle, values: dict[str, Any], fields: list[str]) -> None:
        loose = record.store.materialize(record.item)
        for field in fields:
            if values.get(field):
                loose.data[field] = values[field]
            else:
                loose.data.pop(field, None)
        record.item = (loose.start, loose.seq, None, loose)

    def stored(self, record: VariantHandle) -> None:
        record.store.saved(record.item)

    def remove(self, record: VariantHandle) -> None:
        record.store.delete(record.item)

    # -- search -----------------------------------------------------------------------

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        set_ids = sorted(set(string_list(body.get("variantSetIds"), "variantSetIds")))
        call_set_ids = sorted(set(string_list(body.get("callSetIds"), "callSetIds")))
        if len(set_ids) > 1:
            raise invalid_argument(
                f"variantSetIds: at most one variant set may be searched (got {len(set_ids)})"
            )
        if not set_ids and not call_set_ids:
            raise invalid_argument("variantSetIds or callSetIds is required")
        reference = required_str(body, "referenceName")
        start = optional_int64(body.get("start"), "start") or 0
        end = optional_int64(body.get("end"), "end") or None
        if start < 0:
            raise invalid_argument(f"start must not be negative (got {start})")
        if end is not None and end <= start:
            raise invalid_argument(f"end ({end}) must be greater than start ({start})")
        name = optional_str(body.get("variantName"), "variantName") or None
        page_size = SEARCH.page_size(body.get("pageSize"))
        budget = Budget(
            page_size_for(SEARCH.method, body.get("maxCalls"), field="maxCalls"),
            lambda item: len(item[3].get("calls", ())),
        )
        set_ids = self._searched_sets(principal, set_ids, call_set_ids)
        wanted = set(call_set_ids) or None
        query = {
            "variantSetIds": set_ids,
            "callSetIds": call_set_ids,
            "referenceName": reference,
            "start": start,
            "end": end,
            "variantName": name,
        }

        def stream(cursor: list[Any] | None) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
            streams = [self._set_stream(s, reference, start, end, name, wanted, cursor) for s in set_ids]
            return (
                streams[0] if len(streams) == 1 else heapq.merge(*streams, key=lambda i: (i[0], i[1], i[2]))
            )

        return self.backend.pager.respond(
            SEARCH,
            query,
            page_size=page_size,
            page_token=body.get("pageToken"),
            stream=stream,
            render=lambda item: item[3],
            budget=budget,
        )

    def _searched_sets(self, principal: Principal, set_ids: list[str], call_set_ids: list[str]) -> list[str]:
        """The variant sets a search reads, each authorized (genomics.variants.list)."""
        permission = "genomics.variants.list"
        if set_ids:
            self.backend.variant_sets.require_all(principal, permission, set_ids, field="variantSetIds")
        call_sets = self.backend.call_sets
        records = call_sets.require_all(principal, permission, call_set_ids, field="callSetIds")
        owners = sorted({call_sets.parent_id(record) for record in records})
        if set_ids and any(owner not in set_ids for owner in owners):
            stray = next(r["id"] for r in records if call_sets.parent_id(r) not in set_ids)
            raise invalid_argument(f"callSetIds: {stray!r} is not a call set of variant set {set_ids[0]!r}")
        return set_ids or owners

    def _set_stream(
        self,
        set_id: str,
        reference: str,
        start: int,
        end: int | None,
        name: str | None,
        wanted: set[str] | None,
        cursor: list[Any] | None,
    ) -> Iterator[tuple[int, str, int, dict[str, Any]]]:
        store = self._stores.get(set_id)
        if store is None:
            return
        after: tuple[int, int] | None = None
        if cursor is not None:
            c_start, c_set, c_seq = cursor
            after = (c_start, c_seq if set_id == c_set else (_LAST if set_id < c_set else -1))
        keep = None
        segments = None
        if wanted is not None:
            removed = store.removed_calls
            keep = lambda call_set_id: call_set_id in wanted and call_set_id not in removed  # noqa: E731
            segments = lambda segment: any(keep(c) for c in segment.source.call_set_ids)  # noqa: E731
        for item in store.stream(reference, start, end, after, segments=segments, name=name):
            fields = store.render(item, keep)
            if wanted is not None and not fields.get("calls"):
                continue
            yield (item[0], set_id, item[1], self._ids(set_id, item[1], fields))

    # -- merge ------------------------------------------------------------------------

    @synchronized
    def merge(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        set_id = self._writable_set(principal, body.get("variantSetId"), "variantSetId")
        config = checked_merge_config(body.get("infoMergeConfig"))
        variants = body.get("variants")
        if not isinstance(variants, list) or not all(isinstance(v, dict) for v in variants):
            raise invalid_argument("variants must be a list of Variant objects")
        checked = []
        for i, variant in enumerate(variants):
            if variant.get("variantSetId") not in (None, "", set_id):
                raise invalid_argument(
                    f"variants[{i}].variantSetId must be the request's variantSetId or unset"
                )
            checked.append(self._checked(set_id, variant, where=f"variants[{i}]."))
        created = str(epoch_millis(self.clock.now()))
        store = self.store(set_id)
        for reference, start, end, fields in checked:
            self.merge_one(store, reference, start, end, {**fields, "created": created}, config)
        return {}

    def merge_one(
        self,
        store: VariantStore,
        reference: str,
        start: int,
        end: int,
        fields: dict[str, Any],
        config: dict[str, str],
    ) -> None:
        """Merge one variant into the set's matching variant, or store it as a new one."""
        move_to_calls(fields, config)
        alleles = (fields.get("referenceBases", ""), tuple(fields.get("alternateBases", ())))
        match = store.matching(reference, start, end, *alleles)
        if match is None:
            store.add_loose(reference, start, end, fields)
        else:
            existing = store.materialize(match)
            merge_variant(existing.data, fields, config)
            store.saved((existing.start, existing.seq, None, existing))

    # -- import -----------------------------------------------------------------------

    @synchronized
    def import_(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        set_id = self._writable_set(principal, body.get("variantSetId"), "variantSetId")
        uris = string_list(body.get("sourceUris"), "sourceUris")
        if not uris:
            raise invalid_argument("sourceUris is required (a list of gs:// URIs)")
        for uri in uris:
            self.backend.storage.split(uri, field="sourceUris")
            if "**" in uri:
                raise invalid_argument(f"sourceUris: {uri!r}: recursive wildcards (**) are not supported")
        form = body.get("format") or "FORMAT_VCF"
        if form not in IMPORT_FORMATS:
            raise invalid_argument(f"format must be one of {', '.join(IMPORT_FORMATS)} (got {form!r})")
        if form == "FORMAT_COMPLETE_GENOMICS":
            raise invalid_argument(
                "format: FORMAT_COMPLETE_GENOMICS (masterVarBeta) is not supported by "
                "genomics-mock; import VCF or BCF files"
            )
        normalize = body.get("normalizeReferenceNames", False)
        if not isinstance(normalize, bool):
            raise invalid_argument("normalizeReferenceNames must be a boolean")
        config = checked_merge_config(body.get("infoMergeConfig"))
        plan = ImportPlan(self.backend, set_id, uris, normalize, config, self.reference_lengths(set_id))
        request = {"@type": IMPORT_REQUEST_TYPE, **{k: v for k, v in body.items() if k != "@type"}}
        job = Job(plan.prepare, plan.commit, started="Reading VCF files", finished="Variants imported")
        dataset = self.backend.datasets.require(self.backend.variant_sets.require(set_id)["datasetId"])
        return self.backend.operations.start(dataset["projectId"], request, job)

    # -- shared checks ----------------------------------------------------------------

    def _writable_set(self, principal: Principal, set_id: Any, field: str) -> str:
        """The id of a variant set the caller may add variants to (genomics.variants.create)."""
        if not isinstance(set_id, str) or not set_id:
            raise invalid_argument(f"{field} is required")
        variant_sets = self.backend.variant_sets
        variant_sets.authorize(
            principal, "genomics.variants.create", variant_sets.require(set_id, field=field), field=field
        )
        return set_id

    def reference_lengths(self, set_id: str) -> dict[str, int] | None:
        """The references a variant set's variants may be on (None: any; the set's reference
        set is unknown to the mock)."""
        reference_set_id = self.backend.variant_sets.require(set_id).get("referenceSetId")
        return self.backend.reference_sets.lengths(reference_set_id) if reference_set_id else None

    def _checked(
        self, set_id: str, body: dict[str, Any], where: str = ""
    ) -> tuple[str, int, int, dict[str, Any]]:
        call_sets = self.backend.call_sets
        return checked_variant(
            body,
            is_call_set=lambda call_set_id: call_sets.set_of(call_set_id) == set_id,
            lengths=self.reference_lengths(set_id),
            where=where,
        )
