"""Wall time of a conformance run in one process and over pytest-xdist workers, in the same run.

Runs the chosen profile (default deep) against in-process mocks (no ``--base-url``: every
worker process starts its own mock, so the work spreads over CPUs, not over one shared
server) in three ways:

* ``serial``:  ``genomics-mock conformance --workers 1`` (no xdist: checks one after the other);
* ``xdist-1``: ``genomics-mock conformance --workers 1 --tx popen`` (one pytest-xdist worker);
* ``xdist-N``: ``genomics-mock conformance --workers N``.

For each it prints wall time, the CPU seconds the run used (all its processes), the cores it
kept busy on average (CPU / wall), the verdict line and the load average around it: the
machine may be shared, and other work shows up as fewer busy cores. Speedups are against
``xdist-1`` and ``serial``.

    python benchmarks/conformance_workers.py [--profile deep] [--seed 1] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import time


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, extra: list[str], profile: str, seed: int) -> float:
    command = ["genomics-mock", "conformance", "--profile", profile, "--seed", str(seed), *extra]
    before, cpu, started = load(), children_cpu(), time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    wall, cpu = time.monotonic() - started, children_cpu() - cpu
    lines = done.stdout.splitlines()
    verdict = next((line for line in lines if "checks passed" in line), done.stderr.strip()[-200:])
    print(
        f"{name:<8} {wall:7.1f} s wall, {cpu:6.1f} s CPU, {cpu / wall:4.2f} cores busy, "
        f"exit {done.returncode}: {verdict.strip()}  (load average before {before}, after {load()})",
        flush=True,
    )
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", default="deep", choices=("quick", "deep"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print(f"CPUs: {os.cpu_count()}; profile {args.profile}, seed {args.seed}")
    serial = measure("serial", ["--workers", "1"], args.profile, args.seed)
    one = measure("xdist-1", ["--tx", "popen"], args.profile, args.seed)
    many = measure(f"xdist-{args.workers}", ["--workers", str(args.workers)], args.profile, args.seed)
    print(f"speedup xdist-1 -> xdist-{args.workers}: {one / many:.2f}x")
    print(f"speedup serial  -> xdist-{args.workers}: {serial / many:.2f}x")


if __name__ == "__main__":
    main()
