"""Variant sets: collections of call sets (and variants) inside a dataset.

A variant set lives in its dataset: while the dataset is deleted the set is
invisible (404) to every method, and undelete brings it back. Deleting a
variant set is irreversible and takes its call sets with it.

``referenceBounds`` is computed from the set's variants whenever the set is
shown: per reference holding variants, the largest start of any of them.
``id`` and ``referenceBounds`` in a request body are ignored. Deleting a set
deletes its variants and call sets with it.

Decisions where the documentation is silent (tested):

* ``referenceSetId`` is optional; when given it must name a reference set the
  server knows (400 naming it): Google's public sets are built in
  (:mod:`.public_references`), others come from seeds and imports;
* ``SearchVariantSets.pageSize`` has no documented maximum: larger values are
  accepted and silently capped (``paging.PAGE_SIZES``);
* search order is by variant set id (total, independent of page size);
* ``VariantSetMetadata``: ``value`` and ``info`` are mutually exclusive (400),
  ``type`` must be one of the enum's names, ``info`` must map keys to lists.
"""

from __future__ import annotations

from typing import Any

from mockserver.backend.base import Component, Kind, Updates, compact, public, synchronized
from mockserver.backend.operations import Job
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import optional_str, request_body, required_str, string_list
from mockserver.backend.tables import TableSpec, json_records
from mockserver.backend.variant_export import export_lines
from mockserver.errors import invalid_argument

SEARCH = Listing("variantsets.search", "variantSets")
EXPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ExportVariantSetRequest"
EXPORT_FORMATS = ("FORMAT_UNSPECIFIED", "FORMAT_BIGQUERY")
MUTABLE_FIELDS = ("metadata", "name", "description")
METADATA_TYPES = ("TYPE_UNSPECIFIED", "INTEGER", "FLOAT", "FLAG", "CHARACTER", "STRING")
_METADATA_STRINGS = ("key", "value", "id", "number", "description")


class VariantSets(Component):
    kind = Kind("Variant set", "variantSetId", "genomics.variantSets", parent="datasets")
    updates = Updates("variantsets.patch", MUTABLE_FIELDS)
    tables = (TableSpec("records", json_records("datasetId")),)

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def create(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = required_str(body, "datasetId")
        datasets = self.backend.datasets
        datasets.authorize(principal, "genomics.variantSets.create", datasets.require(dataset_id))
        reference_set_id = optional_str(body.get("referenceSetId"), "referenceSetId")
        self.backend.reference_sets.require_existing(reference_set_id)
        fields = {
            "referenceSetId": reference_set_id,
            "name": optional_str(body.get("name"), "name"),
            "description": optional_str(body.get("description"), "description"),
            "metadata": validate_metadata(body.get("metadata")),
        }
        variant_set_id = self.backend.ids.new_numeric()
        record = compact({"id": variant_set_id, "datasetId": dataset_id, **fields})
        self.add_record(record)
        return self.render(record)

    #: variantsets.patch is the standard update (the API calls it patch)
    patch = Component.update

    def changes(self, record: dict[str, Any], body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        values = {}
        for field in fields:
            value = body.get(field)
            values[field] = validate_metadata(value) if field == "metadata" else optional_str(value, field)
        return values

    def remove(self, record: dict[str, Any]) -> None:
        """Irreversible, and the set's call sets and variants go with it."""
        super().remove(record)
        self.backend.call_sets.drop_variant_set(record["id"])
        self.backend.variants.drop_variant_set(record["id"])

    def render(self, record: dict[str, Any]) -> dict[str, Any]:
        bounds = self.backend.variants.reference_bounds(record["id"])
        return {**public(record), "referenceBounds": bounds} if bounds else public(record)

    def append_metadata(self, set_id: str, entries: list[dict[str, Any]]) -> None:
        """Add header lines to a set's metadata (an import's commit), each line once."""
        record = self.require(set_id)
        metadata = record.setdefault("metadata", [])
        for entry in entries:
            if entry not in metadata:
                metadata.append(entry)
        if not metadata:
            del record["metadata"]
        self.stored(record)

    @synchronized
    def export(self, principal: Principal, set_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        """Write the set's variants as a BigQuery table (:mod:`.variant_export`), as an operation.

        Needs READ on the set (genomics.variantSets.get) and WRITE on the project that owns the
        destination and the operation (genomics.variantSets.export on ``projects/<projectId>``).
        The variants written are those stored when the request is accepted.
        """
        record = self.require(set_id)
        self.authorize(principal, "genomics.variantSets.get", record)
        body = request_body(body)
        project_id = required_str(body, "projectId")
        dataset = required_str(body, "bigqueryDataset")
        table = self.backend.bigquery.check_table(required_str(body, "bigqueryTable"))
        form = body.get("format") or "FORMAT_BIGQUERY"
        if form not in EXPORT_FORMATS:
            raise invalid_argument(f"format must be one of {', '.join(EXPORT_FORMATS)} (got {form!r})")
        call_set_ids = string_list(body.get("callSetIds"), "callSetIds")
        call_sets = self.backend.call_sets
        for call_set_id in call_set_ids:
            if call_sets.set_of(call_set_id) != set_id:
                raise invalid_argument(
                    f"callSetIds: {call_set_id!r} is not a call set of variant set {set_id!r}"
                )
        self.backend.iam.authorize(principal, "genomics.variantSets.export", f"projects/{project_id}")
        bigquery = self.backend.bigquery
        bigquery.dataset(project_id, dataset)
        store = self.backend.variants.view(set_id)
        names = {cs: call_sets.name_of(cs) or "" for index in self.backend.call_sets.groups([set_id]) if index
                 for cs in index}
        wanted = set(call_set_ids) or None
        request = {"@type": EXPORT_REQUEST_TYPE, "variantSetId": set_id, **body}

        def prepare() -> None:
            bigquery.write(project_id, dataset, table, export_lines(store, set_id, names, wanted))

        job = Job(prepare, lambda _payload: None, started="Writing BigQuery rows",
                  finished=f"Wrote {project_id}:{dataset}.{table}")
        return self.backend.operations.start(project_id, request, job)

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = body.get("datasetIds")
        if not isinstance(dataset_ids, list) or len(dataset_ids) != 1 or not isinstance(dataset_ids[0], str):
            count = len(dataset_ids) if isinstance(dataset_ids, list) else 0
            raise invalid_argument(f"datasetIds must hold exactly one dataset id (got {count})")
        dataset_id = dataset_ids[0]
        datasets = self.backend.datasets
        dataset = datasets.require(dataset_id, field="datasetIds")
        datasets.authorize(principal, "genomics.variantSets.list", dataset, field="datasetIds")
        return self.page_of(
            SEARCH,
            {"datasetIds": [dataset_id]},
            self.groups([dataset_id]),
            page_size=body.get("pageSize"),
            page_token=body.get("pageToken"),
        )


# -- field rules (call sets use validate_info too) ----------------------------------------


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
