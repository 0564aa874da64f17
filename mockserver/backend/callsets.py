"""Call sets: one sample's calls, inside exactly one variant set.

A call set is visible only while its variant set exists and that set's
dataset is live; deleting the variant set deletes its call sets for good.
Permissions are checked on the dataset of the call set's variant set.

Decisions where the documentation is silent (tested):

* ``SearchCallSets.name`` is a case-sensitive substring match (the doc says
  "a substring of the name matches", unlike the annotation set search, which
  says case-insensitive); an empty name matches every call set;
* ``pageSize`` has no documented maximum: larger values are accepted and
  silently capped at :data:`SEARCH_PAGE_CAP`;
* search order is by call set id across all the variant sets queried (a
  total order independent of page size); a search naming a variant set twice
  is the same query as naming it once;
* ``created`` is set once, from the backend clock, and ignored on input;
  ``variantSetIds`` cannot change after create.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.clock import epoch_millis
from mockserver.backend.fieldmask import apply_mask, parse_update_mask
from mockserver.backend.iam import Principal
from mockserver.backend.paging import body_page_size, merged_after
from mockserver.backend.request_fields import optional_str, request_body
from mockserver.backend.variantsets import validate_info
from mockserver.errors import ApiError, invalid_argument, not_found

SEARCH_DEFAULT_PAGE_SIZE = 1024
SEARCH_PAGE_CAP = 1024
MUTABLE_FIELDS = ("name",)


class CallSets(Component):
    def reset(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        #: variantSetId -> ids of its call sets, in search order
        self._by_variant_set: dict[str, SortedList] = {}

    # -- helpers other components use -------------------------------------------------

    def drop_variant_set(self, variant_set_id: str) -> None:
        """Forget every call set of a deleted variant set (irreversible)."""
        for call_set_id in self._by_variant_set.pop(variant_set_id, ()):
            del self._records[call_set_id]

    def _require_live(self, call_set_id: Any) -> tuple[dict[str, Any], str]:
        """(record, datasetId) of a visible call set, or 404 naming the id."""
        record = self._records.get(call_set_id) if isinstance(call_set_id, str) else None
        variant_set = self.backend.variant_sets.find_live(record["variantSetIds"][0]) if record else None
        if record is None or variant_set is None:
            raise _call_set_not_found(call_set_id)
        return record, variant_set["datasetId"]

    def _authorize(self, principal: Principal, permission: str, call_set_id: str, dataset_id: str) -> None:
        """Check on the dataset; a caller who may not see it gets this call set's 404."""
        resource = f"datasets/{dataset_id}"
        self.backend.iam.authorize(principal, permission, resource, hidden=_call_set_not_found(call_set_id))

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        variant_set_ids = body.get("variantSetIds")
        if not isinstance(variant_set_ids, list) or len(variant_set_ids) != 1:
            count = len(variant_set_ids) if isinstance(variant_set_ids, list) else 0
            raise invalid_argument(f"variantSetIds must hold exactly one variant set id (got {count})")
        variant_set_id = variant_set_ids[0]
        if not isinstance(variant_set_id, str) or not variant_set_id:
            raise invalid_argument("variantSetIds[0] must be a non-empty variant set id")
        variant_set = self.backend.variant_sets.require_live(variant_set_id, field="variantSetIds")
        self.backend.variant_sets.authorize(
            principal, "genomics.callSets.create", variant_set, field="variantSetIds"
        )
        fields = {
            "name": optional_str(body.get("name"), "name"),
            "sampleId": optional_str(body.get("sampleId"), "sampleId"),
            "info": validate_info(body.get("info")),
        }
        call_set_id = self.backend.ids.new("CS")
        record = compact(
            {
                "id": call_set_id,
                "variantSetIds": [variant_set_id],
                "created": str(epoch_millis(self.clock.now())),
                **fields,
            }
        )
        self._records[call_set_id] = record
        self._by_variant_set.setdefault(variant_set_id, SortedList()).add(call_set_id)
        return public(record)

    @synchronized
    def get(self, principal: Principal, call_set_id: str) -> dict[str, Any]:
        record, dataset_id = self._require_live(call_set_id)
        self._authorize(principal, "genomics.callSets.get", call_set_id, dataset_id)
        return public(record)

    @synchronized
    def patch(
        self,
        principal: Principal,
        call_set_id: str,
        body: dict[str, Any] | None,
        update_mask: str | None = None,
    ) -> dict[str, Any]:
        record, dataset_id = self._require_live(call_set_id)
        self._authorize(principal, "genomics.callSets.update", call_set_id, dataset_id)
        body = request_body(body)
        fields = parse_update_mask(update_mask, MUTABLE_FIELDS, method="callsets.patch")
        apply_mask(record, {"name": optional_str(body.get("name"), "name")}, fields)
        return public(record)

    @synchronized
    def delete(self, principal: Principal, call_set_id: str) -> dict[str, Any]:
        record, dataset_id = self._require_live(call_set_id)
        self._authorize(principal, "genomics.callSets.delete", call_set_id, dataset_id)
        del self._records[call_set_id]
        self._by_variant_set[record["variantSetIds"][0]].discard(call_set_id)
        return {}

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        requested = body.get("variantSetIds")
        if not isinstance(requested, list) or not requested:
            raise invalid_argument("variantSetIds is required (at least one variant set id)")
        if not all(isinstance(item, str) and item for item in requested):
            raise invalid_argument("variantSetIds must hold non-empty variant set ids")
        variant_set_ids = sorted(set(requested))
        variant_sets = self.backend.variant_sets
        for vs_id in variant_set_ids:
            variant_set = variant_sets.require_live(vs_id, field="variantSetIds")
            variant_sets.authorize(principal, "genomics.callSets.list", variant_set, field="variantSetIds")
        name = optional_str(body.get("name"), "name")
        size = body_page_size(body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, cap=SEARCH_PAGE_CAP)
        indexes = [self._by_variant_set.get(vs_id, SortedList()) for vs_id in variant_set_ids]

        def stream(cursor: list[Any] | None):
            for call_set_id in merged_after(indexes, cursor[0] if cursor else None):
                record = self._records[call_set_id]
                if not name or name in record.get("name", ""):
                    yield record

        items, token = self.backend.pager.page(
            "callsets.search",
            {"variantSetIds": variant_set_ids, "name": name},
            page_token=body.get("pageToken"),
            size=size,
            stream=stream,
            key=lambda record: [record["id"]],
        )
        return compact({"callSets": [public(r) for r in items], "nextPageToken": token})


def _call_set_not_found(call_set_id: Any) -> ApiError:
    return not_found(f"Call set {call_set_id!r} not found (callSetId)")
