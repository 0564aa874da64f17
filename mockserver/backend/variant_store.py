"""The variants of one variant set: imported segments of VCF lines, and loose records.

Every variant has a *sequence number* ``seq``, unique in its set and never reused; its id
is ``<variantSetId>_<seq>`` and its place in the total order of a search is
``(start, seq)`` on its reference. Two kinds of storage share that numbering:

* a :class:`Segment` is one imported file's records on one reference: sorted ``array`` s
  of starts and ends, the records' VCF lines (:mod:`.vcf` renders them) and the
  :class:`VcfSource` they came from (its call sets, created time). Segments never change;
  records with a span over :data:`LONG_SPAN` go to a second segment, so a huge deletion
  does not make every overlap query on its reference seek far back (as in :mod:`.intervals`);
* a :class:`LooseVariant` is a variant held as its ``Variant`` fields: made through the
  API, or an imported one that was changed (patch, merge). Changing an imported variant
  *materializes* it: its seq is added to ``dropped`` (the segment entry no longer shows)
  and a loose record with the same seq and start takes its place, so its id and its place
  in the order stay the same.

Deleting a call set adds it to ``removed_calls`` (segment calls of it are left out when a
line is rendered) and drops its calls from the loose records.
"""

from __future__ import annotations

import copy
import heapq
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from typing import Any

from sortedcontainers import SortedDict

from mockserver.backend.intervals import Bucket
from mockserver.backend.vcf import Run, line_allele_key, line_names, variant_json

#: records spanning more than this (bp) go to a segment of their own (see module docstring)
LONG_SPAN = 100_000
#: (start, seq, segment or None, index in the segment or the loose record)
Item = tuple[int, int, Any, Any]


def variant_id(set_id: str, seq: int) -> str:
    return f"{set_id}_{seq}"


class VcfSource:
    """What every record of one imported file shares."""

    __slots__ = ("uri", "call_set_ids", "single_sample", "move_to_calls", "created")

    def __init__(
        self,
        uri: str,
        call_set_ids: tuple[str, ...],
        single_sample: bool,
        move_to_calls: tuple[str, ...],
        created: str,
    ) -> None:
        self.uri = uri
        self.call_set_ids = call_set_ids
        self.single_sample = single_sample
        self.move_to_calls = move_to_calls
        self.created = created


class Segment:
    """Imported records of one reference, in (start, seq) order; never changed."""

    __slots__ = ("reference", "base", "starts", "ends", "lines", "max_span", "source")

    def __init__(
        self, reference: str, base: int, starts: array, ends: array, lines: list[str], source: VcfSource
    ) -> None:
        self.reference = reference
        self.base = base
        self.starts = starts
        self.ends = ends
        self.lines = lines
        self.max_span = max((e - s for s, e in zip(starts, ends, strict=True)), default=0)
        self.source = source

    def __len__(self) -> int:
        return len(self.lines)

    def scan(self, qs: int, qe: int | None, after: tuple[int, int] | None) -> Iterator[int]:
        """Indexes of records overlapping [qs, qe) strictly after ``after`` (a (start, seq) key)."""
        starts, ends = self.starts, self.ends
        lo = bisect_left(starts, qs - self.max_span) if qs > self.max_span else 0
        if after is not None:
            a_start, a_seq = after
            if a_seq < self.base:
                lo = max(lo, bisect_left(starts, a_start))
            elif a_seq >= self.base + len(starts):
                lo = max(lo, bisect_right(starts, a_start))
            else:
                lo = max(lo, a_seq - self.base + 1)
        hi = bisect_left(starts, qe) if qe is not None else len(starts)
        for i in range(lo, hi):
            end = ends[i]
            if end > qs or (end == starts[i] >= qs):
                yield i

    def at(self, start: int) -> range:
        """Indexes of the records starting exactly at ``start``."""
        return range(bisect_left(self.starts, start), bisect_right(self.starts, start))

    def render(self, index: int, keep: Callable[[str], bool] | None) -> dict[str, Any]:
        return line_fields(self.lines[index], self.source, keep)


def line_fields(line: str, source: VcfSource, keep: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """The ``Variant`` fields of an imported line (no ids, reference or positions)."""
    variant = variant_json(
        line,
        source.call_set_ids,
        single_sample=source.single_sample,
        move_to_calls=source.move_to_calls,
        keep=keep,
    )
    variant["created"] = source.created
    return variant


class LooseVariant:
    """A variant held as its fields (``data``: everything but ids, reference and positions)."""

    __slots__ = ("seq", "start", "end", "reference", "data")

    def __init__(self, seq: int, start: int, end: int, reference: str, data: dict[str, Any]) -> None:
        self.seq = seq
        self.start = start
        self.end = end
        self.reference = reference
        self.data = data


def loose_position(record: LooseVariant) -> tuple[int, int]:
    """A loose record's place in its reference's order (the sort key of its bucket)."""
    return (record.start, record.seq)


class Shelf:
    """One reference's variants: its segments and a bucket of loose records."""

    __slots__ = ("segments", "loose")

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.loose = Bucket(loose_position)


class VariantStore:
    """Every variant of one variant set (see module docstring)."""

    __slots__ = ("shelves", "segments", "loose", "dropped", "removed_calls", "next_seq")

    def __init__(self) -> None:
        self.shelves: SortedDict = SortedDict()  # reference name -> Shelf
        self.segments: list[Segment] = []  # every segment, in base order (for lookups by seq)
        self.loose: dict[int, LooseVariant] = {}
        self.dropped: set[int] = set()
        self.removed_calls: set[str] = set()
        self.next_seq = 0

    # -- adding -----------------------------------------------------------------------

    def _shelf(self, reference: str) -> Shelf:
        shelf = self.shelves.get(reference)
        if shelf is None:
            shelf = self.shelves[reference] = Shelf()
        return shelf

    def has_variants(self, reference: str) -> bool:
        shelf = self.shelves.get(reference)
        return shelf is not None and (bool(shelf.segments) or len(shelf.loose) > 0)

    def add_run(self, run: Run, source: VcfSource) -> list[Segment]:
        """Store an imported run as new segments (short and long spans apart); returns them."""
        starts, ends, lines = run.starts, run.ends, run.lines
        long = [i for i in range(len(lines)) if ends[i] - starts[i] > LONG_SPAN] if lines else []
        parts: list[tuple[array, array, list[str]]] = []
        if not long:
            parts.append((starts, ends, lines))
        else:
            wide = set(long)
            short = [i for i in range(len(lines)) if i not in wide]
            for picked in (short, long):
                if picked:
                    parts.append(
                        (
                            array("q", (starts[i] for i in picked)),
                            array("q", (ends[i] for i in picked)),
                            [lines[i] for i in picked],
                        )
                    )
        made = []
        shelf = self._shelf(run.reference)
        for part_starts, part_ends, part_lines in parts:
            segment = Segment(run.reference, self.next_seq, part_starts, part_ends, part_lines, source)
            self.next_seq += len(part_lines)
            shelf.segments.append(segment)
            self.segments.append(segment)
            made.append(segment)
        return made

    def add_loose(self, reference: str, start: int, end: int, data: dict[str, Any]) -> LooseVariant:
        record = LooseVariant(self.next_seq, start, end, reference, data)
        self.next_seq += 1
        self._put(record)
        return record

    def _put(self, record: LooseVariant) -> None:
        self.loose[record.seq] = record
        self._shelf(record.reference).loose.add(record)

    # -- one variant ------------------------------------------------------------------

    def find(self, seq: int) -> Item | None:
        """The live variant ``seq``, or None."""
        record = self.loose.get(seq)
        if record is not None:
            return (record.start, seq, None, record)
        if seq in self.dropped:
            return None
        i = bisect_right(self.segments, seq, key=lambda segment: segment.base) - 1
        if i < 0:
            return None
        segment = self.segments[i]
        index = seq - segment.base
        if index >= len(segment):
            return None
        return (segment.starts[index], seq, segment, index)

    def reference_of(self, item: Item) -> str:
        return item[3].reference if item[2] is None else item[2].reference

    def end_of(self, item: Item) -> int:
        return item[3].end if item[2] is None else item[2].ends[item[3]]

    def render(self, item: Item, keep: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The variant's fields (no ids): its reference, positions, and the calls ``keep`` accepts
        (all but removed call sets' when None)."""
        _start, _seq, segment, where = item
        removed = self.removed_calls
        if keep is None and removed:
            keep = lambda call_set_id: call_set_id not in removed  # noqa: E731
        if segment is None:
            data = copy.deepcopy(where.data)
            if keep is not None and "calls" in data:
                data["calls"] = [call for call in data["calls"] if keep(call["callSetId"])]
                if not data["calls"]:
                    del data["calls"]
            head = {"referenceName": where.reference, "start": str(where.start), "end": str(where.end)}
            return {**head, **data}
        head = {
            "referenceName": segment.reference,
            "start": str(segment.starts[where]),
            "end": str(segment.ends[where]),
        }
        return {**head, **segment.render(where, keep)}

    def materialize(self, item: Item) -> LooseVariant:
        """The loose record of a variant, made from its segment line first if need be."""
        start, seq, segment, where = item
        if segment is None:
            return where
        data = self.render(item)
        for key in ("referenceName", "start", "end"):
            data.pop(key)
        record = LooseVariant(seq, start, segment.ends[where], segment.reference, data)
        self.dropped.add(seq)
        self._put(record)
        return record

    def delete(self, item: Item) -> None:
        start, seq, segment, where = item
        if segment is None:
            del self.loose[seq]
            self.shelves[where.reference].loose.remove(where)
        self.dropped.add(seq)

    def matching(
        self, reference: str, start: int, end: int, bases: str, alternates: tuple[str, ...]
    ) -> Item | None:
        """The live variant merging matches: same reference, start, end and alleles."""
        shelf = self.shelves.get(reference)
        if shelf is None:
            return None
        for record in shelf.loose.at(start):
            data = record.data
            if record.end == end and (
                data.get("referenceBases", ""),
                tuple(data.get("alternateBases", ())),
            ) == (bases, alternates):
                return (start, record.seq, None, record)
        for segment in shelf.segments:
            for index in segment.at(start):
                seq = segment.base + index
                if seq not in self.dropped and segment.ends[index] == end:
                    if line_allele_key(segment.lines[index]) == (bases, alternates):
                        return (start, seq, segment, index)
        return None

    # -- call sets --------------------------------------------------------------------

    def remove_call_set(self, call_set_id: str) -> None:
        self.removed_calls.add(call_set_id)
        for record in self.loose.values():
            calls = record.data.get("calls")
            if calls and any(call["callSetId"] == call_set_id for call in calls):
                kept = [call for call in calls if call["callSetId"] != call_set_id]
                if kept:
                    record.data["calls"] = kept
                else:
                    del record.data["calls"]

    # -- searching --------------------------------------------------------------------

    def stream(
        self,
        reference: str,
        qs: int,
        qe: int | None,
        after: tuple[int, int] | None,
        *,
        segments: Callable[[Segment], bool] | None = None,
        name: str | None = None,
    ) -> Iterator[Item]:
        """Live variants on ``reference`` overlapping [qs, qe) in (start, seq) order, strictly
        after ``after``; ``segments`` may rule out whole segments, ``name`` keeps the variants
        holding that name."""
        shelf = self.shelves.get(reference)
        if shelf is None:
            return iter(())
        streams: list[Iterator[Item]] = [
            self._segment_items(s, qs, qe, after, name)
            for s in shelf.segments
            if segments is None or segments(s)
        ]
        if len(shelf.loose):
            loose: Iterator[Any] = shelf.loose.scan(after, qs, qe)
            if name is not None:
                loose = (r for r in loose if name in r.data.get("names", ()))
            streams.append((r.start, r.seq, None, r) for r in loose)
        if len(streams) == 1:
            return streams[0]
        return heapq.merge(*streams, key=lambda item: (item[0], item[1]))

    def _segment_items(
        self, segment: Segment, qs: int, qe: int | None, after: tuple[int, int] | None, name: str | None
    ) -> Iterator[Item]:
        dropped, base, starts, lines = self.dropped, segment.base, segment.starts, segment.lines
        for index in segment.scan(qs, qe, after):
            seq = base + index
            if seq in dropped or (name is not None and name not in line_names(lines[index])):
                continue
            yield (starts[index], seq, segment, index)

    def upper_bounds(self) -> list[dict[str, str]]:
        """``referenceBounds``: per reference with variants, the largest start stored."""
        bounds = []
        for reference, shelf in self.shelves.items():
            best = -1
            for segment in shelf.segments:
                for index in range(len(segment) - 1, -1, -1):
                    if segment.base + index not in self.dropped:
                        best = max(best, segment.starts[index])
                        break
            last = shelf.loose.last()
            if last is not None:
                best = max(best, last.start)
            if best >= 0:
                bounds.append({"referenceName": reference, "upperBound": str(best)})
        return bounds

    def view(self) -> VariantStore:
        """A copy that later changes to this store do not reach (segments are shared: they
        never change), for work done outside the backend lock (export)."""
        copied = VariantStore()
        copied.segments = list(self.segments)
        for reference, shelf in self.shelves.items():
            mine = copied._shelf(reference)
            mine.segments = list(shelf.segments)
        for record in self.loose.values():
            copied._put(
                LooseVariant(
                    record.seq, record.start, record.end, record.reference, copy.deepcopy(record.data)
                )
            )
        copied.dropped = set(self.dropped)
        copied.removed_calls = set(self.removed_calls)
        copied.next_seq = self.next_seq
        return copied


def merge_variant(existing: dict[str, Any], new: dict[str, Any], config: dict[str, str]) -> None:
    """Merge ``new``'s calls and info into ``existing`` (both ``Variant`` fields), in place.

    A call replaces the existing call of the same call set, else is added. Info keys follow
    ``config``: ``IGNORE_NEW`` keeps the existing value (and adds none); keys moved to calls
    (``MOVE_TO_CALLS``) are already in the new calls' info (:func:`move_to_calls`); any other
    key is added when the existing variant lacks it and otherwise keeps the existing value.
    """
    calls = {call["callSetId"]: call for call in existing.get("calls", [])}
    for call in new.get("calls", []):
        calls[call["callSetId"]] = call
    if calls:
        existing["calls"] = list(calls.values())
    info = existing.setdefault("info", {})
    for key, values in new.get("info", {}).items():
        if config.get(key) != "IGNORE_NEW" and key not in info:
            info[key] = values
    if not info:
        del existing["info"]


def move_to_calls(variant: dict[str, Any], config: dict[str, str]) -> None:
    """Move the info keys ``config`` marks ``MOVE_TO_CALLS`` into the info of each call, in place."""
    keys = [key for key, operation in config.items() if operation == "MOVE_TO_CALLS"]
    moved = {key: variant["info"].pop(key) for key in keys if key in variant.get("info", {})}
    if not moved:
        return
    for call in variant.get("calls", []):
        call["info"] = {**copy.deepcopy(moved), **call.get("info", {})}
    if not variant["info"]:
        del variant["info"]
