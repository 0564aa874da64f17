"""Reference sets and references: the coordinate spaces other resources name.

Read-only over the API (get and search). They come into being from seed data
(:meth:`References.load_seed`) and from imported BAM headers
(:meth:`References.create_reference_set`, called by the read group set import
with no principal and no permission check). Reference data belongs to no
dataset: the API methods authorize ``genomics.referenceSets.{get,list}`` and
``genomics.references.{get,list}`` on ``referenceSets/<id>`` /
``references/<id>`` (``referenceSets/-`` and ``references/-`` for searches),
which IAM treats as readable by any authenticated caller.

Checksums, as the real API defines them:

* ``Reference.md5checksum`` is the lowercase hex MD5 of the upper-cased,
  whitespace-free sequence (SAM's ``@SQ M5``);
* ``ReferenceSet.md5checksum`` is the MD5 of its references' checksums,
  sorted and concatenated, so it does not depend on reference order.

Decisions where the documentation is silent (tested):

* a reference known only by name and length (a BAM header without ``M5`` and
  no bases) gets a *placeholder* checksum, the MD5 of
  ``"genomics-mock-placeholder:<name>:<length>"``: stable and well-formed, but
  not a sequence checksum, so :meth:`find_reference_set_for` never compares it
  with a header's real ``M5``;
* references with the same name, length and real checksum are one shared
  ``Reference`` (a reference may belong to several reference sets);
  placeholder references are never shared, as equal name and length do not
  make equal sequences;
* within one set, reference names and checksums must be unique (the doc's
  rule for checksums; names because everything else looks references up by name);
* ``SearchReferences`` with an unknown ``referenceSetId`` is 404 naming it;
* results are ordered by id, a total order independent of page size.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from sortedcontainers import SortedList

from mockserver.backend.base import Component, compact, public, synchronized
from mockserver.backend.iam import Principal
from mockserver.backend.ids import is_valid_id
from mockserver.backend.paging import body_page_size
from mockserver.backend.request_fields import optional_str, request_body, string_list
from mockserver.errors import invalid_argument, not_found

SEARCH_DEFAULT_PAGE_SIZE = 1024
SEARCH_MAX_PAGE_SIZE = 4096
PLACEHOLDER_PREFIX = "genomics-mock-placeholder"
ANY_REFERENCE_SET = "referenceSets/-"
ANY_REFERENCE = "references/-"

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_WHITESPACE = re.compile(r"\s+")


def sequence_md5(bases: str) -> str:
    """SAM ``M5``: MD5 of the upper-cased sequence without whitespace."""
    return hashlib.md5(_WHITESPACE.sub("", bases).upper().encode("ascii")).hexdigest()


def placeholder_md5(name: str, length: int) -> str:
    """The stable stand-in checksum of a reference whose sequence is unknown."""
    return hashlib.md5(f"{PLACEHOLDER_PREFIX}:{name}:{length}".encode()).hexdigest()


def reference_set_md5(reference_md5s: Iterable[str]) -> str:
    """Order-independent set checksum: MD5 of the sorted, concatenated reference checksums."""
    return hashlib.md5("".join(sorted(reference_md5s)).encode("ascii")).hexdigest()


class References(Component):
    """Reference sets and the references they hold (both in this one component)."""

    def reset(self) -> None:
        self._sets: dict[str, dict[str, Any]] = {}
        self._refs: dict[str, dict[str, Any]] = {}
        self._bases: dict[str, str] = {}
        #: reference ids whose md5checksum is a placeholder, not a sequence checksum
        self._placeholder: set[str] = set()
        #: reference set id -> {reference name: reference id}
        self._names: dict[str, dict[str, str]] = {}
        #: (name, length, real md5) -> shared reference id
        self._shared: dict[tuple[str, int, str], str] = {}
        self._set_ids: SortedList = SortedList()
        self._ref_ids: SortedList = SortedList()
        self._set_by_md5: dict[str, set[str]] = {}
        self._ref_by_md5: dict[str, set[str]] = {}
        #: (accession, id) pairs, for prefix scans
        self._set_accessions: SortedList = SortedList()
        self._ref_accessions: SortedList = SortedList()

    # -- internal API other components call (no principal, no permission check) ----------

    @synchronized
    def create_reference_set(
        self,
        references: list[dict[str, Any]],
        *,
        assembly_id: str | None = None,
        source_uri: str | None = None,
        description: str | None = None,
        source_accessions: list[str] | None = None,
        ncbi_taxon_id: int | None = None,
        reference_set_id: str | None = None,
    ) -> dict[str, Any]:
        """Store a new reference set (and any references not already known); returns it.

        Each reference is ``{"name", "length", "md5checksum"?, "bases"?,
        "sourceAccessions"?, "sourceUri"?, "ncbiTaxonId"?, "id"?}``. Invalid
        input is a 400 naming ``references[i].<field>``; nothing is stored then.
        """
        if not isinstance(references, list) or not references:
            raise invalid_argument("references: a reference set needs at least one reference")
        if reference_set_id is not None:
            self._check_new_id(reference_set_id, self._sets, "id")
        prepared = [self._prepare_reference(spec, f"references[{i}]") for i, spec in enumerate(references)]
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
        reference_ids = [self._store_reference(*item) for item in prepared]
        record = compact(
            {
                "id": set_id,
                "referenceIds": reference_ids,
                "md5checksum": reference_set_md5(md5s),
                "assemblyId": optional_str(assembly_id, "assemblyId"),
                "description": optional_str(description, "description"),
                "sourceUri": optional_str(source_uri, "sourceUri"),
                "sourceAccessions": string_list(source_accessions, "sourceAccessions"),
                "ncbiTaxonId": _optional_int(ncbi_taxon_id, "ncbiTaxonId"),
            }
        )
        self._sets[set_id] = record
        self._names[set_id] = {self._refs[rid]["name"]: rid for rid in reference_ids}
        self._set_ids.add(set_id)
        self._set_by_md5.setdefault(record["md5checksum"], set()).add(set_id)
        for accession in record.get("sourceAccessions", []):
            self._set_accessions.add((accession, set_id))
        return public(record)

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
                self.create_reference_set(
                    spec.get("references") or [],
                    assembly_id=spec.get("assemblyId"),
                    source_uri=spec.get("sourceUri"),
                    description=spec.get("description"),
                    source_accessions=spec.get("sourceAccessions"),
                    ncbi_taxon_id=spec.get("ncbiTaxonId"),
                    reference_set_id=spec.get("id"),
                )
            )
        return created

    @synchronized
    def find_reference_set_for(self, header_refs: list[tuple[str, int, str | None]]) -> str | None:
        """An existing reference set covering every ``(name, length, md5)`` of a header.

        A set covers a header reference when it holds a reference of that name
        and length, with the same checksum when both sides know a real one.
        Among covering sets the smallest wins (so a set with exactly the
        header's names beats its supersets), then the lowest id. An empty
        header matches nothing.
        """
        if not header_refs:
            return None
        best: tuple[int, str] | None = None
        for set_id in self._set_ids:
            names = self._names[set_id]
            if all(self._covers(names.get(name), length, md5) for name, length, md5 in header_refs):
                rank = (len(names), set_id)
                best = rank if best is None or rank < best else best
        return best[1] if best else None

    @synchronized
    def require_reference_set(self, reference_set_id: str, field: str = "referenceSetId") -> dict[str, Any]:
        return public(self._require_set(reference_set_id, field))

    @synchronized
    def require_reference(self, reference_id: str, field: str = "referenceId") -> dict[str, Any]:
        return public(self._require_ref(reference_id, field))

    @synchronized
    def reference_names(self, reference_set_id: str) -> set[str]:
        self._require_set(reference_set_id, "referenceSetId")
        return set(self._names[reference_set_id])

    @synchronized
    def reference_by_name(self, reference_set_id: str, name: str) -> dict[str, Any] | None:
        self._require_set(reference_set_id, "referenceSetId")
        ref_id = self._names[reference_set_id].get(name)
        return public(self._refs[ref_id]) if ref_id else None

    @synchronized
    def bases(self, reference_id: str) -> str | None:
        """The stored sequence (upper case, no whitespace), None when only its length is known."""
        self._require_ref(reference_id, "referenceId")
        return self._bases.get(reference_id)

    @synchronized
    def is_known_reference_set(self, reference_set_id: str) -> bool:
        return isinstance(reference_set_id, str) and reference_set_id in self._sets

    @synchronized
    def validate_annotation_reference(
        self, reference_set_id: str | None, reference_name: str | None, reference_id: str | None
    ) -> None:
        """400 when an annotation names a reference outside its set's known reference set.

        Does nothing when the reference set id is unknown to the mock (annotation
        sets may name reference sets the mock was never given).
        """
        if not reference_set_id or not self.is_known_reference_set(reference_set_id):
            return
        names = self._names[reference_set_id]
        if reference_id:
            if reference_id not in names.values():
                raise invalid_argument(
                    f"referenceId {reference_id!r} is not a reference of reference set {reference_set_id!r}"
                )
            actual = self._refs[reference_id]["name"]
            if reference_name and reference_name != actual:
                raise invalid_argument(
                    f"referenceName {reference_name!r} does not match referenceId {reference_id!r} "
                    f"(named {actual!r})"
                )
        elif reference_name and reference_name not in names:
            raise invalid_argument(
                f"referenceName {reference_name!r} is not a reference of reference set {reference_set_id!r}"
            )

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def get_reference_set(self, principal: Principal, reference_set_id: str) -> dict[str, Any]:
        record = self._require_set(reference_set_id, "referenceSetId")
        resource = f"referenceSets/{reference_set_id}"
        self.backend.iam.authorize(principal, "genomics.referenceSets.get", resource)
        return public(record)

    @synchronized
    def get_reference(self, principal: Principal, reference_id: str) -> dict[str, Any]:
        record = self._require_ref(reference_id, "referenceId")
        self.backend.iam.authorize(principal, "genomics.references.get", f"references/{reference_id}")
        return public(record)

    @synchronized
    def search_reference_sets(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        md5s = string_list(body.get("md5checksums"), "md5checksums")
        accessions = string_list(body.get("accessions"), "accessions")
        assembly = optional_str(body.get("assemblyId"), "assemblyId")
        size = body_page_size(
            body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, maximum=SEARCH_MAX_PAGE_SIZE
        )
        self.backend.iam.authorize(principal, "genomics.referenceSets.list", ANY_REFERENCE_SET)
        candidates = _intersect(
            _by_md5(self._set_by_md5, md5s) if md5s else None,
            _by_prefix(self._set_accessions, accessions) if accessions else None,
        )
        needle = assembly.casefold() if assembly else None

        def keep(set_id: str) -> bool:
            return needle is None or needle in self._sets[set_id].get("assemblyId", "").casefold()

        query: dict[str, Any] = {"md5checksums": sorted(set(md5s)), "accessions": sorted(set(accessions))}
        query["assemblyId"] = assembly
        items, token = self.backend.pager.page(
            "referencesets.search",
            query,
            page_token=body.get("pageToken"),
            size=size,
            stream=lambda c: (self._sets[i] for i in _after(self._set_ids, candidates, c) if keep(i)),
            key=lambda record: [record["id"]],
        )
        return compact({"referenceSets": [public(r) for r in items], "nextPageToken": token})

    @synchronized
    def search_references(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        md5s = string_list(body.get("md5checksums"), "md5checksums")
        accessions = string_list(body.get("accessions"), "accessions")
        set_id = optional_str(body.get("referenceSetId"), "referenceSetId")
        size = body_page_size(
            body.get("pageSize"), default=SEARCH_DEFAULT_PAGE_SIZE, maximum=SEARCH_MAX_PAGE_SIZE
        )
        if set_id:
            self._require_set(set_id, "referenceSetId")
        self.backend.iam.authorize(principal, "genomics.references.list", ANY_REFERENCE)
        candidates = _intersect(
            _by_md5(self._ref_by_md5, md5s) if md5s else None,
            _by_prefix(self._ref_accessions, accessions) if accessions else None,
            set(self._names[set_id].values()) if set_id else None,
        )
        query: dict[str, Any] = {"md5checksums": sorted(set(md5s)), "accessions": sorted(set(accessions))}
        query["referenceSetId"] = set_id
        items, token = self.backend.pager.page(
            "references.search",
            query,
            page_token=body.get("pageToken"),
            size=size,
            stream=lambda cursor: (self._refs[i] for i in _after(self._ref_ids, candidates, cursor)),
            key=lambda record: [record["id"]],
        )
        return compact({"references": [public(r) for r in items], "nextPageToken": token})

    # -- internals --------------------------------------------------------------------

    def _require_set(self, reference_set_id: Any, field: str) -> dict[str, Any]:
        record = self._sets.get(reference_set_id) if isinstance(reference_set_id, str) else None
        if record is None:
            raise not_found(f"Reference set {reference_set_id!r} not found ({field})")
        return record

    def _require_ref(self, reference_id: Any, field: str) -> dict[str, Any]:
        record = self._refs.get(reference_id) if isinstance(reference_id, str) else None
        if record is None:
            raise not_found(f"Reference {reference_id!r} not found ({field})")
        return record

    def _covers(self, ref_id: str | None, length: int, md5: str | None) -> bool:
        if ref_id is None:
            return False
        ref = self._refs[ref_id]
        if int(ref["length"]) != int(length):
            return False
        if md5 and ref_id not in self._placeholder:
            return ref["md5checksum"] == md5.lower()
        return True

    def _check_new_id(self, value: Any, existing: dict[str, Any], field: str) -> None:
        if not isinstance(value, str) or not is_valid_id(value):
            raise invalid_argument(f"{field}: {value!r} is not a valid id (no ':' or '/')")
        if value in existing:
            raise invalid_argument(f"{field}: {value!r} already exists")

    def _prepare_reference(self, spec: Any, where: str) -> tuple[dict[str, Any], str | None, bool]:
        """Validate one input reference: (record without id, cleaned bases, placeholder?)."""
        if not isinstance(spec, dict):
            raise invalid_argument(f"{where} must be an object")
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise invalid_argument(f"{where}.name is required")
        length = _length(spec.get("length"), f"{where}.length")
        bases = spec.get("bases")
        if bases is not None:
            if not isinstance(bases, str) or not bases.isascii():
                raise invalid_argument(f"{where}.bases must be an ASCII string")
            bases = _WHITESPACE.sub("", bases).upper()
            if len(bases) != length:
                raise invalid_argument(f"{where}.bases: {len(bases)} bases but length is {length}")
        md5 = spec.get("md5checksum")
        if md5 is not None and md5 != "":
            if not isinstance(md5, str) or not _MD5.match(md5):
                raise invalid_argument(f"{where}.md5checksum must be 32 hexadecimal digits")
            md5 = md5.lower()
            if bases is not None and sequence_md5(bases) != md5:
                raise invalid_argument(f"{where}.md5checksum does not match the MD5 of its bases")
        placeholder = False
        if not md5:
            if bases is not None:
                md5 = sequence_md5(bases)
            else:
                md5, placeholder = placeholder_md5(name, length), True
        ref_id = spec.get("id")
        if ref_id is not None:
            self._check_new_id(ref_id, self._refs, f"{where}.id")
        record = {
            "id": ref_id,
            "name": name,
            "length": str(length),
            "md5checksum": md5,
            "sourceUri": optional_str(spec.get("sourceUri"), f"{where}.sourceUri"),
            "sourceAccessions": string_list(spec.get("sourceAccessions"), f"{where}.sourceAccessions"),
            "ncbiTaxonId": _optional_int(spec.get("ncbiTaxonId"), f"{where}.ncbiTaxonId"),
        }
        return record, bases, placeholder

    def _store_reference(self, record: dict[str, Any], bases: str | None, placeholder: bool) -> str:
        """Store a prepared reference (or reuse the identical shared one); returns its id."""
        key = (record["name"], int(record["length"]), record["md5checksum"])
        if record["id"] is None and key in self._shared:  # placeholders never enter _shared
            ref_id = self._shared[key]
            if bases is not None:
                self._bases.setdefault(ref_id, bases)
            return ref_id
        ref_id = record["id"] or self.backend.ids.new("E")
        self.backend.ids.reserve(ref_id)
        stored = compact({**record, "id": ref_id})
        self._refs[ref_id] = stored
        self._ref_ids.add(ref_id)
        self._ref_by_md5.setdefault(stored["md5checksum"], set()).add(ref_id)
        for accession in stored.get("sourceAccessions", []):
            self._ref_accessions.add((accession, ref_id))
        if bases is not None:
            self._bases[ref_id] = bases
        if placeholder:
            self._placeholder.add(ref_id)
        else:
            self._shared.setdefault(key, ref_id)
        return ref_id


# -- request helpers ------------------------------------------------------------------


def _optional_int(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise invalid_argument(f"{field} must be a 32-bit integer")
    return value


def _length(value: Any, field: str) -> int:
    """int64 lengths arrive as JSON strings or numbers."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_argument(f"{field} is required (a non-negative integer)")
    if not 0 <= value < 2**63:
        raise invalid_argument(f"{field} must be a non-negative int64 (got {value})")
    return value


def _by_md5(index: dict[str, set[str]], md5s: list[str]) -> set[str]:
    return set().union(*(index.get(md5, set()) for md5 in md5s))


def _by_prefix(index: SortedList, prefixes: list[str]) -> set[str]:
    """Ids having any accession that starts with any of ``prefixes``."""
    found: set[str] = set()
    for prefix in set(prefixes):
        for accession, item_id in index.irange(minimum=(prefix, "")):
            if not accession.startswith(prefix):
                break
            found.add(item_id)
    return found


def _intersect(*candidates: set[str] | None) -> set[str] | None:
    """None means "no filter"; otherwise the ids every given filter allows."""
    given = [c for c in candidates if c is not None]
    return set.intersection(*given) if given else None


def _after(all_ids: SortedList, candidates: set[str] | None, cursor: list[Any] | None) -> Iterator[str]:
    """Ids in order, strictly after the cursor, restricted to ``candidates`` when given."""
    start = cursor[0] if cursor else None
    if not isinstance(start, str | None):
        raise invalid_argument("invalid page token")
    if candidates is None:
        yield from all_ids.irange(minimum=start, inclusive=(False, False))
        return
    ordered = sorted(candidates)
    yield from ordered[bisect.bisect_right(ordered, start) if start is not None else 0 :]
