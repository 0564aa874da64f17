"""Read group sets: import from SAM/BAM/CRAM, get/patch/delete/search, export to BAM.

Import and export are long-running operations (:mod:`.operations`): the
request is validated at once (a 400/404 naming the field), then the files are
read or written off the lock and the result committed all at once — a failed
import leaves no read group set, read group or read behind.

Partitioning (``partitionStrategy``):

* ``PER_FILE_PER_SAMPLE`` (default): one set per file per ``@RG SM`` sample;
  reads without a read group (and read groups without a sample) go to one set
  per file.
* ``MERGE_ALL``: every read group of every file in one set (the files' ``@SQ``
  names and lengths must agree); reads without a read group go to a second set.
  A read group id appearing in several files is one read group.

A set is named after its sample (else after its file) and points at the
reference set it was aligned to: the request's ``referenceSetId`` (which must
name every ``@SQ`` reference of every file), else an existing reference set
covering the header (``reference_sets.find_for_header``), else a new one
made from the header's names, lengths and ``M5`` checksums.

The file work is in :mod:`.readgroupset_import` and :mod:`.readgroupset_export`;
this module validates the requests and starts the operations. Export needs READ on the set
(``genomics.readGroupSets.get`` on its dataset) and WRITE on the target project
(``genomics.readGroupSets.export`` on ``projects/<projectId>``).
"""

from __future__ import annotations

from typing import Any

from mockserver.backend.base import Component, Kind, Updates, public, synchronized
from mockserver.backend.operations import Job
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.readgroupset_export import write_export
from mockserver.backend.readgroupset_import import ImportPlan
from mockserver.backend.reads import UNMAPPED, SetReads
from mockserver.backend.request_fields import request_body, required_str
from mockserver.backend.tables import TableSpec, fail, json_records, text
from mockserver.errors import ApiError, invalid_argument, not_found

IMPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ImportReadGroupSetsRequest"
EXPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ExportReadGroupSetRequest"
PARTITION_STRATEGIES = ("PARTITION_STRATEGY_UNSPECIFIED", "PER_FILE_PER_SAMPLE", "MERGE_ALL")
MUTABLE_FIELDS = ("name", "referenceSetId")
SEARCH = Listing("readgroupsets.search", "readGroupSets")


def _read_groups_rule(record: dict[str, Any]) -> None:
    groups = record.get("readGroups")
    if type(groups) is not list:
        fail("must be a list of read groups", "readGroups")
    for i, group in enumerate(groups):
        if type(group) is not dict:
            fail("must be an object", "readGroups", i)
        text(group.get("id"), "readGroups", i, "id")


class ReadGroupSets(Component):
    kind = Kind("ReadGroupSet", "readGroupSetId", "genomics.readGroupSets", parent="datasets")
    updates = Updates("readgroupsets.patch", MUTABLE_FIELDS)
    tables = (TableSpec("records", json_records("datasetId", check=_read_groups_rule)),)
    derived = Component.derived | {"_read_groups"}

    def reset(self) -> None:
        super().reset()
        #: read group id -> (read group set id, index in its readGroups)
        self._read_groups: dict[str, tuple[str, int]] = {}

    def after_restore(self) -> None:
        super().after_restore()
        for set_id, record in self._records.items():
            for index, group in enumerate(record["readGroups"]):
                self._read_groups[group["id"]] = (set_id, index)

    def add(self, record: dict[str, Any], reads: SetReads) -> None:
        """Store an imported set with its reads (an import's commit, under the lock)."""
        set_id = record["id"]
        self.add_record(record)
        for index, group in enumerate(record["readGroups"]):
            self._read_groups[group["id"]] = (set_id, index)
        self.backend.reads.store(set_id, reads)

    def read_group_location(self, read_group_id: Any) -> tuple[str, int]:
        """(read group set id, index in its readGroups) of a visible read group, or 404."""
        location = self._read_groups.get(read_group_id) if isinstance(read_group_id, str) else None
        if location is None or self.find(location[0]) is None:
            raise self.missing_read_group(read_group_id)
        return location

    @staticmethod
    def missing_read_group(read_group_id: Any) -> ApiError:
        return not_found(f"ReadGroup {read_group_id!r} not found (readGroupIds)")

    # -- get / patch / delete / search ------------------------------------------------

    #: readgroupsets.patch is the standard update (the API calls it patch)
    patch = Component.update

    def changes(self, record: dict[str, Any], body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        if "name" in fields and not isinstance(body.get("name", ""), str):
            raise invalid_argument("name must be a string")
        if "referenceSetId" in fields and body.get("referenceSetId"):
            self.backend.reference_sets.require(body["referenceSetId"], field="referenceSetId")
        return {field: body.get(field) for field in fields}

    def apply_changes(self, record: dict[str, Any], values: dict[str, Any], fields: list[str]) -> None:
        """A new referenceSetId is every read group's too."""
        super().apply_changes(record, values, fields)
        if "referenceSetId" in fields:
            for group in record["readGroups"]:
                super().apply_changes(group, values, ["referenceSetId"])

    def remove(self, record: dict[str, Any]) -> None:
        """Irreversible: its read groups and reads go with it."""
        super().remove(record)
        for group in record["readGroups"]:
            self._read_groups.pop(group["id"], None)
        self.backend.reads.drop(record["id"])

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = body.get("datasetIds")
        if not dataset_ids or not isinstance(dataset_ids, list):
            raise invalid_argument("datasetIds is required (at least one dataset id)")
        if not all(isinstance(dataset_id, str) for dataset_id in dataset_ids):
            raise invalid_argument("datasetIds must be a list of dataset id strings")
        dataset_ids = sorted(set(dataset_ids))
        self.backend.datasets.require_all(
            principal, "genomics.readGroupSets.list", dataset_ids, field="datasetIds"
        )
        name = body.get("name") or ""
        if not isinstance(name, str):
            raise invalid_argument("name must be a string")
        needle = name.lower()
        return self.page_of(
            SEARCH,
            {"datasetIds": dataset_ids, "name": name},
            self.groups(dataset_ids),
            lambda record: needle in record.get("name", "").lower(),
            page_size=body.get("pageSize"),
            page_token=body.get("pageToken"),
        )

    # -- import -----------------------------------------------------------------------

    @synchronized
    def import_(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = required_str(body, "datasetId")
        datasets = self.backend.datasets
        dataset = datasets.require(dataset_id)
        datasets.authorize(principal, "genomics.readGroupSets.create", dataset)
        uris = body.get("sourceUris")
        if not uris or not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
            raise invalid_argument("sourceUris is required (a list of gs:// URIs)")
        storage = self.backend.storage
        for uri in uris:
            storage.split(uri, field="sourceUris")
        strategy = body.get("partitionStrategy") or "PER_FILE_PER_SAMPLE"
        if strategy not in PARTITION_STRATEGIES:
            raise invalid_argument(
                f"partitionStrategy must be one of {', '.join(PARTITION_STRATEGIES)} (got {strategy!r})"
            )
        if strategy == "PARTITION_STRATEGY_UNSPECIFIED":
            strategy = "PER_FILE_PER_SAMPLE"
        reference_set_id = body.get("referenceSetId") or None
        if reference_set_id is not None:
            self.backend.reference_sets.require(reference_set_id, field="referenceSetId")
        request = {"@type": IMPORT_REQUEST_TYPE, **{k: v for k, v in body.items() if k != "@type"}}
        plan = ImportPlan(self.backend, dataset_id, list(uris), strategy, reference_set_id)
        job = Job(
            plan.prepare, plan.commit, started="Reading source files", finished="Read group sets created"
        )
        return self.backend.operations.start(dataset["projectId"], request, job)

    # -- export -----------------------------------------------------------------------

    @synchronized
    def export(self, principal: Principal, set_id: str, body: dict[str, Any] | None) -> dict[str, Any]:
        record = self.require(set_id)
        self.authorize(principal, "genomics.readGroupSets.get", record)  # READ on the set
        body = request_body(body)
        project_id = required_str(body, "projectId")
        export_uri = body.get("exportUri")
        if not export_uri:
            raise invalid_argument("exportUri is required")
        self.backend.storage.path(export_uri, field="exportUri")  # 400 now for a malformed URI
        # WRITE on the project that receives the export and owns its operation
        self.backend.iam.authorize(principal, "genomics.readGroupSets.export", f"projects/{project_id}")
        names = body.get("referenceNames") or []
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise invalid_argument("referenceNames must be a list of reference names")
        reads = self.backend.reads.of(set_id)
        lengths = reads.coverage.lengths
        unknown = [n for n in names if n != UNMAPPED and n not in lengths]
        if unknown:
            raise invalid_argument(
                f"referenceNames: {unknown[0]!r} is not a reference of this read group set"
            )
        snapshot = public(record)
        request = {"@type": EXPORT_REQUEST_TYPE, "readGroupSetId": set_id, **body}

        def prepare() -> None:
            write_export(self.backend.storage, export_uri, snapshot, reads, names)

        job = Job(prepare, lambda _payload: None, started="Writing BAM", finished=f"Wrote {export_uri}")
        return self.backend.operations.start(project_id, request, job)


# -- import plan --------------------------------------------------------------------------
