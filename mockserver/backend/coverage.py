"""Coverage buckets: mean read depth over fixed-width windows of each reference.

Depth follows samtools ``depth`` defaults: a read adds 1 to each reference
base under one of its M, = or X operations (D, N, I, S, H, P add nothing),
and unmapped, secondary, QC-failed and duplicate reads are left out.

Precomputed at import (reads never change afterwards): per reference, the
sum of depth over every 2048 bp block (``array('Q')``), its prefix sums and
the sorted list of non-empty blocks. Any bucket width on the ladder is a
multiple of 2048, so a bucket's depth sum is two prefix-sum lookups, and the
next non-empty bucket is one bisection — a page costs O(page size · log n)
whatever the reference length. Only a request whose ``start``/``end`` cut a
block in two pays for scanning the reads of those (at most two) edge blocks.

Bucket widths (``targetBucketWidth`` is rounded *down* to one of these; below
the smallest means the smallest): 2048 · 4^k for k = 0…10, i.e. 2048, 8192,
32768, 131072, 524288, 2097152, … 2147483648. Buckets lie on the grid of
their width (bucket i covers [i·w, (i+1)·w)), clipped to the requested range
and to the reference end, so the first and last bucket may be shorter.
Without a target the bucket is the whole requested range (``bucketWidth``
omitted when that is a whole reference).
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from mockserver.backend.bam import DEPTH_EXCLUDED_FLAGS, depth_runs, line_start_cigar
from mockserver.backend.base import Component, synchronized
from mockserver.backend.coverage_index import BLOCK, BLOCK_SHIFT, RefCoverage
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.reads import SetReads
from mockserver.backend.request_fields import optional_int64
from mockserver.errors import invalid_argument

WIDTHS = tuple(BLOCK * 4**k for k in range(11))
#: buckets are (reference name, start, end, depth sum), in that order
LIST = Listing("readgroupsets.coveragebuckets.list", "coverageBuckets", key=lambda b: [b[0], b[1]])


def bucket_width(target: int | None) -> int | None:
    """The precomputed width for a ``targetBucketWidth`` (None: no target)."""
    if not target:
        return None
    chosen = WIDTHS[0]
    for width in WIDTHS:
        if width <= target:
            chosen = width
    return chosen


class Coverage(Component):
    """``readgroupsets.coveragebuckets.list`` (no records of its own: buckets come from the
    coverage index stored with the reads)."""

    tables = ()
    derived = Component.derived | {"_records"}  # always empty

    def after_restore(self) -> None:
        """Nothing to rebuild: the coverage index comes with the reads."""

    @synchronized
    def list_buckets(
        self,
        principal: Principal,
        read_group_set_id: str,
        *,
        reference_name: str | None = None,
        start: Any = None,
        end: Any = None,
        target_bucket_width: Any = None,
        page_size_value: int | None = None,
        page_token: str | None = None,
    ) -> dict[str, Any]:
        record = self.backend.read_group_sets.require(read_group_set_id)
        self.backend.read_group_sets.authorize(principal, "genomics.readGroupSets.get", record)
        reads = self.backend.reads.of(read_group_set_id)
        index = reads.coverage
        start_v, end_v = optional_int64(start, "start"), optional_int64(end, "end")
        target = optional_int64(target_bucket_width, "targetBucketWidth")
        if target is not None and target < 0:
            raise invalid_argument("targetBucketWidth must not be negative")
        if not reference_name and (start_v or end_v):
            raise invalid_argument("start and end require referenceName")
        if reference_name and reference_name not in index.lengths:
            raise invalid_argument(
                f"referenceName {reference_name!r} is not a reference of read group set {read_group_set_id!r}"
            )
        if start_v is not None and start_v < 0:
            raise invalid_argument("start must not be negative")
        size = LIST.page_size(page_size_value)
        width = bucket_width(target)
        ranged = bool(start_v or end_v)
        names = [reference_name] if reference_name else sorted(index.lengths)
        s_req = start_v or 0
        if reference_name:
            length = index.lengths[reference_name]
            e_req = min(end_v, length) if end_v else length
            if s_req >= e_req:
                raise invalid_argument(f"start must be less than end (and the reference length {length})")
        query = {
            "readGroupSetId": read_group_set_id,
            "referenceName": reference_name,
            "start": s_req,
            "end": end_v,
            "width": width,
        }

        def stream(cursor: list[Any] | None):
            for name in names:
                if cursor is not None and name < cursor[0]:
                    continue
                length = index.lengths[name]
                lo = s_req if reference_name else 0
                hi = (min(end_v, length) if end_v else length) if reference_name else length
                after = cursor[1] if cursor is not None and name == cursor[0] else None
                yield from self._buckets(reads, name, lo, hi, width, after)

        if width is not None:
            shown: int | None = width
        elif ranged:
            shown = e_req - s_req
        else:
            shown = None
        response = {"bucketWidth": str(shown)} if shown else {}
        page = self.backend.pager.respond(
            LIST, query, page_size=size, page_token=page_token, stream=stream, render=_bucket_json
        )
        return {**response, **page}

    def _buckets(self, reads: SetReads, name: str, lo: int, hi: int, width: int | None, after: int | None):
        """Non-empty buckets ``(name, start, end, depth_sum)`` of [lo, hi) with start > ``after``."""
        ref = reads.coverage.references.get(name)
        if ref is None or lo >= hi:
            return
        if width is None:
            if after is None:
                total = self._sum(reads, name, ref, lo, hi)
                if total:
                    yield (name, lo, hi, total)
            return
        per = width >> BLOCK_SHIFT
        k = lo // width
        if after is not None:
            k = max(k, after // width + 1)
        nonzero, prefix, length = ref.nonzero, ref.prefix, ref.length
        i = bisect_left(nonzero, max(k * per, lo >> BLOCK_SHIFT))
        count = len(nonzero)
        while i < count:
            k = max(k, nonzero[i] // per)
            a, b = k * width, (k + 1) * width
            if a < lo or b > hi:  # a bucket cut by the requested range
                a, b = max(a, lo), min(b, hi)
                if a >= b:
                    return
                total = self._sum(reads, name, ref, a, b)
            else:  # a whole bucket: two prefix-sum lookups
                total = prefix[min((k + 1) * per, len(prefix) - 1)] - prefix[k * per]
                b = min(b, length)
            if total:
                yield (name, a, b, total)
            k += 1
            i = bisect_left(nonzero, k * per, i)

    def _sum(self, reads: SetReads, name: str, ref: RefCoverage, a: int, b: int) -> int:
        """Depth summed over [a, b): whole blocks from the prefix sums, cut blocks from the reads."""
        if b >= ref.length:
            b = ref.length
            last = len(ref.prefix) - 1  # the reference's final block counts whole
        else:
            last = b >> BLOCK_SHIFT
        first = (a + BLOCK - 1) >> BLOCK_SHIFT
        if first >= last:
            return _scan(reads, name, a, b)
        total = ref.prefix[last] - ref.prefix[first]
        if a < first << BLOCK_SHIFT:
            total += _scan(reads, name, a, first << BLOCK_SHIFT)
        if b < ref.length and last << BLOCK_SHIFT < b:
            total += _scan(reads, name, last << BLOCK_SHIFT, b)
        return total


def _bucket_json(bucket: tuple[str, int, int, int]) -> dict[str, Any]:
    """Built directly (no compact()): this runs up to 2048 times per page."""
    name, a, b, total = bucket
    span = {"referenceName": name, "start": str(a), "end": str(b)}
    if not a:
        del span["start"]
    return {"range": span, "meanCoverage": total / (b - a)}


def _scan(reads: SetReads, name: str, a: int, b: int) -> int:
    """Depth sum over [a, b) by walking the CIGARs of the reads there (edge blocks only)."""
    if a >= b:
        return 0
    total = 0
    for index in reads.overlapping(name, a, b):
        start, cigar, flag = line_start_cigar(reads.lines[index])
        if flag & DEPTH_EXCLUDED_FLAGS:
            continue
        for x, y in depth_runs(start, cigar):
            lo, hi = max(x, a), min(y, b)
            if lo < hi:
                total += hi - lo
    return total
