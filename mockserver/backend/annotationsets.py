"""Annotation sets: typed groups of annotations inside a dataset.

Rules (FACTS.md §6-7): ``create`` needs ``datasetId`` (a live dataset) and
``referenceSetId``; ``type`` is optional (``ANNOTATION_TYPE_UNSPECIFIED`` is
its default and is omitted on output) and immutable; ``update`` is a PUT whose
mask may name ``name``, ``sourceUri`` (or ``source_uri``) and ``info`` only;
``delete`` takes the set's annotations with it (irreversibly, like the real
API); ``search`` needs ``datasetIds`` and filters by ``referenceSetId``
(exact), ``name`` (case-insensitive substring) and ``types`` (any of).

Search order: by annotation set id (opaque, stable, unique), each dataset's
ids kept in a ``SortedList`` and several datasets merged; the page cursor is
the id of the last set returned.

A set of a soft-deleted dataset is 404 everywhere until the dataset is
undeleted; nothing is removed from the indexes meanwhile.
"""

from __future__ import annotations

import copy
from typing import Any

from sortedcontainers import SortedList

from mockserver.backend.annotation_validation import (
    ANNOTATION_TYPES,
    UNSPECIFIED,
    check_info,
    check_string,
    set_type,
)
from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.fieldmask import parse_update_mask
from mockserver.backend.iam import Principal
from mockserver.backend.paging import body_page_size, merged_after
from mockserver.backend.request_fields import request_body, string_list
from mockserver.errors import ApiError, invalid_argument, not_found

SEARCH_DEFAULT_PAGE_SIZE = 128
SEARCH_MAX_PAGE_SIZE = 1024
MUTABLE_FIELDS = ("name", "sourceUri", "info")


class AnnotationSets(Component):
    def reset(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        #: datasetId -> ids of its annotation sets, in search order
        self._by_dataset: dict[str, SortedList] = {}

    # -- helpers other components use -------------------------------------------------

    def require(self, set_id: Any, *, field: str = "annotationSetId") -> dict[str, Any]:
        """The stored record of a visible set (its dataset live), or 404 naming the id."""
        record = self._records.get(set_id) if isinstance(set_id, str) and set_id else None
        if record is None or not self.backend.datasets.is_live(record["datasetId"]):
            raise self.missing(set_id, field)
        return record

    @staticmethod
    def missing(set_id: Any, field: str = "annotationSetId") -> ApiError:
        """The unknown-set 404; also what a caller with no access to its dataset sees."""
        return not_found(f"Annotation set {set_id!r} not found ({field})")

    def _authorize(
        self, principal: Principal, action: str, dataset_id: str, hidden: ApiError | None = None
    ) -> None:
        """Check on the dataset. Without ``hidden``, IAM's 404 for a caller holding nothing there
        is the unknown-dataset error for the field that named it (``datasetId``/``datasetIds``)."""
        self.backend.iam.authorize(
            principal, f"genomics.annotationSets.{action}", f"datasets/{dataset_id}", hidden=hidden
        )

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = check_string(body, "datasetId", "datasetId")
        if not dataset_id:
            raise invalid_argument("datasetId is required")
        reference_set_id = check_string(body, "referenceSetId", "referenceSetId")
        if not reference_set_id:
            raise invalid_argument("referenceSetId is required")
        self.backend.datasets.require_live(dataset_id)
        self._authorize(principal, "create", dataset_id)
        record = compact(
            {
                "id": self.backend.ids.new(),
                "datasetId": dataset_id,
                "referenceSetId": reference_set_id,
                "name": check_string(body, "name", "name"),
                "sourceUri": check_string(body, "sourceUri", "sourceUri"),
                "type": set_type(body.get("type")),
                "info": check_info(body.get("info"), "info"),
            }
        )
        record = public(record)  # never alias the caller's info lists
        self._records[record["id"]] = record
        self._by_dataset.setdefault(dataset_id, SortedList()).add(record["id"])
        return public(record)

    @synchronized
    def get(self, principal: Principal, set_id: str) -> dict[str, Any]:
        record = self.require(set_id)
        self._authorize(principal, "get", record["datasetId"], self.missing(set_id))
        return public(record)

    @synchronized
    def update(
        self, principal: Principal, set_id: str, body: dict[str, Any], update_mask: str | None = None
    ) -> dict[str, Any]:
        record = self.require(set_id)
        self._authorize(principal, "update", record["datasetId"], self.missing(set_id))
        body = request_body(body)
        fields = parse_update_mask(update_mask, MUTABLE_FIELDS, method="annotationsets.update")
        checks = {
            "name": lambda: check_string(body, "name", "name"),
            "sourceUri": lambda: check_string(body, "sourceUri", "sourceUri"),
            "info": lambda: check_info(body.get("info"), "info"),
        }
        values = {field: checks[field]() for field in fields}  # all checked before any change
        for field in fields:
            if values[field] is None:
                record.pop(field, None)
            else:
                record[field] = copy.deepcopy(values[field])
        return public(record)

    @synchronized
    def delete(self, principal: Principal, set_id: str) -> dict[str, Any]:
        record = self.require(set_id)
        dataset_id = record["datasetId"]
        self._authorize(principal, "delete", dataset_id, self.missing(set_id))
        del self._records[set_id]
        self._by_dataset[dataset_id].discard(set_id)
        self.backend.annotations.drop_set(set_id)
        return {}

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = sorted(set(string_list(body.get("datasetIds"), "datasetIds")))
        if not dataset_ids:
            raise invalid_argument("datasetIds is required")
        reference_set_id = check_string(body, "referenceSetId", "referenceSetId")
        name = check_string(body, "name", "name")
        types = sorted(set(string_list(body.get("types"), "types")))
        for value in types:
            if value not in ANNOTATION_TYPES:
                raise invalid_argument(
                    f"types must hold values of {', '.join(ANNOTATION_TYPES)} (got {value!r})"
                )
        for dataset_id in dataset_ids:
            self.backend.datasets.require_live(dataset_id, field="datasetIds")
        for dataset_id in dataset_ids:
            self._authorize(principal, "list", dataset_id)
        size = body_page_size(
            body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, maximum=SEARCH_MAX_PAGE_SIZE
        )
        needle = name.casefold() if name else None
        wanted = set(types)

        def matches(record: dict[str, Any]) -> bool:
            if reference_set_id and record["referenceSetId"] != reference_set_id:
                return False
            if needle and needle not in record.get("name", "").casefold():
                return False
            return not wanted or record.get("type", UNSPECIFIED) in wanted

        def stream(cursor: list[Any] | None):
            indexes = [self._by_dataset.get(d, SortedList()) for d in dataset_ids]
            for set_id in merged_after(indexes, cursor[0] if cursor else None):
                record = self._records[set_id]
                if matches(record):
                    yield record

        query = {"datasetIds": dataset_ids, "referenceSetId": reference_set_id, "name": name, "types": types}
        items, token = self.backend.pager.page(
            "annotationsets.search",
            query,
            page_token=body.get("pageToken"),
            size=size,
            stream=stream,
            key=lambda record: [record["id"]],
        )
        return compact({"annotationSets": [public(r) for r in items], "nextPageToken": token})
