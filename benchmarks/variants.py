"""Variant import and search: figures and ratios against baselines measured in the same run.

Writes a VCF of N records (default 1,000,000) with two samples (``GT:DP`` calls, an id, QUAL,
FILTER and two INFO keys per record) on two references, then prints

* the time pysam takes to iterate the file alone, and the time of a whole ``variants.import``
  operation on it (pysam reading, checks, call sets, storing), as variants/s and their ratio
  (target >= 0.3), in wall time and in CPU time (the import runs in this thread; CPU time is
  what a machine busy with other work moves least);
* RSS per stored variant (``/proc/self/statm`` before the import and after it, the file's
  records only; target <= 1 KB);
* the median time of a ``variants.search`` page (256 variants on one reference) at page 1 and
  at page 1,000 (reached once by following tokens, then fetched with the saved token), and of
  the same two pages computed by scanning and sorting every stored variant of the reference;
  the ratios page1000/page1 (target <= 1.5) and scan/indexed (target >= 100).

Usage: ``python benchmarks/variants.py [--variants N] [--repeat R] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pysam

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from measure import compare_with_scan, median_ms, page_one_and_deep, print_indexed, rss_bytes  # noqa: E402 - the sibling module

from mockserver.backend import DEFAULT_OWNER, Backend  # noqa: E402
from mockserver.backend.clock import FakeClock  # noqa: E402
from mockserver.backend.variants import VariantHandle  # noqa: E402

PAGE = 256
REFERENCES = (("chr1", 248_956_422, 0.6), ("chr2", 242_193_529, 0.4))
GENOTYPES = ("0/0", "0/1", "1/1", "0|1", "1|0", "./.")



def write_vcf(path: Path, count: int, rng: random.Random) -> None:
    """A VCF of ``count`` sorted records with two samples, written as text (fast, and the same
    file for pysam and the import)."""
    header = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={name},length={length}>" for name, length, _ in REFERENCES),
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Total depth">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##FILTER=<ID=q10,Description="Quality below 10">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNA12878\tNA12891",
    ]
    with open(path, "w") as out:
        out.write("\n".join(header) + "\n")
        n = 0
        for name, length, share in REFERENCES:
            records = int(count * share) if name != REFERENCES[-1][0] else count - n
            step = length // (records + 1)
            pos = 0
            lines = []
            for _ in range(records):
                pos += rng.randint(1, step)
                ref = rng.choice("ACGT")
                alt = rng.choice([b for b in "ACGT" if b != ref])
                gt1, gt2 = rng.choice(GENOTYPES), rng.choice(GENOTYPES)
                quality, passed = rng.randint(10, 99), "PASS" if rng.random() < 0.9 else "q10"
                calls = f"{gt1}:{rng.randint(1, 30)}\t{gt2}:{rng.randint(1, 30)}"
                lines.append(
                    f"{name}\t{pos}\trs{n}\t{ref}\t{alt}\t{quality}\t{passed}\tDP={rng.randint(5, 60)};AF=0.5"
                    f"\tGT:DP\t{calls}\n"
                )
                n += 1
                if len(lines) == 10_000:
                    out.writelines(lines)
                    lines.clear()
            out.writelines(lines)



def scan_page(backend: Backend, set_id: str, reference: str, page: int) -> list[dict[str, Any]]:
    """The baseline: look at every stored variant of the reference, sort, slice one page."""
    store = backend.variants.store(set_id)
    shelf = store.shelves[reference]
    items = [
        (segment.starts[i], segment.base + i, segment, i)
        for segment in shelf.segments
        for i in range(len(segment))
        if segment.base + i not in store.dropped
    ]
    items.extend((r.start, r.seq, None, r) for r in shelf.loose.records())
    items.sort(key=lambda item: (item[0], item[1]))
    chunk = items[(page - 1) * PAGE : page * PAGE]
    return [backend.variants.render(VariantHandle(set_id, store, item)) for item in chunk]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=101, help="timed fetches per indexed page")
    parser.add_argument("--scan-repeat", type=int, default=5, help="timed full scans per page")
    parser.add_argument("--page", type=int, default=1000, help="the deep page to time")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="write the VCF and storage here (default: a temporary directory)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="genomics-mock-variants-") as scratch:
        root = Path(args.keep or scratch)
        (root / "bucket").mkdir(parents=True, exist_ok=True)
        vcf = root / "bucket" / "calls.vcf"
        t0 = time.perf_counter()
        write_vcf(vcf, args.variants, random.Random(args.seed))
        print(
            f"VCF written:                {args.variants:,} records, 2 samples, "
            f"{vcf.stat().st_size / 2**20:,.0f} MiB in {time.perf_counter() - t0:.1f} s"
        )
        run(args, root, vcf)


def run(args: argparse.Namespace, root: Path, vcf: Path) -> None:
    total = args.variants
    t0, c0 = time.perf_counter(), time.process_time()
    with pysam.VariantFile(str(vcf)) as handle:
        iterated = sum(1 for _ in handle)
    pysam_seconds, pysam_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert iterated == total

    backend = Backend(clock=FakeClock(), id_seed=args.seed, storage_root=root)
    backend.operations.mode = "immediate"
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "bench"})
    set_id = backend.variant_sets.create(DEFAULT_OWNER, {"datasetId": dataset["id"]})["id"]
    gc.collect()
    rss_before = rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    operation = backend.variants.import_(
        DEFAULT_OWNER, {"variantSetId": set_id, "sourceUris": ["gs://bucket/calls.vcf"]}
    )
    import_seconds, import_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert "error" not in operation, operation
    gc.collect()
    rss_after = rss_bytes()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1/5/15 min):  {load} on {os.cpu_count()} CPUs (other work on the machine)")
    print(
        f"pysam iterating the file:   {pysam_seconds:.2f} s ({total / pysam_seconds:,.0f} variants/s); "
        f"CPU {pysam_cpu:.2f} s"
    )
    print(
        f"variants.import operation:  {import_seconds:.2f} s ({total / import_seconds:,.0f} variants/s); "
        f"CPU {import_cpu:.2f} s"
    )
    print(
        f"ratio import/pysam:         {pysam_seconds / import_seconds:.2f} wall, "
        f"{pysam_cpu / import_cpu:.2f} CPU (target >= 0.3)"
    )
    print(
        f"RSS per stored variant:     {(rss_after - rss_before) / total:,.0f} bytes "
        f"(RSS {rss_before / 2**20:,.0f} -> {rss_after / 2**20:,.0f} MiB; target <= 1024)"
    )

    reference = REFERENCES[0][0]
    query = {"variantSetIds": [set_id], "referenceName": reference, "pageSize": PAGE}
    search = backend.variants.search
    paged = page_one_and_deep(lambda q: search(DEFAULT_OWNER, q), query, args.page, args.repeat)
    print_indexed(paged, args.page, "variants", f" on {reference}")
    window = {**query, "start": "100000000", "end": "100500000"}
    window_ms = median_ms([lambda: search(DEFAULT_OWNER, window)], args.repeat)[0]
    print(f"{reference}:100.0M-100.5M page:   {window_ms:.3f} ms (overlap query)")

    compare_with_scan(paged, args.page, "variants",
                      lambda page: scan_page(backend, set_id, reference, page), args.scan_repeat)

if __name__ == "__main__":
    main()
