"""``genomics-mock serve --state``: durability, throughput, latency during compaction, restart time.

One run, real server processes on loopback, 4 concurrent writers (threads with keep-alive
clients; each write is a dataset create or an annotation create, alternately):

1. state files holding 100k and 1M annotations are built in-process;
2. restart time: from starting ``serve --state`` on each to its health answering;
3. kill -9: for each size, ``--kills`` times: start the server on what the last kill left,
   write for a random 1-3 s, SIGKILL; then restart and count the acknowledged writes that are
   missing, among those acknowledged at least 0.5 s before their kill (must be 0) and among
   the younger ones (in flight, allowed to go);
4. throughput: the 100k state served with ``--state`` and without it (loaded through
   ``PUT /_mock/state``), writing for ``--seconds`` each, twice in A-B-A-B order; ratio;
5. latency during compaction: the 1M state with ``--save-interval 1`` (a compaction starts 1 s
   after the previous one ends, so they run back to back), writing for ``--compaction-seconds``;
   compaction windows from ``/_mock/health`` polled every 50 ms; max and p99 of the writes sent
   inside a window, and of the others.

    python benchmarks/persistence.py [--kills 10] [--sizes 100000,1000000] [--seconds 8]
                                     [--parts restart,kills,throughput,latency]

(``--parts`` runs only some of 2-5; throughput loads its state through the admin API, which
refuses a document over ``--max-request-bytes``: a 1M-annotation state is too large for it.)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent

PROJECT = "bench"
DURABLE_AFTER = 0.5


# --------------------------------------------------------------------------- state files


def build_state(path: Path, annotations: int) -> tuple[str, float]:
    """A state file with one dataset, one annotation set and ``annotations`` annotations;
    returns the set id and the seconds it took."""
    sys.path.insert(0, str(ROOT))
    from mockserver.auth import TokenRegistry
    from mockserver.backend import DEFAULT_OWNER, Backend
    from mockserver.backend.public_references import GRCH38
    from mockserver.persistence import Store

    started = time.perf_counter()
    backend = Backend()
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": PROJECT, "name": "bench"})
    aset = backend.annotation_sets.create(  # GRCh38, built in: chr1..chr22 all longer than 40 Mbp
        DEFAULT_OWNER, {"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENERIC"}
    )
    rng = random.Random(7)

    def rows():
        for i in range(annotations):
            start = rng.randrange(0, 40_000_000)
            yield {"referenceName": f"chr{i % 22 + 1}", "start": start, "end": start + rng.randrange(1, 5000),
                   "info": {"n": [str(i)]} if i % 10 == 0 else None}

    backend.annotations.load(DEFAULT_OWNER, aset["id"], rows())
    store = Store(path, backend, TokenRegistry())
    store.load()
    store.start()  # a fresh store writes its state file at once
    store.close()
    return aset["id"], time.perf_counter() - started


# --------------------------------------------------------------------------- servers


class Server:
    def __init__(self, workdir: Path, *args: str) -> None:
        self.url_file = workdir / f"url-{time.time_ns()}"
        self.log = open(workdir / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--url-file", str(self.url_file),
             *args],
            stdout=subprocess.DEVNULL, stderr=self.log, cwd=ROOT,
        )
        self.url = self._wait()
        self.ready_seconds = time.perf_counter() - self.started

    def _wait(self) -> str:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see server.log")
            if self.url_file.exists():
                url = self.url_file.read_text().strip().rstrip("/")
                if url:
                    try:
                        if httpx.get(f"{url}/_mock/health", timeout=5).status_code == 200:
                            return url
                    except httpx.HTTPError:
                        pass
            time.sleep(0.02)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=60)
        self.log.close()

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=600)
        self.log.close()


def _write(url: str, set_id: str, n: int, ready: Any, stop: Any, results: Any) -> None:
    """One writer process: says it is ready, writes until ``stop`` is set, then sends its
    record home."""
    ready.release()
    acknowledged: list[tuple[str, float]] = []  # (dataset name, monotonic ack time)
    latencies: list[tuple[float, float]] = []  # (wall-clock send time, seconds)
    errors = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        i = 0
        while not stop.is_set():
            name = f"w{n}-{time.time_ns()}"
            sent, began = time.time(), time.perf_counter()
            try:
                if i % 2 == 0:
                    response = client.post("/v1/datasets", json={"projectId": PROJECT, "name": name})
                else:
                    body = {"annotationSetId": set_id, "referenceName": "chrX",
                            "start": str(i), "end": str(i + 1)}
                    response = client.post("/v1/annotations", json=body)
            except httpx.HTTPError:
                break
            latencies.append((sent, time.perf_counter() - began))
            if response.status_code != 200:
                errors += 1
            elif i % 2 == 0:
                acknowledged.append((name, time.monotonic()))
            i += 1
    results.put((acknowledged, latencies, errors))


class Writers:
    """4 writer processes (no GIL shared with each other or with this process), each writing as
    fast as answered; every write's send time and latency, every acknowledged dataset's name.
    Returns once every process has started (spawning them takes a second on a busy machine)."""

    def __init__(self, url: str, set_id: str, count: int = 4) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        ready = context.Semaphore(0)
        self._processes = [
            context.Process(target=_write, args=(url, set_id, n, ready, self._stop, self._results))
            for n in range(count)
        ]
        for process in self._processes:
            process.start()
        for _ in self._processes:  # measurement windows start once every writer is writing
            ready.acquire(timeout=120)
        self.acknowledged: list[tuple[str, float]] = []
        self.latencies: list[tuple[float, float]] = []
        self.errors = 0

    def stop(self) -> None:
        self._stop.set()
        for _ in self._processes:
            acknowledged, latencies, errors = self._results.get(timeout=300)
            self.acknowledged += acknowledged
            self.latencies += latencies
            self.errors += errors
        for process in self._processes:
            process.join(timeout=60)


def dataset_names(url: str) -> set[str]:
    names: set[str] = set()
    token = None
    with httpx.Client(base_url=url, timeout=120) as client:
        while True:
            params = {"projectId": PROJECT, "pageSize": 1024, **({"pageToken": token} if token else {})}
            page = client.get("/v1/datasets", params=params).json()
            names.update(d.get("name", "") for d in page.get("datasets", []))
            token = page.get("nextPageToken")
            if not token:
                return names


# --------------------------------------------------------------------------- measurements


def restart_seconds(workdir: Path, state: Path) -> float:
    server = Server(workdir, "--state", str(state))
    server.stop()
    return server.ready_seconds


def kills(workdir: Path, state: Path, set_id: str, count: int, rng: random.Random) -> dict[str, int]:
    acknowledged: list[tuple[str, float, float]] = []  # (name, ack time, kill time)
    for _ in range(count):
        server = Server(workdir, "--state", str(state), "--save-interval", "1")
        writers = Writers(server.url, set_id)
        time.sleep(rng.uniform(1.0, 3.0))
        killed = time.monotonic()
        server.kill()
        writers.stop()
        acknowledged += [(name, at, killed) for name, at in writers.acknowledged]
    server = Server(workdir, "--state", str(state))
    kept = dataset_names(server.url)
    server.stop()
    old = [name for name, at, killed in acknowledged if at <= killed - DURABLE_AFTER]
    young = [name for name, at, killed in acknowledged if at > killed - DURABLE_AFTER]
    return {
        "acknowledged": len(acknowledged),
        "old": len(old),
        "lost_old": len([n for n in old if n not in kept]),
        "young": len(young),
        "lost_young": len([n for n in young if n not in kept]),
    }


def throughput(workdir: Path, state: Path, set_id: str, seconds: float) -> tuple[float, float]:
    """(writes/s with --state, writes/s without), each the sum of two runs in A-B-A-B order."""
    document = state.read_bytes()
    rates = {"with": [0, 0.0], "without": [0, 0.0]}
    for kind in ("with", "without", "with", "without"):
        copy = workdir / f"throughput-{time.time_ns()}.json"
        if kind == "with":
            shutil.copy(state, copy)
            server = Server(workdir, "--state", str(copy))
        else:
            server = Server(workdir)
            response = httpx.put(f"{server.url}/_mock/state", content=document,
                                 headers={"Content-Type": "application/json"}, timeout=600)
            response.raise_for_status()
        writers = Writers(server.url, set_id)
        began = time.perf_counter()
        time.sleep(seconds)
        writers.stop()
        rates[kind][0] += len(writers.latencies)
        rates[kind][1] += time.perf_counter() - began
        server.stop()
    return rates["with"][0] / rates["with"][1], rates["without"][0] / rates["without"][1]


def latency_during_compaction(workdir: Path, state: Path, set_id: str, seconds: float) -> dict[str, float]:
    copy = workdir / "latency.json"
    shutil.copy(state, copy)
    server = Server(workdir, "--state", str(copy), "--save-interval", "1")
    windows: dict[str, float] = {}  # startedAt -> seconds (finished compactions)
    forks: dict[str, float] = {}  # startedAt -> milliseconds the fork took (a forked compaction)
    running: list[float] = []  # wall-clock times a compaction was seen running
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while not stop.is_set():
                persistence = client.get("/_mock/health").json()["persistence"]
                if persistence["compacting"]:
                    running.append(time.time())
                last = persistence.get("lastCompaction")
                if last:
                    windows[last["startedAt"]] = last["seconds"]
                    if "forkMs" in last:
                        forks[last["startedAt"]] = last["forkMs"]
                time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    writers = Writers(server.url, set_id)
    time.sleep(seconds)
    writers.stop()
    time.sleep(0.2)
    stop.set()
    poller.join()
    server.stop()
    spans = [(datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp(), length)
             for start, length in windows.items()]
    spans = [(start, start + length) for start, length in spans]
    if running:  # a compaction still running at the end
        unfinished = [t for t in running if not any(a <= t <= b for a, b in spans)]
        if unfinished:
            spans.append((min(unfinished), max(unfinished) + 0.05))
    inside = sorted(lat for sent, lat in writers.latencies if any(a <= sent <= b for a, b in spans))
    outside = sorted(lat for sent, lat in writers.latencies if not any(a <= sent <= b for a, b in spans))

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")

    covered = sum(b - a for a, b in spans)
    return {
        "compactions": len(spans), "compacting_seconds": covered, "errors": writers.errors,
        "writes_inside": len(inside), "max_inside_ms": pct(inside, 1.0), "p99_inside_ms": pct(inside, 0.99),
        "p50_inside_ms": pct(inside, 0.5), "writes_outside": len(outside),
        "max_outside_ms": pct(outside, 1.0), "p99_outside_ms": pct(outside, 0.99),
        "fork_ms": sorted(forks.values()),
    }


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--seconds", type=float, default=8.0, help="per throughput run")
    parser.add_argument("--compaction-seconds", type=float, default=30.0)
    parser.add_argument("--parts", default="restart,kills,throughput,latency",
                        help="which measurements to run (comma-separated)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = random.Random()
    print(f"machine: {os.cpu_count()} cores, load average at start {os.getloadavg()}", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="genomics-mock-persistence-"))
    try:
        states: dict[int, tuple[Path, str]] = {}
        for size in sizes:
            path = workdir / f"state-{size}.json"
            set_id, took = build_state(path, size)
            states[size] = (path, set_id)
            megabytes = path.stat().st_size / 1e6
            print(f"built a state of {size:,} annotations in {took:.1f} s: {megabytes:.0f} MB", flush=True)
        if "restart" in parts:
            print("\nrestart time (start serve --state until /_mock/health answers):")
        for size in sizes if "restart" in parts else ():
            path, _ = states[size]
            print(f"  {size:>9,} annotations: {restart_seconds(workdir, path):.1f} s", flush=True)
        if "kills" in parts:
            print(f"\nkill -9 at a random moment (1-3 s of writing), {args.kills} kills per size, 4 writers:")
        failed = False
        for size in sizes if "kills" in parts else ():
            path, set_id = states[size]
            work = workdir / f"kills-{size}.json"
            shutil.copy(path, work)
            result = kills(workdir, work, set_id, args.kills, rng)
            failed |= result["lost_old"] > 0
            print(f"  {size:>9,} annotations: {result['acknowledged']:,} dataset creates acknowledged; "
                  f"lost among the {result['old']:,} acknowledged >= 0.5 s before their kill: "
                  f"{result['lost_old']}; among the {result['young']:,} younger: {result['lost_young']}",
                  flush=True)
        if "throughput" in parts:
            size = min(sizes)
            path, set_id = states[size]
            with_state, without = throughput(workdir, path, set_id, args.seconds)
            print(f"\nwrite throughput, {size:,} annotations stored, 4 writers, "
                  f"2 x {args.seconds:.0f} s each:")
            print(f"  with --state {with_state:,.0f} writes/s; without {without:,.0f} writes/s; "
                  f"ratio {with_state / without:.2f}", flush=True)
        if "latency" in parts:
            latency(workdir, states[max(sizes)], args.compaction_seconds)
        print(f"\nload average at end {os.getloadavg()}")
        return 1 if failed else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def latency(workdir: Path, state: tuple[Path, str], seconds: float) -> None:
    size = int(state[0].stem.split("-")[1])
    lat = latency_during_compaction(workdir, *state, seconds)
    print(f"\nwrite latency, {size:,} annotations stored, compactions back to back, 4 writers, "
          f"{seconds:.0f} s:")
    print(f"  {lat['compactions']} compactions covering {lat['compacting_seconds']:.1f} s; "
          f"{lat['writes_inside']:,} writes sent during one: max {lat['max_inside_ms']:.1f} ms, "
          f"p99 {lat['p99_inside_ms']:.1f} ms, p50 {lat['p50_inside_ms']:.1f} ms")
    print(f"  {lat['writes_outside']:,} writes sent outside: max {lat['max_outside_ms']:.1f} ms, "
          f"p99 {lat['p99_outside_ms']:.1f} ms; errors {lat['errors']}", flush=True)
    if lat["fork_ms"]:  # compactions in a forked child: the time writes waited for the fork
        forks = lat["fork_ms"]
        print(f"  fork (under the backend lock): median {forks[len(forks) // 2]:.1f} ms, "
              f"max {forks[-1]:.1f} ms over {len(forks)} compactions", flush=True)


if __name__ == "__main__":
    sys.exit(main())
