"""Throughput of the mock against the Python floor, measured in the same run.

Starts two servers, each in its own uvicorn process on loopback:

* the mock (``create_app``) seeded with one dataset and an annotation set, and
* a bare Starlette app answering the *same bytes* for the same two requests,

then applies the same load to both (wrk when installed, else the bundled
asyncio keep-alive load generator) for ``GET /v1/datasets/{id}`` and
``POST /v1/annotations/search``, and prints req/s, p50/p99 latency and the
ratio mock/bare.

    python benchmarks/throughput.py [--seconds 5] [--connections 16] [--annotations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- servers


def serve_mock(port: int, annotations: int, info_file: str) -> None:
    import uvicorn

    sys.path.insert(0, str(ROOT))
    from mockserver.app import create_app
    from mockserver.backend import DEFAULT_OWNER, Backend

    backend = Backend(id_seed=7)
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "bench", "name": "bench"})
    aset = backend.annotation_sets.create(
        DEFAULT_OWNER, {"datasetId": dataset["id"], "referenceSetId": "rs", "type": "GENERIC"}
    )
    for i in range(annotations):
        start = (i * 7919) % 1_000_000
        backend.annotations.create(
            DEFAULT_OWNER,
            {
                "annotationSetId": aset["id"],
                "referenceName": f"chr{i % 3 + 1}",
                "start": start,
                "end": start + 100,
            },
        )
    search = {
        "annotationSetIds": [aset["id"]],
        "referenceName": "chr1",
        "start": "0",
        "end": "1000000",
        "pageSize": 10,
    }
    Path(info_file).write_text(json.dumps({"dataset": dataset["id"], "search": search}))
    uvicorn.run(create_app(backend), host="127.0.0.1", port=port, log_level="error", access_log=False)


def serve_bare(port: int, bodies_file: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    bodies = json.loads(Path(bodies_file).read_text())
    get_body, search_body = bodies["get"].encode(), bodies["search"].encode()

    async def get_dataset(_request: Request) -> Response:
        return Response(get_body, media_type="application/json")

    async def search(request: Request) -> Response:
        await request.body()
        return Response(search_body, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/v1/datasets/{dataset_id}", get_dataset, methods=["GET"]),
            Route("/v1/annotations/search", search, methods=["POST"]),
        ]
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"server {args} did not start")


# --------------------------------------------------------------------------- load


def run_wrk(url: str, seconds: float, connections: int, body: str | None) -> dict[str, float]:
    script = None
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n"
        )
        script.close()
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{int(seconds)}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script.name]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)  # type: ignore[union-attr]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise RuntimeError(f"{url}: {non2xx.group(1)} error responses under load")
    return {"rps": rps, "p50": pct("50"), "p99": pct("99")}


async def _asyncio_load(
    host: str, port: int, raw: bytes, seconds: float, connections: int
) -> dict[str, float]:
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
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
    }


def run_asyncio(url: str, seconds: float, connections: int, body: str | None) -> dict[str, float]:
    m = re.match(r"http://([^:/]+):(\d+)(/.*)", url)
    host, port, path = m.group(1), int(m.group(2)), m.group(3)  # type: ignore[union-attr]
    if body is None:
        raw = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    else:
        data = body.encode()
        raw = (
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode() + data
    return asyncio.run(_asyncio_load(host, port, raw, seconds, connections))


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--annotations", type=int, default=2000)
    parser.add_argument("--loader", choices=["auto", "wrk", "asyncio"], default="auto")
    parser.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        kind, port, extra = args.serve[0], int(args.serve[1]), args.serve[2]
        if kind == "mock":
            serve_mock(port, args.annotations, extra)
        else:
            serve_bare(port, extra)
        return

    loader = args.loader
    if loader == "auto":
        loader = "wrk" if shutil.which("wrk") else "asyncio"
    load = run_wrk if loader == "wrk" else run_asyncio

    workdir = Path(tempfile.mkdtemp(prefix="genomics-mock-bench-"))
    info_file, bodies_file = workdir / "info.json", workdir / "bodies.json"
    mock_port, bare_port = free_port(), free_port()
    mock = start(
        ["--annotations", str(args.annotations), "--serve", "mock", str(mock_port), str(info_file)],
        mock_port,
    )
    procs = [mock]
    try:
        info = json.loads(info_file.read_text())
        search_body = json.dumps(info["search"])
        get_path = f"/v1/datasets/{info['dataset']}"
        base = f"http://127.0.0.1:{mock_port}"
        get_bytes = urllib.request.urlopen(base + get_path).read().decode()
        request = urllib.request.Request(
            base + "/v1/annotations/search",
            data=search_body.encode(),
            headers={"Content-Type": "application/json"},
        )
        search_bytes = urllib.request.urlopen(request).read().decode()
        bodies_file.write_text(json.dumps({"get": get_bytes, "search": search_bytes}))
        procs.append(start(["--serve", "bare", str(bare_port), str(bodies_file)], bare_port))

        print(f"loader: {loader}, {args.connections} connections, {args.seconds:g} s per run, "
              f"{args.annotations} annotations, cpus: {os.cpu_count()}")
        print(f"{'request':<28}{'server':<8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for label, path, body in (("GET one dataset", get_path, None),
                                  ("POST annotation search", "/v1/annotations/search", search_body)):
            results = {}
            for server, port in (("bare", bare_port), ("mock", mock_port)):
                load(f"http://127.0.0.1:{port}{path}", 1, args.connections, body)  # warm-up
                results[server] = load(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections, body)
                r = results[server]
                print(f"{label:<28}{server:<8}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}")
            ratio = results["mock"]["rps"] / results["bare"]["rps"]
            print(f"{label:<28}{'ratio':<8}{ratio:>10.2f}  (mock req/s / bare req/s)")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
