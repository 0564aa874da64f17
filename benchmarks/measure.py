"""Measuring helpers the in-process benchmarks share (imported as a sibling: the scripts run
as ``python benchmarks/<name>.py``, which puts this folder on the path)."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def rss_bytes() -> int:
    """This process's resident set size."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def median_ms(fns: list[Callable[[], Any]], repeat: int) -> list[float]:
    """Median milliseconds of each function, calls interleaved so all see the same machine load."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, bucket in zip(fns, times, strict=True):
            t0 = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - t0)
    return [statistics.median(bucket) * 1000 for bucket in times]


@dataclass
class DeepPage:
    """Page 1 and page N of one search, reached by following its page tokens."""

    first: dict[str, Any]
    deep: dict[str, Any]
    deep_query: dict[str, Any]
    walk_seconds: float
    first_ms: float
    deep_ms: float


def page_one_and_deep(search: Callable[[dict[str, Any]], dict[str, Any]], query: dict[str, Any],
                      page: int, repeat: int) -> DeepPage:
    """Walk to page ``page`` by tokens, then time page 1 against page ``page`` (medians)."""
    first = search(query)
    deep, token = first, None
    t0 = time.perf_counter()
    for _ in range(page - 1):
        token = deep["nextPageToken"]
        deep = search({**query, "pageToken": token})
    walk_seconds = time.perf_counter() - t0
    deep_query = {**query, "pageToken": token}
    first_ms, deep_ms = median_ms([lambda: search(query), lambda: search(deep_query)], repeat)
    return DeepPage(first, deep, deep_query, walk_seconds, first_ms, deep_ms)


def print_indexed(paged: DeepPage, page: int, items: str, where: str = "") -> None:
    """The walk and the two medians of :func:`page_one_and_deep`, with each page's size."""
    print(f"walked to page {page:,} by tokens: {paged.walk_seconds:.2f} s")
    print(f"indexed page 1 median:      {paged.first_ms:.3f} ms ({len(paged.first[items])} {items}{where})")
    print(f"indexed page {page:,} median:  {paged.deep_ms:.3f} ms ({len(paged.deep[items])} {items})")


def compare_with_scan(paged: DeepPage, page: int, items: str, scan: Callable[[int], list[Any]],
                      repeat: int) -> None:
    """Time ``scan`` (the same page computed without the index) at page 1 and page ``page``,
    check it returns what the index did, and print the figures and the ratios to the targets."""
    scan1_ms, scan_deep_ms = median_ms([lambda: scan(1), lambda: scan(page)], repeat)
    same = scan(1) == paged.first[items] and scan(page) == paged.deep[items]
    print(f"scan+sort page 1 median:    {scan1_ms:.1f} ms")
    print(f"scan+sort page {page:,} median: {scan_deep_ms:.1f} ms")
    print(f"scan and index agree:       {same}")
    print(f"ratio page{page}/page1 (indexed): {paged.deep_ms / paged.first_ms:.2f} (target <= 1.5)")
    print(f"ratio scan/indexed page 1:  {scan1_ms / paged.first_ms:,.0f} (target >= 100)")
    print(f"ratio scan/indexed page {page:,}: {scan_deep_ms / paged.deep_ms:,.0f} (target >= 100)")
