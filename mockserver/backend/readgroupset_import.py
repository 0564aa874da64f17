"""Read group set import: SAM/BAM/CRAM files in, read group sets, read groups and reads out.

An :class:`ImportPlan` is the job of one ``readgroupsets.import`` operation
(see :mod:`.operations`): ``prepare`` reads the files off the lock and routes
every read to its destination set; ``commit`` runs under the lock, resolves
or creates reference sets and stores the sets all at once, so a failed import
leaves nothing behind. The partitioning and reference set rules are in
:mod:`.readgroupsets`; the ``@RG``/``@PG`` tag mapping is :mod:`.sam_tags`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mockserver.backend import bam
from mockserver.backend.base import compact
from mockserver.backend.reads import SetBuilder, SetReads
from mockserver.backend.sam_tags import program_fields, read_group_fields
from mockserver.errors import ApiError, invalid_argument

if TYPE_CHECKING:
    from mockserver.backend import Backend

IMPORT_RESPONSE_TYPE = "type.googleapis.com/google.genomics.v1.ImportReadGroupSetsResponse"


@dataclass
class ImportPlan:
    """The files of one import, read off the lock and committed in one step."""

    backend: Backend
    dataset_id: str
    uris: list[str]
    strategy: str
    reference_set_id: str | None

    def prepare(self) -> list[dict[str, Any]]:
        files = self.backend.storage.expand_all(self.uris, field="sourceUris")
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
            known = self.backend.reference_sets.reference_names(self.reference_set_id)
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
        backend = self.backend
        backend.datasets.require(self.dataset_id)
        if self.reference_set_id is not None:
            backend.reference_sets.require(self.reference_set_id, field="referenceSetId")
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
        refs = self.backend.reference_sets
        if not header.references:
            return None
        found = refs.find_for_header(header.references)
        if found:
            return found
        specs = [
            compact({"name": n, "length": length, "md5checksum": m5}) for n, length, m5 in header.references
        ]
        try:
            return refs.create(specs, source_uri=header.uri)["id"]
        except ApiError as err:
            raise invalid_argument(
                f"sourceUris: {header.uri} has an unusable @SQ header: {err.message}"
            ) from None

    def _create(self, out: dict[str, Any]) -> str:
        set_id = self.backend.ids.new("C")
        reads: SetReads = out["reads"]
        header: bam.HeaderInfo = out["header"]
        groups = []
        for index, rg_name in enumerate(out["groupNames"]):
            rg = out["groups"].get(rg_name, {"ID": rg_name} if rg_name else {})
            groups.append(
                _read_group(
                    self.backend.ids.new("G"),
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
        self.backend.read_group_sets.add(record, reads)
        return set_id


def _read_group(
    group_id: str, dataset_id: str, reference_set_id: str | None, rg: dict[str, Any], programs: list[dict]
) -> dict[str, Any]:
    fields = read_group_fields(rg)
    fields["experiment"] = compact(fields["experiment"])
    info = fields.pop("info")
    return compact(
        {
            "id": group_id,
            "datasetId": dataset_id,
            **fields,
            "programs": [compact(program_fields(pg)) for pg in programs],
            "referenceSetId": reference_set_id,
            "info": info,
        }
    )


def _stem(uri: str) -> str:
    name = PurePosixPath(uri).name
    for suffix in (".bam", ".sam", ".cram"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
