"""A failing conformance run must not take much longer than a passing one (goal: <= 2x).

Starts ``genomics-mock serve`` (open auth, its defaults) in a subprocess and three small
proxies in front of it, in this process:

* ``identity``: forwards every request unchanged (the baseline: same path, same proxy cost);
* ``drop``:     every page that carries a ``nextPageToken`` loses its last item;
* ``reverse``:  every page of every list and search comes back in reverse order.

then runs ``genomics-mock conformance --profile quick`` through each (same seed) and prints
wall time, exit status and the ratio to the passing run. Broken servers make properties fail
early; the shrink budget (``contracts.core.SHRINK_BUDGET``) keeps each failure's shrinking
short, so a failing run should end sooner than, or close to, a passing one.

    python benchmarks/conformance_failfast.py [--seed 1] [--profile quick]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from mockserver.live import LiveServer  # noqa: E402

LIST_KEYS = (
    "datasets",
    "annotations",
    "annotationSets",
    "variantSets",
    "callSets",
    "readGroupSets",
    "alignments",
    "references",
    "referenceSets",
    "operations",
    "coverageBuckets",
)
HOP_BY_HOP = {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive", "host"}


def broken(mode: str, data: Any) -> Any:
    """The page as the broken server of ``mode`` would answer it."""
    if mode == "identity" or not isinstance(data, dict):
        return data
    for key in LIST_KEYS:
        items = data.get(key)
        if not isinstance(items, list) or not items:
            continue
        if mode == "drop" and data.get("nextPageToken"):
            data[key] = items[:-1]
        elif mode == "reverse":
            data[key] = items[::-1]
    return data


def proxy_app(upstream: str, mode: str) -> Any:
    """A bare ASGI app (no router: every path, however hostile, is forwarded as sent)."""
    client = httpx.AsyncClient(base_url=upstream, timeout=60)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        # the raw, still percent-encoded target: the suites send hostile paths on purpose
        target = scope["raw_path"].decode("ascii")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("ascii")
        headers = [(k, v) for k, v in scope["headers"] if k.decode("latin-1").lower() not in HOP_BY_HOP]
        answer = await client.send(
            client.build_request(scope["method"], target, headers=headers, content=body)
        )
        content = answer.content
        is_json = answer.headers.get("content-type", "").startswith("application/json")
        if answer.status_code == 200 and is_json:
            content = json.dumps(broken(mode, answer.json())).encode()
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in answer.headers.items()
            if k.lower() not in HOP_BY_HOP
        ]
        out.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": answer.status_code, "headers": out})
        await send({"type": "http.response.body", "body": content})

    return app


def start_mock() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        ["genomics-mock", "serve", "--port", "0", "--log-level", "error"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://[0-9.]+:[0-9]+", line)
    if not match:
        proc.kill()
        raise SystemExit(f"genomics-mock serve did not print its URL: {line!r}")
    url = match[0]
    for _ in range(100):
        try:
            if httpx.get(url + "/_mock/health").status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("genomics-mock serve did not become healthy")


def run(url: str, seed: int, profile: str) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(
        ["genomics-mock", "conformance", "--base-url", url, "--seed", str(seed), "--profile", profile],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    last = [line for line in done.stdout.splitlines() if "checks passed" in line]
    failed = re.findall(r"FAILED (\S+)", done.stdout)
    summary = last[-1] if last else done.stderr.strip()[:200]
    return seconds, done.returncode, summary + (f"; failed: {', '.join(failed)}" if failed else "")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="quick", choices=("quick", "deep"))
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    proc, upstream = start_mock()
    figures: dict[str, tuple[float, int, str]] = {}
    try:
        for mode in ("identity", "drop", "reverse"):
            with LiveServer(proxy_app(upstream, mode), log_level="error") as proxy:
                figures[mode] = run(proxy.url, args.seed, args.profile)
                seconds, code, summary = figures[mode]
                print(f"{mode:<9} {seconds:7.1f} s  exit {code}  {summary}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    base = figures["identity"][0]
    print(f"load average at end:   {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\npassing run (identity proxy): {base:.1f} s, exit {figures['identity'][1]}")
    for mode in ("drop", "reverse"):
        seconds, code, _ = figures[mode]
        ratio = seconds / base
        print(f"failing run ({mode} proxy): {seconds:.1f} s, exit {code}, ratio {ratio:.2f}x (goal <= 2)")


if __name__ == "__main__":
    main()
