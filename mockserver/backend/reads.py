"""Read storage, the overlap index, and ``reads.search``.

Reads never change after import, so each read group set keeps its reads in
one list in the API's total order — mapped reads by (reference name, start,
file order), then unmapped reads by (fragment name, file order) — and a
read's index in that list is both its id suffix and its paging key. Per
reference the set keeps a sorted ``array`` of starts, ends and the longest
span, so an overlap query is two bisections plus a scan of the candidates
that start within one max-span before the window (like the annotation index).

Across several read group sets the streams are merged by
``(reference, start, readGroupSetId, index)`` — ties between sets fall back
to the set id, a stable order independent of page size.
"""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mockserver.backend.bam import StoredRead, read_from_line, read_json
from mockserver.backend.base import Component, synchronized
from mockserver.backend.coverage_index import CoverageBuilder, CoverageIndex
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.request_fields import optional_int64, request_body
from mockserver.backend.tables import TableSpec, fail, integer, text
from mockserver.errors import invalid_argument

UNMAPPED = "*"
#: items are (section, reference or fragment name, position, read group set id, index)
SEARCH = Listing("reads.search", "alignments", key=list)


@dataclass
class ReferenceSlice:
    """The mapped reads of one reference: positions ``lo..hi`` of the set's list."""

    lo: int
    hi: int
    starts: array  # array('q'), sorted
    ends: array  # array('q')
    max_span: int


@dataclass
class SetReads:
    """All reads of one read group set, immutable once built."""

    lines: list[bytes]
    read_groups: array  # array('H'): local read group index per read
    references: dict[str, ReferenceSlice]
    reference_order: list[str]  # names with reads, sorted
    unmapped_lo: int  # unmapped reads are lines[unmapped_lo:]
    unmapped_names: list[str]
    coverage: CoverageIndex

    def __len__(self) -> int:
        return len(self.lines)

    def overlapping(self, reference: str, start: int, end: int | None, after: int = -1) -> Iterator[int]:
        """Indexes of reads on ``reference`` overlapping [start, end), in order, beyond ``after``."""
        ref = self.references.get(reference)
        if ref is None:
            return
        lo = bisect_left(ref.starts, start - ref.max_span) if start > 0 else 0
        hi = bisect_left(ref.starts, end) if end is not None else len(ref.starts)
        lo = max(lo, after - ref.lo + 1)
        ends = ref.ends
        for i in range(lo, hi):
            if ends[i] > start:
                yield ref.lo + i


class SetBuilder:
    """Collects one destination set's reads during an import (off the lock).

    Reads go into parallel arrays (no per-read tuple), and the usual
    coordinate-sorted input needs no sort at all: a million reads cost their
    lines plus ~20 bytes each while the import runs.
    """

    def __init__(self, lengths: dict[str, int]) -> None:
        self.lengths = lengths
        self.read_group_names: list[str] = []
        self._rg_index: dict[str | None, int] = {}
        self._coverage = CoverageBuilder(lengths)
        self._ref_ids: dict[str, int] = {}
        self._ref_names: list[str] = []
        self._refs = array("I")
        self._starts = array("q")
        self._ends = array("q")
        self._groups = array("H")
        self._lines: list[bytes] = []
        self._u_names: list[str] = []
        self._u_lines: list[bytes] = []
        self._u_groups = array("H")

    def read_group(self, name: str | None) -> int:
        index = self._rg_index.get(name)
        if index is None:
            index = self._rg_index[name] = len(self.read_group_names)
            self.read_group_names.append(name or "")
        return index

    def add(self, read: StoredRead, read_group: int) -> None:
        if read.reference is None:
            self._u_names.append(read.fragment)
            self._u_lines.append(read.line)
            self._u_groups.append(read_group)
            return
        ref_id = self._ref_ids.get(read.reference)
        if ref_id is None:
            ref_id = self._ref_ids[read.reference] = len(self._ref_names)
            self._ref_names.append(read.reference)
        self._refs.append(ref_id)
        self._starts.append(read.start)
        self._ends.append(read.end)
        self._groups.append(read_group)
        self._lines.append(read.line)
        if read.depth:
            self._coverage.add(read.reference, read.depth)

    def __len__(self) -> int:
        return len(self._lines) + len(self._u_lines)

    def build(self) -> SetReads:
        names = self._ref_names
        rank = array("I", bytes(4 * len(names)))
        for position, ref_id in enumerate(sorted(range(len(names)), key=names.__getitem__)):
            rank[ref_id] = position
        refs, starts, ends = self._refs, self._starts, self._ends
        order = _stable_order(len(refs), lambda i: (rank[refs[i]], starts[i]))
        lines = self._lines if order is None else [self._lines[i] for i in order]
        groups = self._groups if order is None else array("H", (self._groups[i] for i in order))
        if order is not None:
            refs = array("I", (refs[i] for i in order))
            starts = array("q", (starts[i] for i in order))
            ends = array("q", (ends[i] for i in order))
        references: dict[str, ReferenceSlice] = {}
        lo = 0
        while lo < len(refs):
            ref_id = refs[lo]
            hi = lo
            while hi < len(refs) and refs[hi] == ref_id:
                hi += 1
            span = max(e - s for s, e in zip(starts[lo:hi], ends[lo:hi], strict=True))
            references[names[ref_id]] = ReferenceSlice(lo, hi, starts[lo:hi], ends[lo:hi], span)
            lo = hi
        u_order = _stable_order(len(self._u_names), self._u_names.__getitem__)
        u_names = self._u_names if u_order is None else [self._u_names[i] for i in u_order]
        u_lines = self._u_lines if u_order is None else [self._u_lines[i] for i in u_order]
        u_groups = self._u_groups if u_order is None else array("H", (self._u_groups[i] for i in u_order))
        unmapped_lo = len(lines)
        lines.extend(u_lines)
        groups.extend(u_groups)
        coverage = self._coverage.build()
        return SetReads(lines, groups, references, sorted(references), unmapped_lo, u_names, coverage)


def _stable_order(count: int, key: Any) -> list[int] | None:
    """None when items are already in key order (file order breaks ties), else the sorting permutation."""
    previous = None
    for i in range(count):
        current = key(i)
        if previous is not None and current < previous:
            return sorted(range(count), key=key)
        previous = current
    return None


def saved_reads(reads: SetReads) -> dict[str, Any]:
    """The saved form of a set's reads: its lines in the API's order, the local read group of
    each, and the header's reference lengths; everything else is rebuilt from them."""
    return {
        "lengths": dict(reads.coverage.lengths),
        "groups": reads.read_groups.tolist(),
        "lines": [line.decode() for line in reads.lines],
    }


def load_reads(_key: str, value: Any) -> SetReads:
    """Rebuild a set's reads (overlap and coverage indexes) from :func:`saved_reads`."""
    if type(value) is not dict or set(value) != {"lengths", "groups", "lines"}:
        fail("must be an object with lengths, groups and lines")
    lengths, groups, lines = value["lengths"], value["groups"], value["lines"]
    if type(lengths) is not dict or type(groups) is not list or type(lines) is not list:
        fail("lengths must be an object, groups and lines lists")
    if len(groups) != len(lines):
        fail("must hold one read group per line", "groups")
    for name, length in lengths.items():
        integer(length, "lengths", name, high=2**31 - 1)  # SAM's limit on LN
    builder = SetBuilder(lengths)
    for i, (line, group) in enumerate(zip(lines, groups, strict=True)):
        try:
            read = read_from_line(text(line, "lines", i).encode())  # type: ignore[union-attr]
        except (ValueError, UnicodeError) as exc:
            fail(f"not a stored read: {exc}", "lines", i)
        builder.add(read, integer(group, "groups", i, high=0xFFFF))
    return builder.build()


class Reads(Component):
    """Stored reads per read group set, and the search over them."""

    tables = (TableSpec("records", load_reads, saved_reads),)

    def after_restore(self) -> None:
        """Reads are indexed as they load; the read group sets hold no group of them."""

    # -- used by read group sets ------------------------------------------------------

    def store(self, set_id: str, reads: SetReads) -> None:
        self._records[set_id] = reads

    def drop(self, set_id: str) -> None:
        self._records.pop(set_id, None)

    def of(self, set_id: str) -> SetReads:
        return self._records[set_id]

    def as_json(self, record: dict[str, Any], index: int) -> dict[str, Any]:
        """Read ``index`` of the read group set ``record`` as a ``Read`` (id ``<set id>.<index>``)."""
        set_id = record["id"]
        reads = self._records[set_id]
        return read_json(
            reads.lines[index],
            read_id=f"{set_id}.{index}",
            read_group_id=record["readGroups"][reads.read_groups[index]]["id"],
            read_group_set_id=set_id,
        )

    # -- API --------------------------------------------------------------------------

    @synchronized
    def search(self, principal: Principal, body: dict[str, Any] | None) -> dict[str, Any]:
        body = request_body(body)
        rgsets = self.backend.read_group_sets
        set_ids = body.get("readGroupSetIds") or []
        group_ids = body.get("readGroupIds") or []
        if not isinstance(set_ids, list) or not isinstance(group_ids, list):
            raise invalid_argument("readGroupSetIds and readGroupIds must be lists of ids")
        groups_filter: dict[str, set[int]] = {}
        if group_ids:
            owners = set()
            for gid in group_ids:
                set_id, local = rgsets.read_group_location(gid)
                owners.add(set_id)
                groups_filter.setdefault(set_id, set()).add(local)
            if len(owners) > 1:
                raise invalid_argument("readGroupIds must all belong to one read group set")
            if set_ids and set(set_ids) != owners:
                raise invalid_argument("readGroupIds must belong to the sets named in readGroupSetIds")
            set_ids = sorted(owners)
        if not set_ids:
            raise invalid_argument("readGroupSetIds or readGroupIds is required")
        set_ids = sorted(set(set_ids))
        records = {}
        for set_id in set_ids:
            record = records[set_id] = rgsets.require(set_id, field="readGroupSetIds")
            # where the caller named groups, not the set, an invisible set reads like an unknown group
            named_groups = group_ids and not body.get("readGroupSetIds")
            hidden = rgsets.missing_read_group(group_ids[0]) if named_groups else None
            rgsets.authorize(principal, "genomics.reads.list", record, field="readGroupSetIds", hidden=hidden)
        reference = body.get("referenceName") or None
        start = optional_int64(body.get("start"), "start")
        end = optional_int64(body.get("end"), "end")
        if reference is None and (start is not None or end is not None):
            raise invalid_argument("start and end require referenceName")
        if reference == UNMAPPED and (start or end):
            raise invalid_argument("start and end cannot be used with referenceName '*'")
        if start is not None and start < 0:
            raise invalid_argument("start must not be negative")
        if end is not None and end and start is not None and end <= start:
            raise invalid_argument("end must be greater than start")
        start = start or 0
        end = end or None
        size = SEARCH.page_size(body.get("pageSize"))
        query = {
            "readGroupSetIds": set_ids,
            "readGroupIds": sorted(group_ids),
            "referenceName": reference,
            "start": start,
            "end": end,
        }

        def stream(cursor: list[Any] | None) -> Iterator[tuple]:
            iterators = [
                self._stream(set_id, reference, start, end, groups_filter.get(set_id), cursor)
                for set_id in set_ids
            ]
            return heapq.merge(*iterators)

        return self.backend.pager.respond(
            SEARCH,
            query,
            page_size=size,
            page_token=body.get("pageToken"),
            stream=stream,
            render=lambda item: self.as_json(records[item[3]], item[4]),
        )

    def _stream(
        self,
        set_id: str,
        reference: str | None,
        start: int,
        end: int | None,
        groups: set[int] | None,
        cursor: list[Any] | None,
    ) -> Iterator[tuple]:
        """Items ``(section, name, position, set_id, index)`` of one set, strictly after ``cursor``."""
        reads = self._records[set_id]
        rg = reads.read_groups
        mapped_names = reads.reference_order if reference is None else [reference]
        if reference != UNMAPPED:
            for name in mapped_names:
                ref = reads.references.get(name)
                if ref is None:
                    continue
                after = -1
                if cursor is not None:
                    key = (0, name)
                    if key < (cursor[0], cursor[1]):
                        continue
                    if key == (cursor[0], cursor[1]):
                        after = ref.lo + bisect_left(ref.starts, cursor[2]) - 1
                for index in reads.overlapping(name, start, end, after):
                    if groups is None or rg[index] in groups:
                        item = (0, name, ref.starts[index - ref.lo], set_id, index)
                        if cursor is None or item > tuple(cursor):
                            yield item
        if reference in (None, UNMAPPED):
            names = reads.unmapped_names
            lo = reads.unmapped_lo
            first = 0
            if cursor is not None and cursor[0] == 1:
                first = bisect_left(names, cursor[1])
            for offset in range(first, len(names)):
                index = lo + offset
                if groups is None or rg[index] in groups:
                    item = (1, names[offset], 0, set_id, index)
                    if cursor is None or item > tuple(cursor):
                        yield item
