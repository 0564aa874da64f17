"""Reference sets: the assemblies (GRCh37, a BAM file's header …) references belong to.

Read-only over the API (get and search). Google's public sets (GRCh38, GRCh37,
hg19, hs37d5, GRCh37lite) are built in (:mod:`.public_references`: found like
any other set, never stored in the component's state, untouched by reset);
more come into being from seed data (:meth:`ReferenceSets.load_seed`) and from
imported BAM headers (:meth:`ReferenceSets.create`, called by the read group
set import with no principal and no permission check). Reference data belongs to no dataset: the
API methods authorize ``genomics.referenceSets.{get,list}`` on
``referenceSets/<id>`` (``referenceSets/-`` for a search), which IAM treats as
readable by any authenticated caller. The references themselves are
:mod:`.references`; the rules both share are stated there.

``ReferenceSet.md5checksum`` is the MD5 of its references' checksums, sorted
and concatenated, so it does not depend on reference order. Within one set,
reference names and checksums must be unique (the doc's rule for checksums;
names because everything else looks references up by name).

What names a reference within a set's data (annotations, variant sets) is
:meth:`ReferenceSets.resolve`: a name or an id, each filled in from the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from mockserver.backend.base import Component, Kind, compact, public, synchronized
from mockserver.backend.fasta import fasta_contigs
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.public_references import PUBLIC, chained, reference_set_md5
from mockserver.backend.references import Lookup, ReferenceSearch, checked_int32, lookup_of
from mockserver.backend.request_fields import optional_str, string_list
from mockserver.backend.tables import TableSpec, json_records
from mockserver.backend.tables import string_list as stored_strings
from mockserver.errors import invalid_argument

ANY_REFERENCE_SET = "referenceSets/-"
SEARCH = Listing("referencesets.search", "referenceSets")


class Resolved(NamedTuple):
    """A reference named in a reference set's data: both its name and id when the set is known,
    and its length (None when the set is not known to the mock)."""

    name: str | None
    id: str | None
    length: int | None


def _reference_set_rules(record: dict[str, Any]) -> None:
    stored_strings(record.get("referenceIds"), "referenceIds")
    stored_strings(record.get("sourceAccessions", []), "sourceAccessions")


class ReferenceSets(Component):
    kind = Kind("Reference set", "referenceSetId", "genomics.referenceSets", public=True)
    tables = (TableSpec("records", json_records("md5checksum", check=_reference_set_rules)),)
    derived = Component.derived | {"_names", "_lookup"}

    def reset(self) -> None:
        super().reset()
        #: reference set id -> {reference name: reference id}
        self._names: dict[str, dict[str, str]] = {}
        self._lookup = Lookup()

    def after_restore(self) -> None:
        """Names come from the references (installed before any index is rebuilt)."""
        references = self.backend.references
        for set_id, record in self._records.items():
            found = [references.find(ref_id) for ref_id in record["referenceIds"]]
            self._names[set_id] = {ref["name"]: ref["id"] for ref in found if ref is not None}
            self._lookup.add(record)

    def find(self, item_id: Any) -> dict[str, Any] | None:
        """A stored reference set, or a built-in one."""
        found = PUBLIC.sets.get(item_id) if isinstance(item_id, str) else None
        return found if found is not None else super().find(item_id)

    def _names_of(self, reference_set_id: str) -> Mapping[str, str]:
        """{reference name: reference id} of a known set."""
        public_names = PUBLIC.names.get(reference_set_id)
        return public_names if public_names is not None else self._names[reference_set_id]

    # -- internal API other components call (no principal, no permission check) ----------

    @synchronized
    def create(
        self,
        references: list[dict[str, Any]],
        *,
        assembly_id: str | None = None,
        source_uri: str | None = None,
        description: str | None = None,
        source_accessions: list[str] | None = None,
        ncbi_taxon_id: int | None = None,
        reference_set_id: str | None = None,
        fasta: str | None = None,
    ) -> dict[str, Any]:
        """Store a new reference set (and any references not already known); returns it.

        Each reference is ``{"name", "length", "md5checksum"?, "bases"?,
        "sourceAccessions"?, "sourceUri"?, "ncbiTaxonId"?, "id"?}``. Invalid
        input is a 400 naming ``references[i].<field>``; nothing is stored then.
        With ``fasta`` (a ``gs://`` URI of a FASTA file) the references are that file's
        sequences (all of them when ``references`` is empty), with their real checksums,
        and their bases are served from the file.
        """
        contigs: dict[str, str] = {}
        if fasta is not None:
            references, contigs = self._fasta_references(references, fasta)
        if not isinstance(references, list) or not references:
            raise invalid_argument("references: a reference set needs at least one reference")
        store = self.backend.references
        if reference_set_id is not None:
            store.check_new_id(reference_set_id, self._records, PUBLIC.sets, field="id")
        prepared = [store.prepare(spec, f"references[{i}]") for i, spec in enumerate(references)]
        names: dict[str, int] = {}
        md5s: dict[str, int] = {}
        for i, (record, _bases, _placeholder) in enumerate(prepared):
            if record["name"] in names:
                raise invalid_argument(
                    f"references[{i}].name: {record['name']!r} repeats references[{names[record['name']]}]"
                )
            if record["md5checksum"] in md5s:
                raise invalid_argument(
                    f"references[{i}].md5checksum: {record['md5checksum']} repeats "
                    f"references[{md5s[record['md5checksum']]}] (checksums are unique within a set)"
                )
            names[record["name"]] = i
            md5s[record["md5checksum"]] = i
        set_id = reference_set_id or self.backend.ids.new("E")
        self.backend.ids.reserve(set_id)
        reference_ids = [store.store(*item) for item in prepared]
        record = compact(
            {
                "id": set_id,
                "referenceIds": reference_ids,
                "md5checksum": reference_set_md5(md5s),
                "assemblyId": optional_str(assembly_id, "assemblyId"),
                "description": optional_str(description, "description"),
                "sourceUri": optional_str(source_uri, "sourceUri"),
                "sourceAccessions": string_list(source_accessions, "sourceAccessions"),
                "ncbiTaxonId": checked_int32(ncbi_taxon_id, "ncbiTaxonId"),
            }
        )
        self._records[set_id] = record
        self._names[set_id] = dict(zip(names, reference_ids, strict=True))
        self._lookup.add(record)
        for name, reference_id in self._names[set_id].items():
            if name in contigs:
                store.attach_fasta(reference_id, contigs[name], name)
        return public(record)

    def _fasta_references(
        self, references: list[dict[str, Any]] | None, uri: str
    ) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The references of a set made from a FASTA file (checked against ``references`` when
        given), and the file each reads its bases from."""
        sequences = {name: (length, md5) for name, length, md5 in
                     fasta_contigs(self.backend.storage.path(uri, field="fasta"), uri)}
        if not references:
            references = [{"name": name} for name in sequences]
        specs = []
        for i, spec in enumerate(references):
            name = spec.get("name") if isinstance(spec, dict) else None
            if name not in sequences:
                raise invalid_argument(f"references[{i}].name: {name!r} is not a sequence of {uri}")
            length, md5 = sequences[name]
            if spec.get("length") not in (None, length, str(length)):
                raise invalid_argument(f"references[{i}].length: {uri} has {length} bases of {name!r}")
            if spec.get("md5checksum") not in (None, "", md5):
                raise invalid_argument(
                    f"references[{i}].md5checksum: the bases of {name!r} in {uri} have {md5}"
                )
            specs.append({**spec, "length": length, "md5checksum": md5})
        return specs, {name: uri for name in sequences}

    @synchronized
    def load_seed(self, reference_sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create reference sets from seed dicts shaped like ReferenceSet plus ``references``.

        Each dict: ``{"id"?, "assemblyId"?, "description"?, "sourceUri"?,
        "sourceAccessions"?, "ncbiTaxonId"?, "references": [reference dicts]}``;
        a given ``md5checksum`` is ignored (always computed).
        """
        created = []
        for i, spec in enumerate(reference_sets):
            if not isinstance(spec, dict):
                raise invalid_argument(f"referenceSets[{i}] must be an object")
            created.append(
                self.create(
                    spec.get("references") or [],
                    assembly_id=spec.get("assemblyId"),
                    source_uri=spec.get("sourceUri"),
                    description=spec.get("description"),
                    source_accessions=spec.get("sourceAccessions"),
                    ncbi_taxon_id=spec.get("ncbiTaxonId"),
                    reference_set_id=spec.get("id"),
                    fasta=spec.get("fasta"),
                )
            )
        return created

    @synchronized
    def find_for_header(self, header_refs: list[tuple[str, int, str | None]]) -> str | None:
        """An existing reference set covering every ``(name, length, md5)`` of a header.

        A set covers a header reference when it holds a reference of that name
        and length, with the same checksum when both sides know a real one
        (:meth:`References.covers`). Among covering sets the smallest wins (so a
        set with exactly the header's names beats its supersets), then the
        lowest id. An empty header matches nothing.
        """
        if not header_refs:
            return None
        covers = self.backend.references.covers
        best: tuple[int, str] | None = None
        for set_id in [*self._lookup.ids, *PUBLIC.sets]:
            names = self._names_of(set_id)
            if all(covers(names.get(name), length, md5) for name, length, md5 in header_refs):
                rank = (len(names), set_id)
                best = rank if best is None or rank < best else best
        return best[1] if best else None

    @synchronized
    def reference_names(self, reference_set_id: str) -> set[str]:
        self.require(reference_set_id)
        return set(self._names_of(reference_set_id))

    @synchronized
    def lengths(self, reference_set_id: str) -> dict[str, int] | None:
        """Reference name -> length of a known set (None: the mock does not know the set)."""
        if self.find(reference_set_id) is None:
            return None
        records = self.backend.references
        names = self._names_of(reference_set_id)
        return {name: int(records.require(ref_id)["length"]) for name, ref_id in names.items()}

    def reference_ids(self, reference_set_id: str) -> set[str]:
        """The ids of a known set's references."""
        return set(self._names_of(reference_set_id).values())

    @synchronized
    def reference_by_name(self, reference_set_id: str, name: str) -> dict[str, Any] | None:
        self.require(reference_set_id)
        ref_id = self._names_of(reference_set_id).get(name)
        return public(self.backend.references.require(ref_id)) if ref_id else None

    @synchronized
    def require_existing(self, reference_set_id: str | None, field: str = "referenceSetId") -> None:
        """400 naming ``field`` unless ``reference_set_id`` names a reference set the server knows
        (what annotation sets and variant sets refer to must exist)."""
        if reference_set_id and self.find(reference_set_id) is None:
            raise invalid_argument(
                f"{field}: reference set {reference_set_id!r} does not exist (search reference sets "
                "for the ones this server knows)"
            )

    @synchronized
    def resolve(self, reference_set_id: str | None, name: str | None, reference_id: str | None) -> Resolved:
        """The reference a name and/or id designate in a known reference set: the other one filled
        in, or a 400 when the id is not the set's, the name is not the set's, or they disagree.

        A set unknown to the mock (data restored from an older state) checks and fills nothing.
        """
        if not reference_set_id or self.find(reference_set_id) is None:
            return Resolved(name, reference_id, None)
        names = self._names_of(reference_set_id)
        references = self.backend.references
        if reference_id:
            if reference_id not in names.values():
                raise invalid_argument(
                    f"referenceId {reference_id!r} is not a reference of reference set {reference_set_id!r}"
                )
            actual = references.require(reference_id)
            if name and name != actual["name"]:
                raise invalid_argument(
                    f"referenceName {name!r} does not match referenceId {reference_id!r} "
                    f"(named {actual['name']!r})"
                )
            return Resolved(actual["name"], reference_id, int(actual["length"]))
        if name:
            found = names.get(name)
            if found is None:
                raise invalid_argument(
                    f"referenceName {name!r} is not a reference of reference set {reference_set_id!r}"
                )
            return Resolved(name, found, int(references.require(found)["length"]))
        return Resolved(None, None, None)

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        search = ReferenceSearch.parse(body, SEARCH, "assemblyId")
        self.backend.iam.authorize(principal, "genomics.referenceSets.list", ANY_REFERENCE_SET)
        needle = search.extra.casefold() if search.extra else None
        return self.page_of(
            SEARCH,
            search.query,
            [lookup.matching(search.md5s, search.accessions) for lookup in (self._lookup, PUBLIC_SET_LOOKUP)],
            (lambda record: needle in record.get("assemblyId", "").casefold()) if needle else None,
            page_size=search.page_size,
            page_token=search.page_token,
            records=chained(self._records, PUBLIC.sets),
        )


PUBLIC_SET_LOOKUP = lookup_of(PUBLIC.sets.values())
