"""Annotation search: indexed keyset pages vs. a plain full scan, in one run.

Loads N annotations (default 1,000,000) into 10 GENERIC annotation sets over
24 references straight through the backend (``Annotations.load``: the same
validation and index code as ``create``/``batchCreate``), then prints

* load time and RSS per annotation (``/proc/self/statm`` before/after),
* the median server time of a 256-result page of a search over all sets at
  page 1 and at page 1,000 (page 1,000 reached once by following tokens, then
  fetched repeatedly with the saved token),
* the same two pages computed by a full scan + sort of every annotation,
* the ratios page1000/page1 (target <= 1.5) and scan/indexed (target >= 100).

Usage: ``python benchmarks/search.py [--annotations N] [--repeat R]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import time
from collections.abc import Iterator
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from measure import compare_with_scan, median_ms, page_one_and_deep, print_indexed, rss_bytes  # noqa: E402 - the sibling module

from mockserver.backend import DEFAULT_OWNER, Backend  # noqa: E402
from mockserver.backend.annotation_index import AnnotationRecord  # noqa: E402
from mockserver.backend.clock import FakeClock  # noqa: E402
from mockserver.backend.public_references import GRCH38, PUBLIC  # noqa: E402

#: GRCh38's chromosomes (built into every server) and their lengths, chrM left out
LENGTHS = {
    PUBLIC.references[ref_id]["name"]: int(PUBLIC.references[ref_id]["length"])
    for ref_id in PUBLIC.sets[GRCH38]["referenceIds"]
    if PUBLIC.references[ref_id]["name"] != "chrM"
}
REFERENCES = list(LENGTHS)
PAGE = 256
CHUNK = 4096



def generate(rng: random.Random, set_id: str, count: int, first: int) -> Iterator[dict[str, Any]]:
    for i in range(first, first + count):
        reference = rng.choice(REFERENCES)
        length = rng.randrange(1, 20_000) if rng.random() < 0.99 else rng.randrange(20_000, 2_000_000)
        start = rng.randrange(0, LENGTHS[reference] - length)
        yield {
            "annotationSetId": set_id,
            "referenceName": reference,
            "start": str(start),
            "end": str(start + length),
            "name": f"feature-{i}",
        }



def scan_page(backend: Backend, set_ids: list[str], page: int) -> list[dict[str, Any]]:
    """The baseline: look at every annotation, sort the matches, slice one page."""
    wanted = set(set_ids)
    matches = [r for r in backend.annotations.all_records() if r.set_id in wanted]

    def key(r: AnnotationRecord) -> tuple[str, int, str]:
        return (r.primary_key, r.start, r.id)

    matches.sort(key=key)
    sets = {s: backend.annotation_sets.require(s) for s in set_ids}
    chunk = matches[(page - 1) * PAGE : page * PAGE]
    return [backend.annotations._render(r, sets[r.set_id]) for r in chunk]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--sets", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=101, help="timed fetches per indexed page")
    parser.add_argument("--scan-repeat", type=int, default=5, help="timed full scans per page")
    parser.add_argument("--page", type=int, default=1000, help="the deep page to time")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    backend = Backend(clock=FakeClock(), id_seed=args.seed)
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "bench"})
    set_ids = [
        backend.annotation_sets.create(
            DEFAULT_OWNER,
            {"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENERIC", "name": f"set {i}"},
        )["id"]
        for i in range(args.sets)
    ]
    gc.collect()
    rss_before = rss_bytes()
    load_seconds = 0.0
    per_set = args.annotations // args.sets
    for n, set_id in enumerate(set_ids):
        count = per_set + (args.annotations % args.sets if n == 0 else 0)
        done = 0
        while done < count:
            batch = list(generate(rng, set_id, min(CHUNK, count - done), done))
            t0 = time.perf_counter()
            backend.annotations.load(DEFAULT_OWNER, set_id, batch)
            load_seconds += time.perf_counter() - t0
            done += len(batch)
    del batch
    gc.collect()
    rss_after = rss_bytes()
    total = args.annotations
    print(f"annotations loaded:         {total:,} in {args.sets} sets over {len(REFERENCES)} references")
    print(f"load time (backend.load):   {load_seconds:.2f} s ({total / load_seconds:,.0f} annotations/s)")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1/5/15 min):  {load} on {os.cpu_count()} CPUs (other work on the machine)")
    print(f"RSS per annotation:         {(rss_after - rss_before) / total:,.0f} bytes "
          f"(RSS {rss_before / 2**20:,.0f} -> {rss_after / 2**20:,.0f} MiB; target <= 1024)")

    query = {"annotationSetIds": set_ids, "pageSize": PAGE}
    search = backend.annotations.search
    paged = page_one_and_deep(lambda q: search(DEFAULT_OWNER, q), query, args.page, args.repeat)
    print_indexed(paged, args.page, "annotations")

    # an overlap query on one reference: 50 Mbp of chr1, first page and the 10th
    ranged = {**query, "referenceName": "chr1", "start": "100000000", "end": "150000000"}
    ranged_first = search(DEFAULT_OWNER, ranged)  # then walked to page `pages`
    ranged_deep_query, pages = ranged, 1
    while pages < 10 and "nextPageToken" in ranged_first:
        ranged_deep_query = {**ranged, "pageToken": ranged_first["nextPageToken"]}
        ranged_first, pages = search(DEFAULT_OWNER, ranged_deep_query), pages + 1
    range1_ms, range_deep_ms = median_ms(
        [lambda: search(DEFAULT_OWNER, ranged), lambda: search(DEFAULT_OWNER, ranged_deep_query)], args.repeat
    )
    print(f"chr1:100M-150M page 1 / {pages}: {range1_ms:.3f} ms / {range_deep_ms:.3f} ms (overlap query)")

    compare_with_scan(paged, args.page, "annotations", lambda page: scan_page(backend, set_ids, page),
                      args.scan_repeat)

if __name__ == "__main__":
    main()
