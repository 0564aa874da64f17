"""Call sets: one sample's calls, inside exactly one variant set.

A call set is visible only while its variant set exists and that set's
dataset is live; deleting the variant set deletes its call sets for good.
Permissions are checked on the dataset of the call set's variant set.

Decisions where the documentation is silent (tested):

* ``SearchCallSets.name`` is a case-sensitive substring match (the doc says
  "a substring of the name matches", unlike the annotation set search, which
  says case-insensitive); an empty name matches every call set;
* ``pageSize`` has no documented maximum: larger values are accepted and
  silently capped (``paging.PAGE_SIZES``);
* search order is by call set id across all the variant sets queried (a
  total order independent of page size); a search naming a variant set twice
  is the same query as naming it once;
* ``created`` is set once, from the backend clock, and ignored on input;
  ``variantSetIds`` cannot change after create.
"""

from __future__ import annotations

from typing import Any

from mockserver.backend.base import Component, Kind, Updates, compact, public, synchronized
from mockserver.backend.clock import epoch_millis
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import optional_str, request_body
from mockserver.backend.tables import TableSpec, fail, json_records, string_list
from mockserver.backend.variantsets import validate_info
from mockserver.errors import invalid_argument

MUTABLE_FIELDS = ("name",)
SEARCH = Listing("callsets.search", "callSets")


def _one_variant_set(record: dict[str, Any]) -> None:
    if len(string_list(record.get("variantSetIds"), "variantSetIds")) != 1:
        fail("must hold exactly one variant set id", "variantSetIds")


class CallSets(Component):
    kind = Kind("Call set", "callSetId", "genomics.callSets", parent="variant_sets")
    updates = Updates("callsets.patch", MUTABLE_FIELDS)
    tables = (TableSpec("records", json_records(check=_one_variant_set)),)

    def parent_id(self, record: dict[str, Any]) -> str:
        return record["variantSetIds"][0]

    def drop_variant_set(self, variant_set_id: str) -> None:
        """Forget every call set of a deleted variant set (irreversible)."""
        for call_set_id in self._groups.pop(variant_set_id, ()):
            del self._records[call_set_id]

    def set_of(self, call_set_id: str) -> str | None:
        """The variant set of a stored call set (None for an unknown id)."""
        record = self._records.get(call_set_id)
        return self.parent_id(record) if record is not None else None

    def name_of(self, call_set_id: str) -> str | None:
        """A stored call set's name (what variant calls show as ``callSetName``)."""
        record = self._records.get(call_set_id)
        return record.get("name") if record is not None else None

    def create_imported(self, variant_set_id: str, sample: str) -> str:
        """A call set for one sample of a variant import (its commit: no principal); its id."""
        return self._store(variant_set_id, {"name": sample, "sampleId": sample})["id"]

    def remove(self, record: dict[str, Any]) -> None:
        """Deleting a call set takes its calls out of the variants of its set."""
        super().remove(record)
        self.backend.variants.drop_call_set(self.parent_id(record), record["id"])

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
        variant_sets = self.backend.variant_sets
        variant_set = variant_sets.require(variant_set_id, field="variantSetIds")
        variant_sets.authorize(principal, "genomics.callSets.create", variant_set, field="variantSetIds")
        fields = {
            "name": optional_str(body.get("name"), "name"),
            "sampleId": optional_str(body.get("sampleId"), "sampleId"),
            "info": validate_info(body.get("info")),
        }
        return public(self._store(variant_set_id, fields))

    def _store(self, variant_set_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        record = compact(
            {
                "id": self.backend.ids.new("CS"),
                "variantSetIds": [variant_set_id],
                "created": str(epoch_millis(self.clock.now())),
                **fields,
            }
        )
        self.add_record(record)
        return record

    #: callsets.patch is the standard update (the API calls it patch)
    patch = Component.update

    def changes(self, record: dict[str, Any], body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        return {"name": optional_str(body.get("name"), "name")}

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        requested = body.get("variantSetIds")
        if not isinstance(requested, list) or not requested:
            raise invalid_argument("variantSetIds is required (at least one variant set id)")
        if not all(isinstance(item, str) and item for item in requested):
            raise invalid_argument("variantSetIds must hold non-empty variant set ids")
        variant_set_ids = sorted(set(requested))
        self.backend.variant_sets.require_all(
            principal, "genomics.callSets.list", variant_set_ids, field="variantSetIds"
        )
        name = optional_str(body.get("name"), "name")
        return self.page_of(
            SEARCH,
            {"variantSetIds": variant_set_ids, "name": name},
            self.groups(variant_set_ids),
            (lambda record: name in record.get("name", "")) if name else None,
            page_size=body.get("pageSize"),
            page_token=body.get("pageToken"),
        )
