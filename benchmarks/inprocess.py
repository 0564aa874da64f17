"""The mock's own cost per request, in-process (no sockets, no HTTP parsing).

Calls the ASGI app directly from one event loop, ``--requests`` times each:

* ``GET /v1/datasets/{id}`` and ``POST /v1/annotations/search`` through the mock
  (``create_app``: each operation's compiled plan), through the same mock answering
  with Connexion's middleware chain instead (``create_app(fast_path=False)``), and
* the same two requests through a bare Starlette app answering the *same bytes*,

then prints CPU microseconds per request and the ratios to the bare app. What the mock
adds over the floor is its middleware, routing, identity, validation, the backend
call and rendering; the ratio is what to compare between versions (figures move with
machine load, the ratio much less).

    python benchmarks/inprocess.py [--requests 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockserver.app import create_app  # noqa: E402 - after the path insert above
from mockserver.backend import DEFAULT_OWNER, Backend  # noqa: E402

Request = tuple[str, str, bytes]


def seeded_mock(fast_path: bool = True) -> tuple[Any, Request, Request]:
    backend = Backend(id_seed=7)
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "bench", "name": "bench"})
    aset = backend.annotation_sets.create(
        DEFAULT_OWNER, {"datasetId": dataset["id"], "referenceSetId": "EMud_c37lKPXTQ", "type": "GENERIC"}
    )
    for i in range(200):
        start = (i * 7919) % 100_000
        backend.annotations.create(
            DEFAULT_OWNER,
            {"annotationSetId": aset["id"], "referenceName": "chr1", "start": start, "end": start + 100},
        )
    search = {"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "0", "pageSize": 10}
    get = ("GET", f"/v1/datasets/{dataset['id']}", b"")
    post = ("POST", "/v1/annotations/search", json.dumps(search).encode())
    return create_app(backend, swagger_ui=False, fast_path=fast_path), get, post


def bare_app(get_body: bytes, search_body: bytes) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request as StarletteRequest
    from starlette.responses import Response
    from starlette.routing import Route

    async def dataset(_request: StarletteRequest) -> Response:
        return Response(get_body, media_type="application/json")

    async def search(request: StarletteRequest) -> Response:
        json.loads(await request.body())
        return Response(search_body, media_type="application/json")

    return Starlette(
        routes=[
            Route("/v1/datasets/{dataset_id}", dataset, methods=["GET"]),
            Route("/v1/annotations/search", search, methods=["POST"]),
        ]
    )


async def call(app: Any, request: Request) -> tuple[int, bytes]:
    method, path, body = request
    headers = [(b"host", b"bench"), (b"content-type", b"application/json")]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def per_request(app: Any, request: Request, count: int) -> float:
    """CPU microseconds per request (after a short warm-up): the process's CPU time, so time
    spent waiting for a core on a busy machine does not count."""
    for _ in range(50):
        await call(app, request)
    started = time.process_time()
    for _ in range(count):
        await call(app, request)
    return (time.process_time() - started) / count * 1e6


def best(rounds: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()

    mock, get, post = seeded_mock()
    chain = seeded_mock(fast_path=False)[0]
    loop = asyncio.new_event_loop()
    run = loop.run_until_complete
    get_status, get_body = run(call(mock, get))
    search_status, search_body = run(call(mock, post))
    if (get_status, search_status) != (200, 200):
        raise SystemExit(f"the mock answered {get_status}/{search_status}: {get_body!r} {search_body!r}")
    bare = bare_app(get_body, search_body)
    gc.freeze()  # as genomics-mock serve does after start-up: collections skip the start-up heap
    print(f"{args.requests} requests per run, best of {args.rounds} runs (us per request); "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'request':<30}{'mock':>8}{'chain':>8}{'bare':>8}{'mock/bare':>11}{'chain/bare':>12}")
    for label, request in (("GET /v1/datasets/{id}", get), ("POST /v1/annotations/search", post)):
        us = {
            name: best(args.rounds, lambda r=request, app=app: run(per_request(app, r, args.requests)))
            for name, app in (("mock", mock), ("chain", chain), ("bare", bare))
        }
        print(f"{label:<30}{us['mock']:>8.1f}{us['chain']:>8.1f}{us['bare']:>8.1f}"
              f"{us['mock'] / us['bare']:>11.2f}{us['chain'] / us['bare']:>12.2f}")
    loop.close()


if __name__ == "__main__":
    main()
