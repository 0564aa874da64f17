"""``genomics-mock serve`` as a real subprocess: persistence across restarts, kill -9, bad input."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from mockserver import persistence
from mockserver.backend import DEFAULT_OWNER, Backend

STARTUP_TIMEOUT = 60
COMMAND = [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0"]


class Server:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
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
        out, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, out, err


def _names(server: Server, project: str = "p1") -> list[str]:
    listed = server.client.get("/v1/datasets", params={"projectId": project, "pageSize": 1000}).json()
    return [d.get("name", "") for d in listed.get("datasets", [])]


def test_sigterm_drains_and_saves_then_a_restart_has_the_data(tmp_path):
    state, seed = tmp_path / "state.json", tmp_path / "seed.yaml"
    seed.write_text("projects:\n  p1:\n    datasets:\n      - name: seeded\n")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text("tokens:\n  old-token: {principal: 'user:old@example.com'}\n")
    server = Server("--state", str(state), "--seed", str(seed), "--tokens", str(tokens))
    assert server.client.get("/_mock/health").json()["status"] == "ok"
    created = server.client.post("/v1/datasets", json={"projectId": "p1", "name": "written"},
                                 headers={"Origin": "http://app.example"})
    assert created.status_code == 200
    assert created.headers["access-control-allow-origin"] == "http://app.example"  # CORS by default
    code, out, err = server.stop(signal.SIGTERM)
    assert code == 0, err
    assert f"state saved to {state}" in out
    # the state wins over the seed (not loaded twice); --no-admin turns /_mock/ off but not health
    tokens.write_text("tokens:\n  new-token: {principal: 'user:new@example.com'}\n")
    restarted = Server(
        "--state", str(state), "--seed", str(seed), "--no-admin", "--tokens", str(tokens), "--no-cors"
    )
    try:
        assert sorted(_names(restarted)) == ["seeded", "written"]
        got = restarted.client.get(f"/v1/datasets/{created.json()['id']}", headers={"Origin": "http://app.example"})
        assert got.status_code == 200 and "access-control-allow-origin" not in got.headers  # --no-cors
        assert restarted.client.post("/_mock/reset").status_code == 404
        assert restarted.client.get("/_mock/health").status_code == 200
        for token in ("old-token", "new-token"):  # saved tokens, plus the token file as it is now
            seen = restarted.client.get(
                "/v1/datasets", params={"projectId": "p1"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert seen.status_code == 403, (token, seen.text)  # known caller, no role: not 401
    finally:
        code, _out, err = restarted.stop(signal.SIGINT)
    assert code == 0, err


def test_kill_9_during_heavy_writes_leaves_the_last_saved_state_loadable(tmp_path):
    state = tmp_path / "state.json"
    server = Server("--state", str(state), "--save-interval", "0.05")
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                try:
                    response = client.post("/v1/datasets", json={"projectId": "p1", "name": f"d{i:05d}"})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    acknowledged.append(f"d{i:05d}")
                i += 1

    writers = threading.Thread(target=write)
    writers.start()
    deadline = time.monotonic() + 20
    while (not state.exists() or len(acknowledged) < 100) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    server.proc.kill()  # SIGKILL: no chance to save
    server.proc.wait(timeout=10)
    stop.set()
    writers.join(timeout=10)
    assert state.exists() and len(acknowledged) >= 100, len(acknowledged)
    on_disk = Backend()
    persistence.load(state, on_disk)  # what the file held at the moment of the kill
    saved = sorted(
        d["name"] for d in on_disk.datasets.list(DEFAULT_OWNER, "p1", 1000, None).get("datasets", [])
    )
    restarted = Server("--state", str(state))
    try:
        names = sorted(_names(restarted))
    finally:
        restarted.stop()
    assert names == saved  # the restart loaded exactly the last saved state
    # which is a prefix of the acknowledged writes (plus at most the one in flight)
    assert names, "nothing was saved"
    assert names[: len(acknowledged)] == acknowledged[: len(names)], (len(names), len(acknowledged))


def _run(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_bad_input_is_one_line_and_non_zero_and_overwrites_nothing(tmp_path):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "genomics-mock-state", "version": 1, "compo')
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"tables": []}))
    bad_seed = tmp_path / "seed.yaml"
    bad_seed.write_text("projects:\n  p1:\n    datasets:\n      - {name: x, colour: red}\n")
    bad_yaml = tmp_path / "syntax.yaml"
    bad_yaml.write_text("projects:\n  p1:\n\tdatasets: []\n")
    bad_tokens = tmp_path / "tokens.yaml"
    bad_tokens.write_text("tokens:\n  t1: {principal: nobody}\n")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = str(busy.getsockname()[1])
    cases = {
        "unknown option": (["--frobnicate"], 2, "unrecognized arguments: --frobnicate"),
        "bad auth": (["--auth", "lax"], 2, "invalid choice: 'lax'"),
        "corrupt state": (["--state", str(corrupt)], 3, "is corrupt (not JSON"),
        "foreign state": (["--state", str(foreign)], 3, "not a genomics-mock state"),
        "bad seed": (["--seed", str(bad_seed)], 3, "projects.p1.datasets[0]: unknown fields colour"),
        "missing seed": (["--seed", str(tmp_path / "nope.yaml")], 3, "cannot read seed file"),
        "bad tokens": (["--tokens", str(bad_tokens)], 3, "tokens.t1.principal"),
        "port in use": (["--port", port], 4, f"cannot listen on 127.0.0.1:{port}"),
        "storage root without parent": (["--storage-root", str(tmp_path / "no" / "such")], 3,
                                        "cannot create it"),
        "storage root is a file": (["--storage-root", str(corrupt)], 3, "exists and is not a directory"),
        "bad seed syntax": (["--seed", str(bad_yaml)], 3,
                            f"seed file {bad_yaml}, line 3, column 1: not valid YAML: found character '\\t'"),
    }
    before = {p: p.read_bytes() for p in (corrupt, foreign)}
    try:
        procs = {name: _run(*args) for name, (args, _code, _text) in cases.items()}
        for name, proc in procs.items():
            _out, err = proc.communicate(timeout=STARTUP_TIMEOUT)
            _args, code, text = cases[name]
            lines = [line for line in err.splitlines() if line.strip()]
            assert proc.returncode == code, (name, err)
            assert len(lines) == 1 and re.match(r"genomics-mock( serve)?: error: ", lines[0]), (name, err)
            assert text in lines[0], (name, lines[0])
    finally:
        busy.close()
    assert {p: p.read_bytes() for p in before} == before


def test_env_vars_configure_the_server(tmp_path, monkeypatch):
    from mockserver.cli import build_parser

    monkeypatch.setenv("GENOMICS_MOCK_PORT", "9999")
    monkeypatch.setenv("GENOMICS_MOCK_AUTH", "strict")
    monkeypatch.setenv("GENOMICS_MOCK_STATE", str(tmp_path / "s.json"))
    monkeypatch.setenv("GENOMICS_MOCK_NO_ADMIN", "1")
    args = build_parser().parse_args(["serve"])
    assert (args.port, args.auth, args.state, args.no_admin) == (
        9999,
        "strict",
        str(tmp_path / "s.json"),
        True,
    )
    assert build_parser().parse_args(["serve", "--port", "1234"]).port == 1234  # the option wins


def _health(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GENOMICS_MOCK_")}
    return subprocess.run([sys.executable, "-m", "mockserver.cli", "health", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_health_follows_the_url_file_and_the_storage_root_is_created(tmp_path):
    url_file, storage = tmp_path / "url", tmp_path / "storage"
    server = Server("--url-file", str(url_file), "--storage-root", str(storage))
    try:
        assert url_file.read_text().strip() == server.url + "/"
        assert storage.is_dir()
        # the variable names the file; the port it would otherwise use is wrong on purpose
        probe = _health(GENOMICS_MOCK_URL_FILE=str(url_file), GENOMICS_MOCK_PORT="1")
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.strip() == f"genomics-mock at {server.url}/ is healthy"
        port = server.url.rsplit(":", 1)[1]
        assert _health("--port", port).returncode == 0  # no URL file: --host/--port
    finally:
        code, _out, err = server.stop()
    assert code == 0, err
    assert not url_file.exists()  # removed on exit
    down = _health("--url-file", str(url_file), "--port", port)
    assert down.returncode == 1
    assert down.stderr.startswith(f"genomics-mock: error: no healthy genomics-mock at http://127.0.0.1:{port}/")


@pytest.fixture(autouse=True)
def _no_stray_state(tmp_path: Path):
    yield
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], "temporary state files left behind"
