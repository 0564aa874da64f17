"""Import throughput and coverage-page latency for a generated BAM.

    python benchmarks/coverage.py              # 1,000,000 reads
    python benchmarks/coverage.py --reads 100000

Prints: BAM generation time, import throughput (reads/s) through the backend
(operations in immediate mode, so the figure is the whole import: read, route,
sort, index, precompute coverage, commit), resident memory per stored read,
and the median latency of one coverage page at the smallest width (2048 bp,
1024 buckets) against a baseline that computes the same page by scanning
every stored read of that reference, with the ratio.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pysam

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockserver.backend import Backend  # noqa: E402
from mockserver.backend.bam import DEPTH_EXCLUDED_FLAGS, depth_runs, line_start_cigar  # noqa: E402
from mockserver.backend.principals import DEFAULT_OWNER  # noqa: E402
from mockserver.backend.reads import SetReads  # noqa: E402

REFERENCES = (("chr1", 60_000_000), ("chr2", 40_000_000))
READ_LENGTH = 100
CIGARS = ("100M",) * 16 + ("40M2I58M", "50M3D50M", "30M500N70M", "5S95M", "90M10S", "48=1X51=")


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def stored_bytes(reads: SetReads) -> int:
    """Bytes held by one set's stored reads: line objects, list slots and index arrays."""
    total = sys.getsizeof(reads.lines) + sum(sys.getsizeof(line) for line in reads.lines)
    total += reads.read_groups.buffer_info()[1] * reads.read_groups.itemsize
    for ref in reads.references.values():
        total += (len(ref.starts) + len(ref.ends)) * 8
    cov = reads.coverage.references.values()
    return total + sum(len(c.prefix) * 8 + len(c.nonzero) * 4 for c in cov)


def generate(path: Path, count: int, seed: int = 1) -> None:
    """A coordinate-sorted BAM: positions drawn per reference, sorted, then written in order."""
    rng = random.Random(seed)
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": n, "LN": length} for n, length in REFERENCES],
        "RG": [{"ID": "rg1", "SM": "bench", "LB": "lib1"}],
    }
    total = sum(length for _n, length in REFERENCES)
    quals = pysam.qualitystring_to_array("I" * READ_LENGTH)
    seqs = ["".join(rng.choice("ACGT") for _ in range(READ_LENGTH)) for _ in range(64)]
    counts = [count * length // total for _n, length in REFERENCES[:-1]]
    counts.append(count - sum(counts))
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for tid, ((_name, length), n) in enumerate(zip(REFERENCES, counts, strict=True)):
            for pos in sorted(rng.randrange(0, length - 1000) for _ in range(n)):
                seg = pysam.AlignedSegment(out.header)
                seg.query_name = f"r{tid}_{pos}_{rng.randrange(1 << 30)}"
                seg.flag = 16 if rng.random() < 0.5 else 0
                seg.reference_id = tid
                seg.reference_start = pos
                seg.mapping_quality = 60
                seg.cigarstring = rng.choice(CIGARS)
                seg.query_sequence = seqs[rng.randrange(64)]
                seg.query_qualities = quals
                seg.set_tag("RG", "rg1")
                seg.set_tag("NM", rng.randrange(3))
                out.write(seg)


def baseline_page(backend: Backend, set_id: str, name: str, start: int, buckets: int) -> list[tuple]:
    """The same page computed the naive way: every read of the reference, every CIGAR, every time."""
    reads = backend.reads.of(set_id)
    ref = reads.references[name]
    end = start + buckets * 2048
    sums = [0] * buckets
    for line in reads.lines[ref.lo : ref.hi]:
        pos, cigar, flag = line_start_cigar(line)
        if flag & DEPTH_EXCLUDED_FLAGS:
            continue
        for a, b in depth_runs(pos, cigar):
            a, b = max(a, start), min(b, end)
            while a < b:
                k = (a - start) // 2048
                cut = min(b, start + (k + 1) * 2048)
                sums[k] += cut - a
                a = cut
    return [(name, start + k * 2048, s / 2048) for k, s in enumerate(sums) if s]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reads", type=int, default=1_000_000)
    parser.add_argument("--pages", type=int, default=50, help="coverage pages to time")
    parser.add_argument("--baseline-pages", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench").mkdir()
        bam_path = root / "bench" / "reads.bam"
        t = time.perf_counter()
        generate(bam_path, args.reads)
        gen_s = time.perf_counter() - t
        print(f"generated {args.reads:,} reads ({bam_path.stat().st_size / 1e6:.1f} MB BAM) in {gen_s:.1f} s")

        backend = Backend(storage_root=root)
        backend.operations.mode = "immediate"
        ds = backend.datasets.create(DEFAULT_OWNER, {"projectId": "bench"})["id"]
        rss0 = rss_bytes()
        t, cpu = time.perf_counter(), time.process_time()
        op = backend.read_group_sets.import_(
            DEFAULT_OWNER, {"datasetId": ds, "sourceUris": ["gs://bench/reads.bam"]}
        )
        import_s, import_cpu = time.perf_counter() - t, time.process_time() - cpu
        assert op.get("done") and "error" not in op, op
        (set_id,) = op["response"]["readGroupSetIds"]
        rss1 = rss_bytes()
        print(
            f"import: {import_s:.1f} s wall = {args.reads / import_s:,.0f} reads/s "
            f"({import_cpu:.1f} s CPU = {args.reads / import_cpu:,.0f} reads/s per CPU second)"
        )
        stored = stored_bytes(backend.reads.of(set_id))
        print(
            f"memory: {(rss1 - rss0) / 1e6:.0f} MB RSS growth = {(rss1 - rss0) / args.reads:.0f} bytes/read "
            f"(live stored data {stored / args.reads:.0f} bytes/read; rest: allocator slack from import)"
        )

        rng = random.Random(2)
        name, length = REFERENCES[0]
        page_buckets = 1024
        starts = [rng.randrange(0, (length - page_buckets * 2048) // 2048) * 2048 for _ in range(args.pages)]
        fast, fast_cpu = [], []
        for start in starts:
            t, cpu = time.perf_counter(), time.process_time()
            resp = backend.coverage.list_buckets(
                DEFAULT_OWNER,
                set_id,
                reference_name=name,
                start=str(start),
                end=str(start + page_buckets * 2048),
                target_bucket_width="2048",
                page_size_value=page_buckets,
            )
            fast.append(time.perf_counter() - t)
            fast_cpu.append(time.process_time() - cpu)
        slow, slow_cpu = [], []
        for start in starts[: args.baseline_pages]:
            t, cpu = time.perf_counter(), time.process_time()
            expected = baseline_page(backend, set_id, name, start, page_buckets)
            slow.append(time.perf_counter() - t)
            slow_cpu.append(time.process_time() - cpu)
        # the two must agree on the last page computed
        got = [
            (b["range"]["referenceName"], int(b["range"].get("start", "0")), b["meanCoverage"])
            for b in resp.get("coverageBuckets", [])
        ]
        last = baseline_page(backend, set_id, name, starts[-1], page_buckets)
        assert got == last, "indexed and baseline pages differ"
        del expected
        fast_ms, slow_ms = statistics.median(fast) * 1e3, statistics.median(slow) * 1e3
        scanned = backend.reads.of(set_id).references[name].hi
        print(
            f"coverage page ({page_buckets} buckets x 2048 bp, {len(got)} non-empty): "
            f"median {fast_ms:.2f} ms over {len(fast)} pages; "
            f"baseline scan of {scanned:,} reads: median {slow_ms:.0f} ms "
            f"over {len(slow)}; ratio {slow_ms / fast_ms:,.0f}x"
        )
        fc, sc = statistics.median(fast_cpu) * 1e3, statistics.median(slow_cpu) * 1e3
        print(f"  same in CPU time: {fc:.2f} ms vs {sc:.0f} ms; ratio {sc / fc:,.0f}x")


if __name__ == "__main__":
    main()
