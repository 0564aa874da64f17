"""Variant sets: collections of call sets (and variants) inside a dataset.

A variant set lives in its dataset: while the dataset is deleted the set is
invisible (404) to every method, and undelete brings it back. Deleting a
variant set is irreversible and takes its call sets with it.

``referenceBounds`` is server-computed from the set's variants; the mock
stores no variants yet, so it is always empty (omitted). ``id`` and
``referenceBounds`` in a request body are ignored.

Decisions where the documentation is silent (tested):

* ``referenceSetId`` is optional and not checked against the reference sets
  the mock knows (real sets such as GRCh37 may be named without being seeded);
* ``SearchVariantSets.pageSize`` has no documented maximum: larger values are
  accepted and silently capped at :data:`SEARCH_PAGE_CAP`;
* search order is by variant set id (total, independent of page size);
* ``VariantSetMetadata``: ``value`` and ``info`` are mutually exclusive (400),
  ``type`` must be one of the enum's names, ``info`` must map keys to lists.
"""

from __future__ import annotations

from typing import Any

from sortedcontainers import SortedList

from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.fieldmask import apply_mask, parse_update_mask
from mockserver.backend.iam import Principal
from mockserver.backend.paging import body_page_size
from mockserver.backend.request_fields import optional_str, request_body
from mockserver.errors import ApiError, invalid_argument, not_found

SEARCH_DEFAULT_PAGE_SIZE = 1024
SEARCH_PAGE_CAP = 1024
MUTABLE_FIELDS = ("metadata", "name", "description")
METADATA_TYPES = ("TYPE_UNSPECIFIED", "INTEGER", "FLOAT", "FLAG", "CHARACTER", "STRING")
_METADATA_STRINGS = ("key", "value", "id", "number", "description")


class VariantSets(Component):
    def reset(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        #: datasetId -> ids of its variant sets, in search order
        self._by_dataset: dict[str, SortedList] = {}

    # -- helpers other components use -------------------------------------------------

    def find_live(self, variant_set_id: Any) -> dict[str, Any] | None:
        """The stored record when it exists and its dataset is live (no permission check)."""
        record = self._records.get(variant_set_id) if isinstance(variant_set_id, str) else None
        if record is None or not self.backend.datasets.is_live(record["datasetId"]):
            return None
        return record

    def require_live(self, variant_set_id: Any, *, field: str = "variantSetId") -> dict[str, Any]:
        """The stored record of a visible variant set, or 404 naming the id and field."""
        record = self.find_live(variant_set_id)
        if record is None:
            raise variant_set_not_found(variant_set_id, field)
        return record

    def authorize(
        self, principal: Principal, permission: str, record: dict[str, Any], *, field: str = "variantSetId"
    ) -> None:
        """Check ``permission`` on the set's dataset; a caller who may not see it gets this set's 404."""
        self.backend.iam.authorize(
            principal,
            permission,
            f"datasets/{record['datasetId']}",
            hidden=variant_set_not_found(record["id"], field),
        )

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = body.get("datasetId")
        if not dataset_id:
            raise invalid_argument("datasetId is required")
        if not isinstance(dataset_id, str):
            raise invalid_argument("datasetId must be a string")
        self.backend.datasets.require_live(dataset_id)
        self.backend.iam.authorize(principal, "genomics.variantSets.create", f"datasets/{dataset_id}")
        fields = {
            "referenceSetId": optional_str(body.get("referenceSetId"), "referenceSetId"),
            "name": optional_str(body.get("name"), "name"),
            "description": optional_str(body.get("description"), "description"),
            "metadata": validate_metadata(body.get("metadata")),
        }
        variant_set_id = self.backend.ids.new_numeric()
        record = compact({"id": variant_set_id, "datasetId": dataset_id, **fields})
        self._records[variant_set_id] = record
        self._by_dataset.setdefault(dataset_id, SortedList()).add(variant_set_id)
        return public(record)

    @synchronized
    def get(self, principal: Principal, variant_set_id: str) -> dict[str, Any]:
        record = self.require_live(variant_set_id)
        self.authorize(principal, "genomics.variantSets.get", record)
        return public(record)

    @synchronized
    def patch(
        self,
        principal: Principal,
        variant_set_id: str,
        body: dict[str, Any] | None,
        update_mask: str | None = None,
    ) -> dict[str, Any]:
        record = self.require_live(variant_set_id)
        self.authorize(principal, "genomics.variantSets.update", record)
        body = request_body(body)
        fields = parse_update_mask(update_mask, MUTABLE_FIELDS, method="variantsets.patch")
        update: dict[str, Any] = {}
        for field in fields:
            if field == "metadata":
                update[field] = validate_metadata(body.get(field))
            else:
                update[field] = optional_str(body.get(field), field)
        apply_mask(record, update, fields)
        return public(record)

    @synchronized
    def delete(self, principal: Principal, variant_set_id: str) -> dict[str, Any]:
        record = self.require_live(variant_set_id)
        self.authorize(principal, "genomics.variantSets.delete", record)
        del self._records[variant_set_id]
        self._by_dataset[record["datasetId"]].discard(variant_set_id)
        self.backend.call_sets.drop_variant_set(variant_set_id)
        return {}

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = body.get("datasetIds")
        if not isinstance(dataset_ids, list) or len(dataset_ids) != 1 or not isinstance(dataset_ids[0], str):
            count = len(dataset_ids) if isinstance(dataset_ids, list) else 0
            raise invalid_argument(f"datasetIds must hold exactly one dataset id (got {count})")
        dataset_id = dataset_ids[0]
        self.backend.datasets.require_live(dataset_id, field="datasetIds")
        self.backend.iam.authorize(principal, "genomics.variantSets.list", f"datasets/{dataset_id}")
        size = body_page_size(body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, cap=SEARCH_PAGE_CAP)
        index = self._by_dataset.get(dataset_id, SortedList())

        def stream(cursor: list[Any] | None):
            start = cursor[0] if cursor else None
            for item_id in index.irange(minimum=start, inclusive=(False, False)):
                yield self._records[item_id]

        items, token = self.backend.pager.page(
            "variantsets.search",
            {"datasetIds": [dataset_id]},
            page_token=body.get("pageToken"),
            size=size,
            stream=stream,
            key=lambda record: [record["id"]],
        )
        return compact({"variantSets": [public(r) for r in items], "nextPageToken": token})


# -- errors and field rules (call sets use validate_info too) ----------------------------


def variant_set_not_found(variant_set_id: Any, field: str = "variantSetId") -> ApiError:
    return not_found(f"Variant set {variant_set_id!r} not found ({field})")


def validate_info(value: Any, field: str = "info") -> dict[str, list[Any]]:
    """``info`` maps: string keys to lists of values (the doc asks for lists of strings)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_argument(f"{field} must be an object mapping keys to lists")
    for key, values in value.items():
        if not isinstance(values, list):
            raise invalid_argument(f"{field}.{key} must be a list of values")
    return dict(value)


def validate_metadata(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_argument("metadata must be a list of VariantSetMetadata objects")
    cleaned = []
    for i, item in enumerate(value):
        where = f"metadata[{i}]"
        if not isinstance(item, dict):
            raise invalid_argument(f"{where} must be an object")
        entry: dict[str, Any] = {f: optional_str(item.get(f), f"{where}.{f}") for f in _METADATA_STRINGS}
        kind = item.get("type")
        if kind is not None and kind not in METADATA_TYPES:
            raise invalid_argument(f"{where}.type must be one of {', '.join(METADATA_TYPES)} (got {kind!r})")
        entry["type"] = None if kind == "TYPE_UNSPECIFIED" else kind
        entry["info"] = validate_info(item.get("info"), f"{where}.info")
        if entry["value"] and entry["info"]:
            raise invalid_argument(f"{where}: value and info are mutually exclusive")
        cleaned.append(compact(entry))
    return cleaned
