"""``genomics-mock serve`` as a real subprocess, for the tests that need one (signals, kill -9)."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from typing import Any

import httpx

STARTUP_TIMEOUT = 60
COMMAND = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]


class Server:
    """A started server: ``url``, an httpx ``client``, and ``stop(signal)``."""

    def __init__(self, *args: str, **popen: Any) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen
        )
        line = self._read_line()
        match = re.search(r"(http://\S+?)/? \(", line)
        stderr = self.proc.stderr.read() if self.proc.poll() is not None else ""
        assert match, f"no startup line: {line!r} stderr={stderr}"
        self.url = match.group(1)
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def _read_line(self) -> str:
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(STARTUP_TIMEOUT)
        return result[0] if result else ""

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.client.close()
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err


def dataset_names(client: httpx.Client, project: str = "p1") -> list[str]:
    """Every dataset name of ``project``, all pages."""
    names: list[str] = []
    token = None
    while True:
        params = {"projectId": project, "pageSize": 1024, **({"pageToken": token} if token else {})}
        page = client.get("/v1/datasets", params=params).json()
        names += [d.get("name", "") for d in page.get("datasets", [])]
        token = page.get("nextPageToken")
        if not token:
            return names
