"""Variant import: VCF, bgzipped VCF and BCF files in, call sets and variants out.

An :class:`ImportPlan` is the job of one ``variants.import`` operation (see
:mod:`.operations`): ``prepare`` reads every file off the lock (:func:`~.vcf.read_vcf`:
any malformed header or record fails the operation with an error naming the file and
line, and nothing is stored); ``commit`` runs under the lock and stores everything at once.

What the commit does (the mock's reading of the API's description):

* one new call set per sample name of the import (files naming the same sample share it),
  named after the sample, with ``sampleId`` the same name; the response lists their ids;
* the files' header lines are appended to the variant set's ``metadata`` (lines it holds
  already are not repeated);
* each record is merged with the set's variant of the same reference, start, end and
  alleles when there is one (calls added, ``info`` per ``infoMergeConfig``, as
  ``variants.merge`` does), else stored as a new variant. Records of one file never merge
  with each other.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockserver.backend.clock import epoch_millis
from mockserver.backend.variant_store import VariantStore, VcfSource, line_fields
from mockserver.backend.vcf import Run, VcfData, line_allele_key, read_vcf
from mockserver.errors import invalid_argument

if TYPE_CHECKING:
    from mockserver.backend import Backend

IMPORT_REQUEST_TYPE = "type.googleapis.com/google.genomics.v1.ImportVariantsRequest"
IMPORT_RESPONSE_TYPE = "type.googleapis.com/google.genomics.v1.ImportVariantsResponse"
MERGE_OPERATIONS = ("INFO_MERGE_OPERATION_UNSPECIFIED", "IGNORE_NEW", "MOVE_TO_CALLS")


def checked_merge_config(value: Any) -> dict[str, str]:
    """``infoMergeConfig``: info key -> InfoMergeOperation name (unspecified ones left out)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_argument("infoMergeConfig must be an object mapping info keys to operations")
    for key, operation in value.items():
        if operation not in MERGE_OPERATIONS:
            raise invalid_argument(
                f"infoMergeConfig.{key} must be one of {', '.join(MERGE_OPERATIONS)} (got {operation!r})"
            )
    return {key: op for key, op in value.items() if op != "INFO_MERGE_OPERATION_UNSPECIFIED"}


@dataclass
class ImportPlan:
    """The files of one import, read off the lock and committed in one step."""

    backend: Backend
    variant_set_id: str
    uris: list[str]
    normalize: bool
    config: dict[str, str]
    #: the references records may be on, with their lengths (None: any)
    lengths: dict[str, int] | None

    def prepare(self) -> list[VcfData]:
        files = self.backend.storage.expand_all(self.uris, field="sourceUris")
        references: dict[str, int | None] | None = dict(self.lengths) if self.lengths is not None else None
        return [read_vcf(path, uri, normalize=self.normalize, references=references) for uri, path in files]

    def commit(self, files: list[VcfData]) -> dict[str, Any]:
        backend = self.backend
        backend.variant_sets.require(self.variant_set_id)
        created = str(epoch_millis(backend.clock.now()))
        call_sets: dict[str, str] = {}
        for data in files:
            for sample in data.samples:
                if sample not in call_sets:
                    call_sets[sample] = backend.call_sets.create_imported(self.variant_set_id, sample)
        backend.variant_sets.append_metadata(self.variant_set_id, [m for d in files for m in d.metadata])
        store = backend.variants.store(self.variant_set_id)
        moved = tuple(key for key, op in self.config.items() if op == "MOVE_TO_CALLS")
        for data in files:
            ids = tuple(call_sets[sample] for sample in data.samples)
            source = VcfSource(data.uri, ids, len(ids) == 1, moved, created)
            for run in data.runs:
                if store.has_variants(run.reference):
                    run = self._merge_matching(store, run, source)
                if run.lines:
                    store.add_run(run, source)
        return {"@type": IMPORT_RESPONSE_TYPE, "callSetIds": list(call_sets.values())}

    def _merge_matching(self, store: VariantStore, run: Run, source: VcfSource) -> Run:
        """Merge the records matching a stored variant into it; the run of those left."""
        merge_one = self.backend.variants.merge_one
        kept = Run(run.reference, array("q"), array("q"), [])
        for start, end, line in zip(run.starts, run.ends, run.lines, strict=True):
            if store.matching(run.reference, start, end, *line_allele_key(line)) is None:
                kept.starts.append(start)
                kept.ends.append(end)
                kept.lines.append(line)
                continue
            merge_one(store, run.reference, start, end, line_fields(line, source), self.config)
        return kept
