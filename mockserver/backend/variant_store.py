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

Saved state (:mod:`.tables`): a store writes each change through its :class:`Journal` to
the tables of :class:`~mockserver.backend.variants.Variants` — a segment once (its lines,
positions and source), a loose record each time it changes, the seq of each dropped entry,
each removed call set — and is rebuilt from them (:meth:`VariantStore.attach`). Nothing
else is saved: the next seq is one past the largest seq any of them names, as a deleted
variant stays in ``dropped``.
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
from mockserver.backend.tables import fail, integer, is_valid_id, json_object, text
from mockserver.backend.tables import string_list as stored_strings
from mockserver.backend.vcf import Run, line_allele_key, line_names, variant_json

#: records spanning more than this (bp) go to a segment of their own (see module docstring)
LONG_SPAN = 100_000
#: (start, seq, segment or None, index in the segment or the loose record)
Item = tuple[int, int, Any, Any]


def variant_id(set_id: str, seq: int) -> str:
    return f"{set_id}_{seq}"


class Journal:
    """The tables of the component, as one variant set's store writes them (keys are variant ids)."""

    __slots__ = ("set_id", "segments", "variants", "dropped", "removed")

    def __init__(self, set_id: str, segments: Any, variants: Any, dropped: Any, removed: Any) -> None:
        self.set_id = set_id
        self.segments, self.variants, self.dropped, self.removed = segments, variants, dropped, removed

    def forget_all(self, store: VariantStore) -> None:
        """Delete every table entry of the store (its variant set is gone)."""
        for segment in store.segments:
            self.segments.pop(variant_id(self.set_id, segment.base), None)
        for seq in store.loose:
            self.variants.pop(variant_id(self.set_id, seq), None)
        for seq in store.dropped:
            self.dropped.pop(variant_id(self.set_id, seq), None)
        for call_set_id in store.removed_calls:
            self.removed.pop(call_set_id, None)


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
    """Every variant of one variant set (see module docstring); ``journal`` None: a copy that
    saves nothing (:meth:`view`)."""

    __slots__ = ("shelves", "segments", "loose", "dropped", "removed_calls", "next_seq", "journal")

    def __init__(self, journal: Journal | None = None) -> None:
        self.shelves: SortedDict = SortedDict()  # reference name -> Shelf
        self.segments: list[Segment] = []  # every segment, in base order (for lookups by seq)
        self.loose: dict[int, LooseVariant] = {}
        self.dropped: set[int] = set()
        self.removed_calls: set[str] = set()
        self.next_seq = 0
        self.journal = journal

    # -- saved state --------------------------------------------------------------------

    def attach(
        self, segments: list[Segment], loose: list[LooseVariant], dropped: list[int], removed_calls: list[str]
    ) -> None:
        """Rebuild the store from its saved entries (nothing is written back)."""
        for segment in sorted(segments, key=lambda s: s.base):
            self._shelf(segment.reference).segments.append(segment)
            self.segments.append(segment)
        for record in loose:
            self.loose[record.seq] = record
            self._shelf(record.reference).loose.add(record)
        self.dropped.update(dropped)
        self.removed_calls.update(removed_calls)
        ends = (
            [s.base + len(s) for s in self.segments] + [r.seq + 1 for r in loose] + [d + 1 for d in dropped]
        )
        self.next_seq = max(ends, default=0)

    def _save(self, record: LooseVariant) -> None:
        if self.journal is not None:
            self.journal.variants[variant_id(self.journal.set_id, record.seq)] = record

    def _drop(self, seq: int) -> None:
        self.dropped.add(seq)
        if self.journal is not None:
            self.journal.dropped[variant_id(self.journal.set_id, seq)] = True

    def saved(self, item: Item) -> None:
        """Save a loose record again after changing its data in place."""
        if item[2] is None:
            self._save(item[3])

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
            if self.journal is not None:
                self.journal.segments[variant_id(self.journal.set_id, segment.base)] = segment
        return made

    def add_loose(self, reference: str, start: int, end: int, data: dict[str, Any]) -> LooseVariant:
        record = LooseVariant(self.next_seq, start, end, reference, data)
        self.next_seq += 1
        self._put(record)
        return record

    def _put(self, record: LooseVariant) -> None:
        self.loose[record.seq] = record
        self._shelf(record.reference).loose.add(record)
        self._save(record)

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
        self._drop(seq)
        self._put(record)
        return record

    def delete(self, item: Item) -> None:
        start, seq, segment, where = item
        if segment is None:
            del self.loose[seq]
            self.shelves[where.reference].loose.remove(where)
            if self.journal is not None:
                self.journal.variants.pop(variant_id(self.journal.set_id, seq), None)
        self._drop(seq)

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
        if self.journal is not None:
            self.journal.removed[call_set_id] = self.journal.set_id
        for record in self.loose.values():
            calls = record.data.get("calls")
            if calls and any(call["callSetId"] == call_set_id for call in calls):
                kept = [call for call in calls if call["callSetId"] != call_set_id]
                if kept:
                    record.data["calls"] = kept
                else:
                    del record.data["calls"]
                self._save(record)

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
        never change), for work done outside the backend lock (export); it saves nothing."""
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


# -- saved forms ----------------------------------------------------------------------------


def key_parts(key: str) -> tuple[str, int]:
    """``(variant set id, seq)`` of a table key (a variant id), else :class:`RecordError`."""
    set_id, sep, number = key.rpartition("_")
    if not sep or not is_valid_id(set_id) or not number.isascii() or not number.isdigit():
        fail("the key must be a variant id, <variantSetId>_<n>")
    return set_id, int(number)


def dump_segment(segment: Segment) -> dict[str, Any]:
    source = segment.source
    return {
        "reference": segment.reference,
        "starts": segment.starts.tolist(),
        "ends": segment.ends.tolist(),
        "lines": segment.lines,
        "source": {
            "uri": source.uri,
            "callSetIds": list(source.call_set_ids),
            "singleSample": source.single_sample,
            "moveToCalls": list(source.move_to_calls),
            "created": source.created,
        },
    }


def load_segment(key: str, value: Any) -> Segment:
    """A saved segment, checked so that every line renders (see :func:`dump_segment`)."""
    _set_id, base = key_parts(key)
    if type(value) is not dict or set(value) != {"reference", "starts", "ends", "lines", "source"}:
        fail("must be an object with reference, starts, ends, lines and source")
    reference = str(text(value["reference"], "reference"))
    starts, ends, lines = value["starts"], value["ends"], value["lines"]
    if type(starts) is not list or type(ends) is not list or type(lines) is not list:
        fail("starts, ends and lines must be lists")
    if not len(starts) == len(ends) == len(lines):
        fail("starts, ends and lines must be as long as each other", "lines")
    for name, values in (("starts", starts), ("ends", ends)):
        if not all(type(v) is int and 0 <= v < 2**63 for v in values):
            fail("must hold non-negative int64 positions", name)
    if any(b < a for a, b in zip(starts, starts[1:], strict=False)) or any(
        e < s for s, e in zip(starts, ends, strict=True)
    ):
        fail("starts must not decrease, and no end may come before its start", "starts")
    for i, line in enumerate(lines):
        if type(line) is not str or line.count("\t") < 7 or "\n" in line[:-1]:
            fail("must be a VCF record line (eight columns or more)", "lines", i)
        text(line, "lines", i)
    source = value["source"]
    if type(source) is not dict or set(source) != {
        "uri",
        "callSetIds",
        "singleSample",
        "moveToCalls",
        "created",
    }:
        fail("must be {uri, callSetIds, singleSample, moveToCalls, created}", "source")
    if (
        type(source["singleSample"]) is not bool
        or not str(text(source["created"], "source", "created")).isdigit()
    ):
        fail("singleSample must be a boolean and created a decimal string", "source")
    made = VcfSource(
        str(text(source["uri"], "source", "uri")),
        tuple(stored_strings(source["callSetIds"], "source", "callSetIds")),
        source["singleSample"],
        tuple(stored_strings(source["moveToCalls"], "source", "moveToCalls")),
        source["created"],
    )
    return Segment(reference, base, array("q", starts), array("q", ends), lines, made)


def dump_loose(record: LooseVariant) -> dict[str, Any]:
    return {"reference": record.reference, "start": record.start, "end": record.end, "data": record.data}


def load_loose(key: str, value: Any) -> LooseVariant:
    """A saved loose variant, checked so that it renders, merges and matches."""
    _set_id, seq = key_parts(key)
    if type(value) is not dict or set(value) != {"reference", "start", "end", "data"}:
        fail("must be an object with reference, start, end and data")
    start, end = integer(value["start"], "start"), integer(value["end"], "end")
    if end < start:
        fail("must not come before start", "end")
    data = json_object(value["data"], "data")
    for field in ("alternateBases", "names", "filter"):
        if field in data:
            stored_strings(data[field], "data", field)
    if type(data.get("referenceBases", "")) is not str or type(data.get("info", {})) is not dict:
        fail("referenceBases must be a string and info an object", "data")
    calls = data.get("calls", [])
    if type(calls) is not list or not all(type(c) is dict and type(c.get("callSetId")) is str for c in calls):
        fail("must be a list of calls, each naming its callSetId", "data", "calls")
    return LooseVariant(seq, start, end, str(text(value["reference"], "reference")), data)


def load_call_set_owner(_key: str, value: Any) -> str:
    """``removedCalls``: a deleted call set -> its variant set."""
    set_id = str(text(value))
    if not is_valid_id(set_id):
        fail("must be a variant set id")
    return set_id
