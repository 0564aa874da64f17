"""The mock next to its peers over HTTP: requests per second, p50 and p99, and ratios.

Starts, each in its own process:

* ``genomics-mock serve`` with a seed file (one dataset; an annotation set holding
  ``--annotations`` annotations; a viewer whose token every request carries),
* a bare Starlette app on uvicorn answering the *same bytes* the mock answered: the floor
  (no routing table, no validation, no state),
* Stoplight Prism 5 (``npx @stoplight/prism-cli mock -v silent spec/openapi.yaml``) serving
  the same document, when ``npx`` is on the PATH (else it says why and leaves it out). Prism
  refuses this document's operations without an ``Authorization`` header, so every request
  to every server carries one.

then drives each with the same two requests, ``GET /v1/datasets/{id}`` and ``POST
/v1/annotations/search`` (10 hits), with wrk when it is installed, else with the bundled
asyncio keep-alive load generator (a Python client saturates first: its figures are lower
bounds). Rounds alternate the servers (``--rounds``; the server order rotates each round),
and each figure is the round with the most requests per second. Prints req/s, p50 and p99
latency and the server's CPU time per request (its process group's user + system time over
the run, from /proc: what a request costs the server whatever else the machine runs), and
the ratios mock/floor, mock/Prism (by req/s and by CPU per request) and p99 mock/floor.

    python benchmarks/peers.py [--seconds 6] [--connections 16] [--rounds 2] [--no-prism]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"
PROJECT = "bench"
PRISM = ["npx", "--yes", "@stoplight/prism-cli@5", "mock", "-v", "silent"]

Result = dict[str, float]


# --------------------------------------------------------------------------- servers


def seed_file(path: Path, annotations: int) -> None:
    """A dataset with one annotation set of ``annotations`` annotations, and a viewer."""
    rows = [
        {"referenceName": f"chr{i % 3 + 1}", "start": str((i * 7919) % 1_000_000),
         "end": str((i * 7919) % 1_000_000 + 100)}
        for i in range(annotations)
    ]
    seed = {
        "principals": [{"name": "bench", "roles": ["viewer"], "projectId": PROJECT}],
        "referenceSets": [{"key": "rs", "assemblyId": "bench",
                           "references": [{"name": f"chr{i}", "length": 2_000_000} for i in (1, 2, 3)]}],
        "projects": {PROJECT: {"datasets": [{"name": "bench", "annotationSets": [
            {"name": "bench", "referenceSetId": "rs", "type": "GENERIC", "annotations": rows}]}]}},
    }
    path.write_text(json.dumps(seed))


def serve_bare(port: int, bodies_file: str) -> None:
    """The floor: fixed bytes from a two-route Starlette app (run in a child process)."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    bodies = json.loads(Path(bodies_file).read_text())
    get_body, search_body = bodies["get"].encode(), bodies["search"].encode()

    async def get_dataset(_request: Request) -> Response:
        return Response(get_body, media_type="application/json; charset=UTF-8")

    async def search(request: Request) -> Response:
        await request.body()
        return Response(search_body, media_type="application/json; charset=UTF-8")

    app = Starlette(routes=[Route("/v1/datasets/{dataset_id}", get_dataset, methods=["GET"]),
                            Route("/v1/annotations/search", search, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(proc: subprocess.Popen, port: int, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with status {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:g} s")


def call(url: str, body: str | None = None) -> bytes:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=body.encode() if body else None, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


# --------------------------------------------------------------------------- load


def run_wrk(url: str, seconds: float, connections: int, body: str | None) -> Result:
    lines = [f'wrk.headers["Authorization"] = "Bearer {TOKEN}"']
    if body is not None:
        lines += ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"',
                  f"wrk.body = {json.dumps(body)}"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses under load")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(label: str) -> float:
        found = re.search(rf"\b{label}%\s+([\d.]+)(us|ms|s)\b", out)
        value, unit = float(found.group(1)), found.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "p50": percentile("50"), "p99": percentile("99"), "requests": count}


async def _asyncio_load(host: str, port: int, raw: bytes, seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n", 1)[0].decode())
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - began) * 1000)
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)], "requests": len(latencies)}


def run_asyncio(url: str, seconds: float, connections: int, body: str | None) -> Result:
    found = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    host, port, path = found.group(1), int(found.group(2)), found.group(3)  # type: ignore[union-attr]
    head = f"{'POST' if body else 'GET'} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
    data = (body or "").encode()
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    raw = (head + "\r\n").encode() + data
    return asyncio.run(_asyncio_load(host, port, raw, seconds, connections))


def cpu_seconds(group: int) -> float:
    """User + system CPU time so far of every process in a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) == group:  # fields after the name: state, ppid, pgrp, ...
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def measured(load: Callable[..., Result], group: int, *args: Any) -> Result:
    """One load run, plus the server's CPU time per request: what the server spends on a
    request whatever else the machine runs (req/s depends on the CPU share it gets)."""
    before = cpu_seconds(group)
    result = load(*args)
    result["cpu_us"] = (cpu_seconds(group) - before) / max(1, result["requests"]) * 1e6
    return result


# --------------------------------------------------------------------------- main


def start_prism(port: int, log: Path) -> tuple[subprocess.Popen | None, str]:
    """Prism on ``port``, or None and the reason it is left out."""
    if shutil.which("npx") is None:
        return None, "npx (Node.js) is not on the PATH"
    with log.open("w") as out:
        proc = subprocess.Popen([*PRISM, "-p", str(port), str(ROOT / "spec" / "openapi.yaml")],
                                stdout=out, stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True)
    try:
        wait_for(proc, port, "Prism", timeout=300)
    except RuntimeError as exc:
        stop(proc)
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return None, f"{exc}: {' | '.join(tail)}"
    return proc, ""


def stop(proc: subprocess.Popen) -> None:
    """End a server this script started, with its children (npx runs Prism in a child node)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the group is exactly what it started
        proc.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--annotations", type=int, default=2000)
    parser.add_argument("--loader", choices=["auto", "wrk", "asyncio"], default="auto")
    parser.add_argument("--no-prism", action="store_true", help="leave Prism out")
    parser.add_argument("--serve-bare", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare(int(args.serve_bare[0]), args.serve_bare[1])
        return

    loader = args.loader if args.loader != "auto" else ("wrk" if shutil.which("wrk") else "asyncio")
    load: Callable[[str, float, int, str | None], Result] = run_wrk if loader == "wrk" else run_asyncio
    work = Path(tempfile.mkdtemp(prefix="genomics-mock-peers-"))
    seed_file(work / "seed.json", args.annotations)
    procs: list[subprocess.Popen] = []
    ports: dict[str, int] = {}
    try:
        ports["mock"] = free_port()
        serve = [sys.executable, "-m", "mockserver.cli", "serve", "--port", str(ports["mock"]),
                 "--seed", str(work / "seed.json"), "--log-level", "error"]
        procs.append(subprocess.Popen(serve, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL))
        wait_for(procs[-1], ports["mock"], "genomics-mock serve", timeout=120)
        mock = f"http://127.0.0.1:{ports['mock']}"
        dataset = json.loads(call(f"{mock}/v1/datasets?projectId={PROJECT}"))["datasets"][0]["id"]
        aset = json.loads(call(f"{mock}/v1/annotationsets/search",
                               json.dumps({"datasetIds": [dataset]})))["annotationSets"][0]["id"]
        search = json.dumps({"annotationSetIds": [aset], "referenceName": "chr1", "start": "0",
                             "end": "1000000", "pageSize": 10})
        requests = {"GET one dataset": (f"/v1/datasets/{dataset}", None),
                    "POST annotation search": ("/v1/annotations/search", search)}
        bodies = {"get": call(mock + requests["GET one dataset"][0]).decode(),
                  "search": call(mock + "/v1/annotations/search", search).decode()}
        (work / "bodies.json").write_text(json.dumps(bodies))
        ports["floor"] = free_port()
        procs.append(subprocess.Popen([sys.executable, __file__, "--serve-bare", str(ports["floor"]),
                                       str(work / "bodies.json")], cwd=ROOT, start_new_session=True))
        wait_for(procs[-1], ports["floor"], "the bare Starlette app", timeout=60)
        prism_note = "left out (--no-prism)"
        if not args.no_prism:
            ports["prism"] = free_port()
            prism, why = start_prism(ports["prism"], work / "prism.log")
            if prism is None:
                del ports["prism"]
                prism_note = f"left out: {why}"
            else:
                procs.append(prism)
                for path, body in requests.values():
                    call(f"http://127.0.0.1:{ports['prism']}{path}", body)  # answers 200, or raises
                prism_note = "Prism 5 (npx @stoplight/prism-cli mock -v silent spec/openapi.yaml)"

        servers = list(ports)
        print(f"loader: {loader} (-c{args.connections}, {args.seconds:g} s per run), {args.rounds} rounds "
              f"alternating {', '.join(servers)}; cpus: {os.cpu_count()}, load average "
              f"{os.getloadavg()[0]:.2f}; {args.annotations} annotations; prism: {prism_note}")
        groups = dict(zip(list(ports), [proc.pid for proc in procs], strict=True))
        best: dict[tuple[str, str], Result] = {}
        for round_number in range(args.rounds):
            order = servers[round_number % len(servers):] + servers[:round_number % len(servers)]
            for label, (path, body) in requests.items():
                for server in order:
                    url = f"http://127.0.0.1:{ports[server]}{path}"
                    if round_number == 0:
                        load(url, 1, args.connections, body)  # warm-up
                    result = measured(load, groups[server], url, args.seconds, args.connections, body)
                    if result["rps"] > best.get((label, server), {"rps": -1})["rps"]:
                        best[(label, server)] = result
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        report(best, requests, servers)
    finally:
        for proc in reversed(procs):
            stop(proc)


def report(best: dict[tuple[str, str], Result], requests: dict[str, Any], servers: list[str]) -> None:
    print(f"{'request':<24}{'server':<8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'cpu us/req':>12}")
    for label in requests:
        for server in servers:
            r = best[(label, server)]
            print(f"{label:<24}{server:<8}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['cpu_us']:>12.0f}")
        mock, floor = best[(label, "mock")], best[(label, "floor")]
        line = (f"{label:<24}ratios: mock/floor {mock['rps'] / floor['rps']:.2f}x req/s (goal >= 0.35; "
                f"{floor['cpu_us'] / mock['cpu_us']:.2f}x by server CPU per request), "
                f"p99 {mock['p99'] / floor['p99']:.2f}x the floor's (goal <= 3)")
        if "prism" in servers:
            prism = best[(label, "prism")]
            line += (f", mock/prism {mock['rps'] / prism['rps']:.2f}x req/s (goal >= 2; "
                     f"{prism['cpu_us'] / mock['cpu_us']:.2f}x by CPU)")
        print(line)


if __name__ == "__main__":
    main()
