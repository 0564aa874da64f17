"""References: the sequences reads and annotations are placed on.

Read-only over the API (get and search); a reference comes into being with
the reference set that holds it (:mod:`.referencesets`), and Google's public
references are built in (:mod:`.public_references`: found by get and search
like any other, but never stored in the component's state). The API methods
authorize ``genomics.references.{get,list}`` on ``references/<id>``
(``references/-`` for a search), which IAM treats as readable by any
authenticated caller.

Checksums, as the real API defines them: ``Reference.md5checksum`` is the
lowercase hex MD5 of the upper-cased, whitespace-free sequence (SAM's ``@SQ
M5``).

Decisions where the documentation is silent (tested):

* a reference known only by name and length (a BAM header without ``M5`` and
  no bases) gets a *placeholder* checksum, the MD5 of
  ``"genomics-mock-placeholder:<name>:<length>"``: stable and well-formed, but
  not a sequence checksum, so :meth:`References.covers` never compares it
  with a header's real ``M5``;
* references with the same name, length and real checksum are one shared
  ``Reference`` (a reference may belong to several reference sets);
  placeholder references are never shared, as equal name and length do not
  make equal sequences;
* ``SearchReferences`` with an unknown ``referenceSetId`` is 404 naming it;
* results (of both searches) are ordered by id, a total order independent of page size.

``references.bases.list`` serves the bases a reference was given: inline in a seed
(``bases``) or from its reference set's FASTA file (:mod:`.fasta`). The page is
``[offset, offset + pageSize)`` of the requested ``[start, end)`` (``end`` unset or 0: the
reference's length), upper case; its page token carries the next offset and is bound to
the reference and range. A reference without bases is 400 FAILED_PRECONDITION; a range
past the end of the reference is 400 naming the end.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from mockserver.backend.base import Component, Kind, compact, synchronized
from mockserver.backend.fasta import fasta_bases
from mockserver.backend.ids import is_valid_id
from mockserver.backend.paging import INVALID_TOKEN, Listing, page_size_for
from mockserver.backend.principals import Principal
from mockserver.backend.public_references import PUBLIC, chained, placeholder_md5
from mockserver.backend.request_fields import optional_int64, optional_str, request_body, string_list
from mockserver.backend.tables import TableSpec, fail, flag, json_object, json_records, text
from mockserver.errors import failed_precondition, invalid_argument

ANY_REFERENCE = "references/-"
SEARCH = Listing("references.search", "references")
BASES = "references.bases.list"

_MD5 = re.compile(r"^[0-9a-fA-F]{32}$")
_WHITESPACE = re.compile(r"\s+")


def sequence_md5(bases: str) -> str:
    """SAM ``M5``: MD5 of the upper-cased sequence without whitespace."""
    return hashlib.md5(_WHITESPACE.sub("", bases).upper().encode("ascii")).hexdigest()


def _reference_rules(record: dict[str, Any]) -> None:
    if not str(record["length"]).isdigit():
        fail("must be a decimal string", "length")
    string_list(record.get("sourceAccessions", []), "sourceAccessions")


def _sequence(_key: str, value: Any) -> str:
    if not (text(value) or "").isascii():
        fail("must be an ASCII string")
    return value


def _fasta_source(value: Any) -> dict[str, str]:
    source = json_object(value)
    if set(source) != {"uri", "contig"}:
        fail("must be {uri, contig}")
    if not str(text(source["uri"], "uri")).startswith("gs://"):
        fail("must be a gs:// URI", "uri")
    text(source["contig"], "contig")
    return source


class References(Component):
    """Every reference of every reference set (a shared one once)."""

    kind = Kind("Reference", "referenceId", "genomics.references", public=True)
    tables = (
        TableSpec("records", json_records("name", "length", "md5checksum", check=_reference_rules)),
        #: reference id -> its sequence, when known
        TableSpec("bases", _sequence),
        #: reference ids whose md5checksum is a placeholder, not a sequence checksum
        TableSpec("placeholders", flag),
        #: reference id -> the FASTA file holding its bases
        TableSpec("fasta", lambda _key, value: _fasta_source(value)),
    )
    derived = Component.derived | {"_shared", "_lookup"}

    def reset(self) -> None:
        super().reset()
        self._bases = self.table("bases")
        self._placeholder = self.table("placeholders")
        #: reference id -> {"uri": gs:// URI of a FASTA file, "contig": sequence name in it}
        self._fasta = self.table("fasta")
        #: (name, length, real md5) -> shared reference id
        self._shared: dict[tuple[str, int, str], str] = {}
        self._lookup = Lookup()

    def after_restore(self) -> None:
        for ref_id, record in self._records.items():
            self._lookup.add(record)
            if ref_id not in self._placeholder:
                key = (record["name"], int(record["length"]), record["md5checksum"])
                self._shared.setdefault(key, ref_id)

    def find(self, item_id: Any) -> dict[str, Any] | None:
        """A stored reference, or a built-in one."""
        found = PUBLIC.references.get(item_id) if isinstance(item_id, str) else None
        return found if found is not None else super().find(item_id)

    @synchronized
    def bases(self, reference_id: str) -> str | None:
        """The stored sequence (upper case, no whitespace), None when only its length is known."""
        self.require(reference_id)
        return self._bases.get(reference_id)

    def attach_fasta(self, reference_id: str, uri: str, contig: str) -> None:
        """Serve a reference's bases from a FASTA file (the first file given wins)."""
        if reference_id not in self._fasta:
            self._fasta[reference_id] = {"uri": uri, "contig": contig}

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def bases_list(
        self,
        principal: Principal,
        reference_id: str,
        start: Any = None,
        end: Any = None,
        page_size: Any = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        record = self.require(reference_id)
        self.authorize(principal, "genomics.references.get", record)
        length = int(record["length"])
        first = optional_int64(start, "start") or 0
        last = optional_int64(end, "end") or length
        if first < 0:
            raise invalid_argument(f"start must not be negative (got {first})")
        if last > length:
            raise invalid_argument(
                f"end {last} is past the end of reference {reference_id!r} ({length} bases)"
            )
        if first > last:
            raise invalid_argument(f"start {first} is after end {last}")
        size = page_size_for(BASES, page_size)
        query = {"referenceId": reference_id, "start": first, "end": last}
        offset = first
        if page_token:
            cursor = self.backend.pager.tokens.decode(page_token, BASES, query)
            if len(cursor) != 1 or not isinstance(cursor[0], int) or not first <= cursor[0] <= last:
                raise invalid_argument(f"{INVALID_TOKEN}: pageToken does not belong to this query")
            offset = cursor[0]
        stop = min(last, offset + size)
        sequence = self._read(record, offset, stop)
        response = compact({"offset": str(offset) if offset else None, "sequence": sequence})
        if stop < last:
            response["nextPageToken"] = self.backend.pager.tokens.encode(BASES, query, [stop])
        return response

    def _read(self, record: dict[str, Any], start: int, end: int) -> str:
        reference_id = record["id"]
        if reference_id in self._bases:
            return self._bases[reference_id][start:end]
        if reference_id in self._fasta:
            uri, contig = self._fasta[reference_id]["uri"], self._fasta[reference_id]["contig"]
            return fasta_bases(self.backend.storage.path(uri, field="fasta"), uri, contig, start, end)
        raise failed_precondition(
            f"Reference {reference_id!r} has no bases in this server (only its name and length are known); "
            "give its reference set a FASTA file or inline bases in a seed"
        )

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        search = ReferenceSearch.parse(body, SEARCH, "referenceSetId")
        set_id = search.extra
        if set_id:
            self.backend.reference_sets.require(set_id)
        self.backend.iam.authorize(principal, "genomics.references.list", ANY_REFERENCE)
        within = self.backend.reference_sets.reference_ids(set_id) if set_id else None
        lookups = (self._lookup, PUBLIC_LOOKUP)
        indexes = [lookup.matching(search.md5s, search.accessions, within) for lookup in lookups]
        return self.page_of(
            SEARCH,
            search.query,
            indexes,
            page_size=search.page_size,
            page_token=search.page_token,
            records=chained(self._records, PUBLIC.references),
        )

    # -- storing (reference sets call these while creating a set) ------------------------

    def covers(self, ref_id: str | None, length: int, md5: str | None) -> bool:
        """Whether a stored reference matches a header's name-resolved ``(length, md5)``:
        same length, and the same checksum when both sides know a real one."""
        ref = self.find(ref_id)
        if ref is None:
            return False
        if int(ref["length"]) != int(length):
            return False
        if md5 and ref_id not in self._placeholder and ref_id not in PUBLIC.references:
            return ref["md5checksum"] == md5.lower()
        return True

    @staticmethod
    def check_new_id(value: Any, *existing: Any, field: str) -> None:
        """A caller-chosen id must be valid and new (``existing``: the id spaces it must avoid)."""
        if not isinstance(value, str) or not is_valid_id(value):
            raise invalid_argument(f"{field}: {value!r} is not a valid id (no ':' or '/')")
        if any(value in ids for ids in existing):
            raise invalid_argument(f"{field}: {value!r} already exists")

    def prepare(self, spec: Any, where: str) -> tuple[dict[str, Any], str | None, bool]:
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
            self.check_new_id(ref_id, self._records, PUBLIC.references, field=f"{where}.id")
        record = {
            "id": ref_id,
            "name": name,
            "length": str(length),
            "md5checksum": md5,
            "sourceUri": optional_str(spec.get("sourceUri"), f"{where}.sourceUri"),
            "sourceAccessions": string_list(spec.get("sourceAccessions"), f"{where}.sourceAccessions"),
            "ncbiTaxonId": checked_int32(spec.get("ncbiTaxonId"), f"{where}.ncbiTaxonId"),
        }
        return record, bases, placeholder

    def store(self, record: dict[str, Any], bases: str | None, placeholder: bool) -> str:
        """Store a prepared reference (or reuse the identical shared one); returns its id."""
        key = (record["name"], int(record["length"]), record["md5checksum"])
        if record["id"] is None and key in self._shared:  # placeholders never enter _shared
            ref_id = self._shared[key]
            if bases is not None and ref_id not in self._bases:
                self._bases[ref_id] = bases
            return ref_id
        ref_id = record["id"] or self.backend.ids.new("E")
        self.backend.ids.reserve(ref_id)
        stored = compact({**record, "id": ref_id})
        self._records[ref_id] = stored
        self._lookup.add(stored)
        if bases is not None:
            self._bases[ref_id] = bases
        if placeholder:
            self._placeholder[ref_id] = True
        else:
            self._shared.setdefault(key, ref_id)
        return ref_id


# -- request helpers ------------------------------------------------------------------


def checked_int32(value: Any, field: str) -> int | None:
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


@dataclass
class ReferenceSearch:
    """What both reference searches take: checksums, accession prefixes, one more string filter
    (``assemblyId`` or ``referenceSetId``) and paging; ``query`` binds their page tokens."""

    md5s: list[str]
    accessions: list[str]
    extra: str | None
    query: dict[str, Any]
    page_size: int
    page_token: str | None

    @classmethod
    def parse(cls, body: dict[str, Any] | None, listing: Listing, extra_field: str) -> ReferenceSearch:
        body = request_body(body)
        md5s = string_list(body.get("md5checksums"), "md5checksums")
        accessions = string_list(body.get("accessions"), "accessions")
        extra = optional_str(body.get(extra_field), extra_field)
        query = {"md5checksums": sorted(set(md5s)), "accessions": sorted(set(accessions)), extra_field: extra}
        page_size = listing.page_size(body.get("pageSize"))
        return cls(md5s, accessions, extra, query, page_size, body.get("pageToken"))


@dataclass
class Lookup:
    """The indexes both reference searches filter by: every id in order, ids by checksum, and
    ``(accession, id)`` pairs for accession-prefix scans (reference sets and references each
    keep one)."""

    ids: SortedList = field(default_factory=SortedList)
    by_md5: dict[str, set[str]] = field(default_factory=dict)
    accessions: SortedList = field(default_factory=SortedList)

    def add(self, record: dict[str, Any]) -> None:
        self.ids.add(record["id"])
        self.by_md5.setdefault(record["md5checksum"], set()).add(record["id"])
        for accession in record.get("sourceAccessions", []):
            self.accessions.add((accession, record["id"]))

    def matching(self, md5s: list[str], accessions: list[str], within: set[str] | None = None) -> SortedList:
        """The sorted ids of this lookup a search walks: those with any of ``md5s`` (when given),
        any accession starting with one of ``accessions`` (when given), and in ``within`` (when
        given; it may name ids of other lookups too)."""
        filters = [
            set().union(*(self.by_md5.get(md5, set()) for md5 in md5s)) if md5s else None,
            self._by_prefix(accessions) if accessions else None,
            {item_id for item_id in within if item_id in self.ids} if within is not None else None,
        ]
        given = [f for f in filters if f is not None]
        return SortedList(set.intersection(*given)) if given else self.ids

    def _by_prefix(self, prefixes: list[str]) -> set[str]:
        found: set[str] = set()
        for prefix in set(prefixes):
            for accession, item_id in self.accessions.irange(minimum=(prefix, "")):
                if not accession.startswith(prefix):
                    break
                found.add(item_id)
        return found


def lookup_of(records: Iterable[dict[str, Any]]) -> Lookup:
    """The search indexes of fixed records (the built-in ones: built once, never changed)."""
    lookup = Lookup()
    for record in records:
        lookup.add(record)
    return lookup


PUBLIC_LOOKUP = lookup_of(PUBLIC.references.values())
