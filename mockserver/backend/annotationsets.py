"""Annotation sets: typed groups of annotations inside a dataset.

Rules (the real API's documentation): ``create`` needs ``datasetId`` (a live dataset) and
``referenceSetId`` (a reference set the server knows: a built-in public one,
seeded or imported; 400 naming it otherwise); ``type`` is optional (``ANNOTATION_TYPE_UNSPECIFIED`` is
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

from typing import Any

from mockserver.backend.annotation_validation import (
    ANNOTATION_TYPES,
    UNSPECIFIED,
    check_info,
    check_string,
    set_type,
)
from mockserver.backend.base import Component, Kind, Updates, compact, public, synchronized
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import request_body, required_ids, required_str, string_list
from mockserver.backend.tables import TableSpec, json_records
from mockserver.errors import invalid_argument

MUTABLE_FIELDS = ("name", "sourceUri", "info")
SEARCH = Listing("annotationsets.search", "annotationSets")


class AnnotationSets(Component):
    kind = Kind("Annotation set", "annotationSetId", "genomics.annotationSets", parent="datasets")
    updates = Updates("annotationsets.update", MUTABLE_FIELDS)
    tables = (TableSpec("records", json_records("datasetId", "referenceSetId")),)

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = required_str(body, "datasetId")
        reference_set_id = required_str(body, "referenceSetId")
        datasets = self.backend.datasets
        datasets.authorize(principal, "genomics.annotationSets.create", datasets.require(dataset_id))
        self.backend.reference_sets.require_existing(reference_set_id)
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
        self.add_record(record)
        return public(record)

    def changes(self, record: dict[str, Any], body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        checks = {
            "name": lambda: check_string(body, "name", "name"),
            "sourceUri": lambda: check_string(body, "sourceUri", "sourceUri"),
            "info": lambda: check_info(body.get("info"), "info"),
        }
        return {field: checks[field]() for field in fields}

    def remove(self, record: dict[str, Any]) -> None:
        """Irreversible, and the set's annotations go with it."""
        super().remove(record)
        self.backend.annotations.drop_set(record["id"])

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = required_ids(body, "datasetIds")
        reference_set_id = check_string(body, "referenceSetId", "referenceSetId")
        name = check_string(body, "name", "name")
        types = sorted(set(string_list(body.get("types"), "types")))
        for value in types:
            if value not in ANNOTATION_TYPES:
                raise invalid_argument(
                    f"types must hold values of {', '.join(ANNOTATION_TYPES)} (got {value!r})"
                )
        self.backend.datasets.require_all(
            principal, "genomics.annotationSets.list", dataset_ids, field="datasetIds"
        )
        needle = name.casefold() if name else None
        wanted = set(types)

        def matches(record: dict[str, Any]) -> bool:
            if reference_set_id and record["referenceSetId"] != reference_set_id:
                return False
            if needle and needle not in record.get("name", "").casefold():
                return False
            return not wanted or record.get("type", UNSPECIFIED) in wanted

        query = {"datasetIds": dataset_ids, "referenceSetId": reference_set_id, "name": name, "types": types}
        page_size, page_token = body.get("pageSize"), body.get("pageToken")
        return self.page_of(
            SEARCH, query, self.groups(dataset_ids), matches, page_size=page_size, page_token=page_token
        )
