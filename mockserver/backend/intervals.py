"""Sorted interval storage for overlap searches (annotations, and variants made through the API).

A :class:`Tier` keeps records ordered by a *position key* ``(start, tie-breaker)`` of the
record and the longest ``end - start`` it ever held (an index: saved states hold the
records). An overlap query for ``[qs, qe)`` seeks straight to ``start >= qs - longest``
(nothing earlier can reach ``qs``) and stops at the first ``start >= qe``, so its cost
depends on the page, not on how many records are stored.

A :class:`Bucket` holds one reference's records in two tiers by length, so one very long
record does not make every query walk back over all the short ones.

Overlap rule: ``[s, e)`` matches ``[qs, qe)`` when ``s < qe`` and ``e > qs``; a zero-length
record ``[s, s)`` matches when ``qs <= s < qe``. Starts are non-negative (both users check it).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from sortedcontainers import SortedKeyList

#: a record's place in its tier: (start, tie-breaker)
PositionKey = Callable[[Any], tuple[int, Any]]


class Tier:
    """Records ordered by their position key, plus the longest ``end - start`` ever stored."""

    __slots__ = ("items", "max_len")

    def __init__(self, key: PositionKey) -> None:
        self.items: SortedKeyList = SortedKeyList(key=key)
        self.max_len = 0

    def add_many(self, records: list[Any]) -> None:
        if len(records) == 1:
            self.items.add(records[0])
        else:
            self.items.update(records)
        if records:
            self.max_len = max(self.max_len, max(r.end - r.start for r in records))

    def scan(self, after: tuple[int, Any] | None, qs: int | None, qe: int | None) -> Iterator[Any]:
        """Records strictly after ``after`` in key order overlapping [qs, qe).

        Every record starting in [qs, qe) overlaps, so only those starting before ``qs`` (within
        the longest length) are tested one by one; the others come straight from the sorted
        list's iterator, without a Python frame per record (a search's hot path)."""
        low: tuple[Any, ...] | None = None
        inclusive = True
        if qs is not None and qs - self.max_len > 0:
            low = (qs - self.max_len,)  # a 1-tuple sorts before every key with that start
        if after is not None and (low is None or after >= low):
            low, inclusive = after, False
        stop = None if qe is None else (qe,)
        if qs is None or qs <= 0 or (low is not None and low >= (qs,)):
            return self._range(low, inclusive, stop)  # nothing starts before qs (starts are >= 0)
        first = (qs,) if stop is None or stop > (qs,) else stop
        head = self.items.irange_key(low, first, inclusive=(inclusive, False))
        reaching = (record for record in head if record.end > qs)
        if first is stop:
            return reaching
        return itertools.chain(reaching, self._range(first, True, stop))

    def _range(self, low: tuple[Any, ...] | None, inclusive: bool, stop: tuple[int] | None) -> Iterator[Any]:
        """Records from ``low`` (all when None) to before ``stop`` (the end when None)."""
        if low is None:
            records = iter(self.items)
            return records if stop is None else itertools.islice(records, self.items.bisect_key_left(stop))
        return self.items.irange_key(low, stop, inclusive=(inclusive, False))

    def at(self, start: int) -> Iterator[Any]:
        """The records starting exactly at ``start``."""
        return self.items.irange_key(min_key=(start,), max_key=(start + 1,), inclusive=(True, False))


class Bucket:
    """Records on one reference, in two tiers by length (see module docstring)."""

    __slots__ = ("short", "long")

    #: bp; longer records go to the long tier (a class attribute so tests can lower it)
    long_threshold = 100_000

    def __init__(self, key: PositionKey) -> None:
        self.short = Tier(key)
        self.long: Tier | None = None

    @property
    def key(self) -> PositionKey:
        return self.short.items.key

    def _tier(self, record: Any) -> Tier:
        if record.end - record.start <= self.long_threshold:
            return self.short
        if self.long is None:
            self.long = Tier(self.key)
        return self.long

    def add(self, record: Any) -> None:
        self._tier(record).add_many([record])

    def add_many(self, records: list[Any]) -> None:
        short = [r for r in records if r.end - r.start <= self.long_threshold]
        self.short.add_many(short)
        if len(short) < len(records):
            long = [r for r in records if r.end - r.start > self.long_threshold]
            self._tier(long[0]).add_many(long)

    def remove(self, record: Any) -> None:
        # max_len stays: an over-estimate only widens the seek, never loses a match
        self._tier(record).items.remove(record)

    def __len__(self) -> int:
        return len(self.short.items) + (len(self.long.items) if self.long is not None else 0)

    def records(self) -> Iterator[Any]:
        yield from self.short.items
        if self.long is not None:
            yield from self.long.items

    def last(self) -> Any | None:
        """The record with the largest position key (None when empty)."""
        tails = [tier.items[-1] for tier in (self.short, self.long) if tier is not None and tier.items]
        return max(tails, key=self.key) if tails else None

    def at(self, start: int) -> Iterator[Any]:
        """The records starting exactly at ``start``."""
        yield from self.short.at(start)
        if self.long is not None:
            yield from self.long.at(start)

    def scan(self, after: tuple[int, Any] | None, qs: int | None, qe: int | None) -> Iterator[Any]:
        """Records strictly after ``after`` in key order overlapping [qs, qe)."""
        if self.long is None or not self.long.items:
            return self.short.scan(after, qs, qe)
        return heapq.merge(self.short.scan(after, qs, qe), self.long.scan(after, qs, qe), key=self.key)
