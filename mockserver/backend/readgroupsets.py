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
covering the header (``references.find_reference_set_for``), else a new one
made from the header's names, lengths and ``M5`` checksums.

Export writes ``@SQ`` lines for the set's references (sorted by name, the order
reads are stored in), ``@RG`` lines from its read groups, its programs and one
``@PG`` line for the mock. Export needs READ on the set
(``genomics.readGroupSets.get`` on its dataset) and WRITE on the target project
(``genomics.readGroupSets.export`` on ``projects/<projectId>``).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

from sortedcontainers import SortedList

from mockserver.backend import bam
from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.fieldmask import apply_mask, parse_update_mask
from mockserver.backend.iam import Principal
from mockserver.backend.operations import Job
from mockserver.backend.paging import body_page_size, merged_after
from mockserver.backend.reads import UNMAPPED, SetBuilder, SetReads
from mockserver.backend.request_fields import request_body
from mockserver.errors import ApiError, failed_precondition, invalid_argument, not_found

IMPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ImportReadGroupSetsRequest"
IMPORT_RESPONSE_TYPE = "type.googleapis.com/google.genomics.v1.ImportReadGroupSetsResponse"
EXPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ExportReadGroupSetRequest"
PARTITION_STRATEGIES = ("PARTITION_STRATEGY_UNSPECIFIED", "PER_FILE_PER_SAMPLE", "MERGE_ALL")
SEARCH_DEFAULT_PAGE_SIZE = 256
SEARCH_MAX_PAGE_SIZE = 1024
MUTABLE_FIELDS = ("name", "referenceSetId")
#: @RG keys that have a ReadGroup field of their own (the rest go to info)
_RG_FIELDS = {"ID", "SM", "DS", "LB", "PU", "CN", "PL", "PI"}


class ReadGroupSets(Component):
    def reset(self) -> None:
        self._records: dict[str, dict[str, Any]] = {}
        self._by_dataset: dict[str, SortedList] = {}
        #: read group id -> (read group set id, index in its readGroups)
        self._read_groups: dict[str, tuple[str, int]] = {}

    # -- helpers other components use -------------------------------------------------

    def record(self, set_id: str) -> dict[str, Any]:
        return self._records[set_id]

    def require(self, set_id: Any, *, field: str = "readGroupSetId") -> dict[str, Any]:
        """A visible set (its dataset live), or 404 naming the id."""
        record = self._records.get(set_id) if isinstance(set_id, str) else None
        if record is None or not self.backend.datasets.is_live(record["datasetId"]):
            raise not_found(f"ReadGroupSet {set_id!r} not found ({field})")
        return record

    def authorize(
        self, principal: Principal, permission: str, record: dict[str, Any], *, field: str = "readGroupSetId"
    ) -> None:
        """Check on the set's dataset; a caller who may not see it gets this set's unknown-id 404."""
        self.backend.iam.authorize(
            principal,
            permission,
            f"datasets/{record['datasetId']}",
            hidden=not_found(f"ReadGroupSet {record['id']!r} not found ({field})"),
        )

    def read_group_location(self, read_group_id: Any) -> tuple[str, int]:
        location = self._read_groups.get(read_group_id) if isinstance(read_group_id, str) else None
        if location is None or not self.backend.datasets.is_live(self._records[location[0]]["datasetId"]):
            raise not_found(f"ReadGroup {read_group_id!r} not found (readGroupIds)")
        return location

    # -- get / patch / delete / search ------------------------------------------------

    @synchronized
    def get(self, principal: Principal, set_id: str) -> dict[str, Any]:
        record = self.require(set_id)
        self.authorize(principal, "genomics.readGroupSets.get", record)
        return public(record)

    @synchronized
    def patch(
        self, principal: Principal, set_id: str, body: dict[str, Any] | None, update_mask: str | None
    ) -> dict[str, Any]:
        record = self.require(set_id)
        self.authorize(principal, "genomics.readGroupSets.update", record)
        body = request_body(body)
        fields = parse_update_mask(update_mask, MUTABLE_FIELDS, method="readgroupsets.patch")
        if "name" in fields and not isinstance(body.get("name", ""), str):
            raise invalid_argument("name must be a string")
        if "referenceSetId" in fields and body.get("referenceSetId"):
            self.backend.references.require_reference_set(body["referenceSetId"], field="referenceSetId")
        apply_mask(record, body, fields)
        if "referenceSetId" in fields:
            for group in record["readGroups"]:
                apply_mask(group, body, ["referenceSetId"])
        return public(record)

    @synchronized
    def delete(self, principal: Principal, set_id: str) -> dict[str, Any]:
        record = self.require(set_id)
        self.authorize(principal, "genomics.readGroupSets.delete", record)
        del self._records[set_id]
        self._by_dataset[record["datasetId"]].discard(set_id)
        for group in record["readGroups"]:
            self._read_groups.pop(group["id"], None)
        self.backend.reads.drop(set_id)
        return {}

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_ids = body.get("datasetIds")
        if not dataset_ids or not isinstance(dataset_ids, list):
            raise invalid_argument("datasetIds is required (at least one dataset id)")
        if not all(isinstance(dataset_id, str) for dataset_id in dataset_ids):
            raise invalid_argument("datasetIds must be a list of dataset id strings")
        dataset_ids = sorted(set(dataset_ids))
        for dataset_id in dataset_ids:
            self.backend.datasets.require_live(dataset_id, field="datasetIds")
            self.backend.iam.authorize(principal, "genomics.readGroupSets.list", f"datasets/{dataset_id}")
        name = body.get("name") or ""
        if not isinstance(name, str):
            raise invalid_argument("name must be a string")
        size = body_page_size(
            body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, maximum=SEARCH_MAX_PAGE_SIZE
        )
        needle = name.lower()

        indexes = [self._by_dataset.get(dataset_id, SortedList()) for dataset_id in dataset_ids]

        def stream(cursor: list[Any] | None):
            for set_id in merged_after(indexes, cursor[0] if cursor else None):
                record = self._records[set_id]
                if needle in record.get("name", "").lower():
                    yield record

        items, token = self.backend.pager.page(
            "readgroupsets.search",
            {"datasetIds": dataset_ids, "name": name},
            page_token=body.get("pageToken") or None,
            size=size,
            stream=stream,
            key=lambda record: [record["id"]],
        )
        return compact({"readGroupSets": [public(r) for r in items], "nextPageToken": token})

    # -- import -----------------------------------------------------------------------

    @synchronized
    def import_(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        dataset_id = body.get("datasetId")
        if not dataset_id or not isinstance(dataset_id, str):
            raise invalid_argument("datasetId is required")
        dataset = self.backend.datasets.require_live(dataset_id)
        self.backend.iam.authorize(principal, "genomics.readGroupSets.create", f"datasets/{dataset_id}")
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
            self.backend.references.require_reference_set(reference_set_id, field="referenceSetId")
        request = {"@type": IMPORT_REQUEST_TYPE, **{k: v for k, v in body.items() if k != "@type"}}
        plan = _ImportPlan(self, dataset_id, list(uris), strategy, reference_set_id)
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
        project_id = body.get("projectId")
        if not project_id or not isinstance(project_id, str):
            raise invalid_argument("projectId is required")
        export_uri = body.get("exportUri")
        if not export_uri:
            raise invalid_argument("exportUri is required")
        path = self.backend.storage.path(export_uri, field="exportUri")
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
            _write_export(path, export_uri, snapshot, reads, names)

        job = Job(prepare, lambda _payload: None, started="Writing BAM", finished=f"Wrote {export_uri}")
        return self.backend.operations.start(project_id, request, job)


# -- import plan --------------------------------------------------------------------------


class _ImportPlan:
    """The files of one import, read off the lock and committed in one step."""

    def __init__(
        self,
        owner: ReadGroupSets,
        dataset_id: str,
        uris: list[str],
        strategy: str,
        reference_set_id: str | None,
    ) -> None:
        self.owner = owner
        self.dataset_id = dataset_id
        self.uris = uris
        self.strategy = strategy
        self.reference_set_id = reference_set_id

    def prepare(self) -> list[dict[str, Any]]:
        storage = self.owner.backend.storage
        files: list[tuple[str, Path]] = []
        seen: set[Path] = set()
        for uri in self.uris:
            matches = storage.expand(uri, field="sourceUris")
            if not matches:
                raise ApiError("NOT_FOUND", f"sourceUris: {uri} not found")
            for path in matches:
                if path not in seen:
                    seen.add(path)
                    files.append((storage.uri(path) if "*" in uri else uri, path))
        handles = [(uri, bam.open_alignment_file(path, uri)) for uri, path in files]
        try:
            headers = [bam.read_header(handle, uri) for uri, handle in handles]
            self._check_headers(headers)
            return self._read(handles, headers)
        finally:
            for _uri, handle in handles:
                handle.close()

    def _check_headers(self, headers: list[bam.HeaderInfo]) -> None:
        if self.reference_set_id is not None:
            known = self.owner.backend.references.reference_names(self.reference_set_id)
            for header in headers:
                missing = [name for name, _l, _m in header.references if name not in known]
                if missing:
                    raise invalid_argument(
                        f"sourceUris: {header.uri} aligns to {missing[0]!r}, which reference set "
                        f"{self.reference_set_id} (referenceSetId) does not contain"
                    )
        if self.strategy == "MERGE_ALL":
            first = {(n, length) for n, length, _m in headers[0].references}
            for header in headers[1:]:
                if {(n, length) for n, length, _m in header.references} != first:
                    raise invalid_argument(
                        f"sourceUris: {header.uri} has other @SQ references than {headers[0].uri}; "
                        "MERGE_ALL needs equivalent headers"
                    )

    def _read(self, handles: list[tuple[str, Any]], headers: list[bam.HeaderInfo]) -> list[dict[str, Any]]:
        """Route every read to its destination set; returns the sets to create, in order."""
        outputs: dict[Any, dict[str, Any]] = {}

        def output(key: Any, header: bam.HeaderInfo, name: str) -> dict[str, Any]:
            if key not in outputs:
                lengths = {n: length for n, length, _m in header.references}
                outputs[key] = {
                    "builder": SetBuilder(lengths),
                    "header": header,
                    "name": name,
                    "groups": {},  # RG name -> @RG dict
                }
            return outputs[key]

        for file_index, ((uri, handle), header) in enumerate(zip(handles, headers, strict=True)):
            stem = _stem(uri)
            samples: dict[str, str | None] = {}
            for rg in header.read_groups:
                samples[str(rg["ID"])] = str(rg["SM"]) if rg.get("SM") else None
            routes: dict[str | None, tuple[dict[str, Any], int]] = {}
            for rg in header.read_groups:
                out = self._destination(output, file_index, header, stem, str(rg["ID"]), samples)
                out["groups"].setdefault(str(rg["ID"]), rg)
                routes[str(rg["ID"])] = (out, out["builder"].read_group(str(rg["ID"])))
            if not header.read_groups and self.strategy == "PER_FILE_PER_SAMPLE":
                out = output((file_index, None), header, stem)
                routes[None] = (out, out["builder"].read_group(None))
            for read in bam.iter_reads(handle, uri):
                route = routes.get(read.read_group)
                if route is None:
                    out = self._destination(output, file_index, header, stem, read.read_group, samples)
                    route = routes[read.read_group] = (out, out["builder"].read_group(read.read_group))
                route[0]["builder"].add(read, route[1])
        for out in outputs.values():
            builder = out.pop("builder")
            out["groupNames"] = list(builder.read_group_names)
            out["reads"] = builder.build()
        return list(outputs.values())

    def _destination(
        self, output: Any, file_index: int, header: bam.HeaderInfo, stem: str, rg: str | None, samples: dict
    ) -> dict[str, Any]:
        sample = samples.get(rg) if rg is not None else None
        if self.strategy == "MERGE_ALL":
            if rg is None:
                return output("no-read-group", header, stem)
            return output("merged", header, sample or stem)
        return output((file_index, sample), header, sample or stem)

    # -- commit (under the lock) ------------------------------------------------------

    def commit(self, outputs: list[dict[str, Any]]) -> dict[str, Any]:
        owner = self.owner
        backend = owner.backend
        backend.datasets.require_live(self.dataset_id)
        if self.reference_set_id is not None:
            backend.references.require_reference_set(self.reference_set_id, field="referenceSetId")
        ref_sets: dict[tuple, str | None] = {}
        for out in outputs:  # resolve every reference set before creating anything else
            header = out["header"]
            key = tuple(sorted(header.references, key=lambda r: r[0]))
            if key not in ref_sets:
                ref_sets[key] = self.reference_set_id or self._reference_set_for(header)
            out["referenceSetId"] = ref_sets[key]
        ids = []
        for out in outputs:
            ids.append(self._create(out))
        return {"@type": IMPORT_RESPONSE_TYPE, "readGroupSetIds": ids}

    def _reference_set_for(self, header: bam.HeaderInfo) -> str | None:
        refs = self.owner.backend.references
        if not header.references:
            return None
        found = refs.find_reference_set_for(header.references)
        if found:
            return found
        specs = [
            compact({"name": n, "length": length, "md5checksum": m5}) for n, length, m5 in header.references
        ]
        try:
            return refs.create_reference_set(specs, source_uri=header.uri)["id"]
        except ApiError as err:
            raise invalid_argument(
                f"sourceUris: {header.uri} has an unusable @SQ header: {err.message}"
            ) from None

    def _create(self, out: dict[str, Any]) -> str:
        owner = self.owner
        set_id = owner.backend.ids.new("C")
        reads: SetReads = out["reads"]
        header: bam.HeaderInfo = out["header"]
        groups = []
        for index, rg_name in enumerate(out["groupNames"]):
            rg = out["groups"].get(rg_name, {"ID": rg_name} if rg_name else {})
            groups.append(
                _read_group(
                    owner.backend.ids.new("G"),
                    self.dataset_id,
                    out["referenceSetId"],
                    rg,
                    header.programs if index == 0 else [],
                )
            )
        record = compact(
            {
                "id": set_id,
                "datasetId": self.dataset_id,
                "referenceSetId": out["referenceSetId"],
                "name": out["name"],
                "filename": PurePosixPath(header.uri).name,
                "readGroups": groups,
            }
        )
        record.setdefault("readGroups", [])
        owner._records[set_id] = record
        owner._by_dataset.setdefault(self.dataset_id, SortedList()).add(set_id)
        for index, group in enumerate(groups):
            owner._read_groups[group["id"]] = (set_id, index)
        owner.backend.reads.store(set_id, reads)
        return set_id


def _read_group(
    group_id: str, dataset_id: str, reference_set_id: str | None, rg: dict[str, Any], programs: list[dict]
) -> dict[str, Any]:
    try:
        insert_size = int(rg.get("PI") or 0)
    except (TypeError, ValueError):
        insert_size = 0
    return compact(
        {
            "id": group_id,
            "datasetId": dataset_id,
            "name": str(rg.get("ID", "")),
            "sampleId": str(rg.get("SM", "")),
            "description": str(rg.get("DS", "")),
            "experiment": compact(
                {
                    "libraryId": str(rg.get("LB", "")),
                    "platformUnit": str(rg.get("PU", "")),
                    "sequencingCenter": str(rg.get("CN", "")),
                    "instrumentModel": str(rg.get("PL", "")),
                }
            ),
            "predictedInsertSize": insert_size,
            "programs": [
                compact(
                    {
                        "id": str(pg.get("ID", "")),
                        "name": str(pg.get("PN", "")),
                        "commandLine": str(pg.get("CL", "")),
                        "prevProgramId": str(pg.get("PP", "")),
                        "version": str(pg.get("VN", "")),
                    }
                )
                for pg in programs
            ],
            "referenceSetId": reference_set_id,
            "info": {k: [str(v)] for k, v in rg.items() if k not in _RG_FIELDS},
        }
    )


# -- export -------------------------------------------------------------------------------


def _write_export(path: Path, uri: str, record: dict[str, Any], reads: SetReads, names: list[str]) -> None:
    if path.exists():
        raise failed_precondition(f"exportUri: {uri} already exists; export never overwrites an object")
    lengths = reads.coverage.lengths
    wanted = set(names)
    mapped = [n for n in sorted(lengths) if not wanted or n in wanted]
    with_unmapped = not wanted or UNMAPPED in wanted

    def lines():
        for name in mapped:
            ref = reads.references.get(name)
            if ref is not None:
                yield from reads.lines[ref.lo : ref.hi]
        if with_unmapped:
            yield from reads.lines[reads.unmapped_lo :]

    read_groups = []
    for group in record.get("readGroups", []):
        if not group.get("name"):
            continue
        rg: dict[str, Any] = {"ID": group["name"]}
        experiment = group.get("experiment", {})
        for key, value in (
            ("SM", group.get("sampleId")),
            ("DS", group.get("description")),
            ("LB", experiment.get("libraryId")),
            ("PU", experiment.get("platformUnit")),
            ("CN", experiment.get("sequencingCenter")),
            ("PL", experiment.get("instrumentModel")),
            ("PI", group.get("predictedInsertSize")),
        ):
            if value:
                rg[key] = value
        for key, values in group.get("info", {}).items():
            if len(key) == 2 and values:
                rg[key] = values[0]
        read_groups.append(rg)
    first = record.get("readGroups", [{}])[0] if record.get("readGroups") else {}
    programs = [
        {
            k: v
            for k, v in (
                ("ID", p.get("id")),
                ("PN", p.get("name")),
                ("CL", p.get("commandLine")),
                ("PP", p.get("prevProgramId")),
                ("VN", p.get("version")),
            )
            if v
        }
        for p in first.get("programs", [])
        if p.get("id")
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        references = [(n, lengths[n]) for n in sorted(lengths)]  # every reference, whatever the filter
        bam.write_bam(partial, references, read_groups, programs, lines())
        if path.exists():
            raise failed_precondition(f"exportUri: {uri} already exists; export never overwrites an object")
        os.replace(partial, path)
    except (OSError, ValueError) as exc:
        raise invalid_argument(f"exportUri: could not write {uri} ({exc})") from None
    finally:
        partial.unlink(missing_ok=True)


def _stem(uri: str) -> str:
    name = PurePosixPath(uri).name
    for suffix in (".bam", ".sam", ".cram"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
