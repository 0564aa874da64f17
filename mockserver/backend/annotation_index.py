"""Compact annotation storage and the interval index behind ``annotations.search``.

Layout (per annotation set)::

    SetIndex.primary:   SortedDict  refkey -> Bucket      refkey = "n:<referenceName>"
                                                           or "i:<referenceId>" (no name)
    SetIndex.secondary: dict        referenceId -> Bucket  annotations having both a name
                                                           and an id, findable by the id

A :class:`~mockserver.backend.intervals.Bucket` holds one reference's records
ordered by ``(start, id)`` in two length tiers; an overlap query seeks by the
longest record of a tier, so its cost depends on the page, not on how many
annotations the set holds (see :mod:`.intervals`).

Total order of a search (the page cursor): ``(refkey, start, id)``, where a
reference-filtered query uses the query's refkey for every item (so its streams
are ordered by ``(start, id)`` alone). Several sets merge with
:func:`heapq.merge` over that key; ids are unique across sets, so the order is
total and independent of page size.

Overlap rule: that of :mod:`.intervals`.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sortedcontainers import SortedDict

from mockserver.backend.intervals import Bucket
from mockserver.backend.tables import fail, integer, is_valid_id, json_object, text

_INT64_MAX = 2**63 - 1


class AnnotationRecord:
    """One stored annotation (~100 bytes + its id); dicts are only built on output."""

    __slots__ = ("id", "set_id", "ref_name", "ref_id", "start", "end", "extra")

    def __init__(
        self,
        id: str,
        set_id: str,
        ref_name: str | None,
        ref_id: str | None,
        start: int,
        end: int,
        extra: dict[str, Any] | None,
    ) -> None:
        self.id = id
        self.set_id = set_id
        self.ref_name = ref_name
        self.ref_id = ref_id
        self.start = start
        self.end = end
        self.extra = extra

    @property
    def primary_key(self) -> str:
        return f"n:{self.ref_name}" if self.ref_name is not None else f"i:{self.ref_id}"

    def row(self) -> list[Any]:
        """The saved form (the id is the row's key): compact, a million of them are one state."""
        return [self.set_id, self.ref_name, self.ref_id, self.start, self.end, self.extra]

    @classmethod
    def from_row(cls, key: str, row: Any) -> AnnotationRecord:
        """A saved row, checked: ``[annotationSetId, referenceName, referenceId, start, end, extra]``.

        A million rows load at start-up, so the common shape is checked inline first."""
        if type(row) is list and len(row) == 6:
            set_id, ref_name, ref_id, start, end, extra = row
            if (
                type(start) is int and type(end) is int and 0 <= start <= end <= _INT64_MAX
                and type(set_id) is str and set_id.isascii() and key.isascii() and extra is None
                and (ref_name is None or (type(ref_name) is str and ref_name.isascii()))
                and (ref_id is None or (type(ref_id) is str and ref_id.isascii()))
                and (ref_name or ref_id) and is_valid_id(key) and is_valid_id(set_id)
            ):
                return cls(key, set_id, ref_name, ref_id, start, end, None)
        return cls._checked(key, row)

    @classmethod
    def _checked(cls, key: str, row: Any) -> AnnotationRecord:
        if type(row) is not list or len(row) != 6:
            fail("must be [annotationSetId, referenceName, referenceId, start, end, extra]")
        set_id, ref_name, ref_id, start, end, extra = row
        if not is_valid_id(key) or type(set_id) is not str or not is_valid_id(set_id):
            fail("the annotation and its set need ids without ':' or '/'", 0)
        text(key), text(set_id, 0)
        if text(ref_name, 1, optional=True) is None and text(ref_id, 2, optional=True) is None:
            fail("needs a referenceName or a referenceId", 1)
        start, end = integer(start, 3), integer(end, 4)
        if end < start:
            fail("end must not be before start", 4)
        if extra is not None and not json_object(extra, 5):
            fail("must be null or a non-empty object", 5)
        return cls(key, set_id, ref_name, ref_id, start, end, extra)


#: a record's place in its tier: (start, id) (a C getter: a million are sorted on start-up)
_position: Callable[[AnnotationRecord], tuple[int, str]] = operator.attrgetter("start", "id")


class SetIndex:
    """All annotations of one annotation set, bucketed by reference."""

    __slots__ = ("primary", "secondary")

    def __init__(self) -> None:
        self.primary: SortedDict = SortedDict()
        self.secondary: dict[str, Bucket] = {}

    def _buckets_for(self, record: AnnotationRecord) -> Iterator[Bucket]:
        key = record.primary_key
        bucket = self.primary.get(key)
        if bucket is None:
            bucket = self.primary[key] = Bucket(_position)
        yield bucket
        if record.ref_name is not None and record.ref_id is not None:
            bucket = self.secondary.get(record.ref_id)
            if bucket is None:
                bucket = self.secondary[record.ref_id] = Bucket(_position)
            yield bucket

    def add(self, record: AnnotationRecord) -> None:
        for bucket in self._buckets_for(record):
            bucket.add(record)

    def add_many(self, records: Iterable[AnnotationRecord]) -> None:
        """Bulk insert (one sort per bucket instead of one bisect per record)."""
        primary: dict[str, list[AnnotationRecord]] = {}
        secondary: dict[str, list[AnnotationRecord]] = {}
        for record in records:
            name, ref_id = record.ref_name, record.ref_id
            primary.setdefault(f"n:{name}" if name is not None else f"i:{ref_id}", []).append(record)
            if name is not None and ref_id is not None:
                secondary.setdefault(ref_id, []).append(record)
        for key, batch in primary.items():
            bucket = self.primary.get(key)
            if bucket is None:
                bucket = self.primary[key] = Bucket(_position)
            bucket.add_many(batch)
        for ref_id, batch in secondary.items():
            bucket = self.secondary.get(ref_id)
            if bucket is None:
                bucket = self.secondary[ref_id] = Bucket(_position)
            bucket.add_many(batch)

    def remove(self, record: AnnotationRecord) -> None:
        for bucket in self._buckets_for(record):
            bucket.remove(record)

    def records(self) -> Iterator[AnnotationRecord]:
        for bucket in self.primary.values():
            yield from bucket.records()

    # -- search streams ---------------------------------------------------------------

    def stream_all(self, cursor: list[Any] | None) -> Iterator[AnnotationRecord]:
        """Every record in (refkey, start, id) order, strictly after ``cursor`` (such a triple)."""
        after_key = cursor[0] if cursor else None
        for key in self.primary.irange(minimum=after_key):
            after = (cursor[1], cursor[2]) if cursor and key == after_key else None
            yield from self.primary[key].scan(after, None, None)

    def stream_reference(
        self,
        reference_name: str | None,
        reference_id: str | None,
        qs: int,
        qe: int | None,
        after: tuple[int, str] | None,
    ) -> Iterator[AnnotationRecord]:
        """Records on one reference overlapping [qs, qe) in (start, id) order, strictly after
        ``after``. A search by name alone (the usual one) is its bucket's own scan: no
        generator of ours per record."""
        if reference_name is not None:
            bucket = self.primary.get(f"n:{reference_name}")
            if bucket is None:
                return iter(())
            if reference_id is None:
                return bucket.scan(after, qs, qe)
            return (r for r in bucket.scan(after, qs, qe) if r.ref_id == reference_id)
        buckets = [self.primary.get(f"i:{reference_id}"), self.secondary.get(reference_id or "")]
        streams = [b.scan(after, qs, qe) for b in buckets if b is not None]
        return merge_records(streams, _position)


def reference_order(record: AnnotationRecord) -> tuple[str, int, str]:
    """A record's place in a search over every reference: (refkey, start, id)."""
    return (record.primary_key, record.start, record.id)


def merge_records(
    streams: list[Iterator[AnnotationRecord]], key: Callable[[AnnotationRecord], Any]
) -> Iterator[AnnotationRecord]:
    """Merge sorted streams (per set, or per bucket) on ``key``; ids are unique, so the order is
    total and records are never compared."""
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=key) if streams else iter(())


def search_stream(
    indexes: list[SetIndex],
    reference_name: str | None,
    reference_id: str | None,
    qs: int,
    qe: int | None,
    cursor: list[Any] | None,
) -> Iterator[AnnotationRecord]:
    """The records a search over the sets of ``indexes`` finds, in its order (module docstring),
    strictly after ``cursor``: every reference when neither ``reference_name`` nor
    ``reference_id`` is given, else one reference overlapping [qs, qe)."""
    if reference_name is None and reference_id is None:
        return merge_records([index.stream_all(cursor) for index in indexes], reference_order)
    after = (cursor[1], cursor[2]) if cursor else None
    if len(indexes) == 1:  # one set (the usual search): its stream as it is, nothing to merge
        return indexes[0].stream_reference(reference_name, reference_id, qs, qe, after)
    return merge_records(
        [index.stream_reference(reference_name, reference_id, qs, qe, after) for index in indexes], _position
    )
