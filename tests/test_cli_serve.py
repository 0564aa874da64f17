"""``genomics-mock serve`` as a real subprocess: persistence across restarts, bad input, health.

kill -9, a full disk and hostile state files are tests/test_durability.py."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from serve_process import COMMAND, STARTUP_TIMEOUT, Server, dataset_names


def _names(server: Server, project: str = "p1") -> list[str]:
    return dataset_names(server.client, project)


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


def _run(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_bad_input_is_one_line_and_non_zero_and_overwrites_nothing(tmp_path):
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text('{"format": "genomics-mock-state", "version": 2, "sta')
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"tables": []}))
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({"format": "genomics-mock-state", "version": 3, "state": {}}))
    journaled = tmp_path / "journaled.json"
    journaled.write_text(json.dumps({"format": "genomics-mock-state", "version": 2, "state": {},
                                     "journal": 1}))
    garbage = tmp_path / "journaled.json.journal.1"
    garbage.write_bytes(b"\x00garbage, not frames")
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
        "truncated state": (["--state", str(corrupt)], 3,
                            f"state file {corrupt} refused: not JSON at offset 52"),
        "foreign state": (["--state", str(foreign)], 3, "not a genomics-mock state"),
        "newer state": (["--state", str(newer)], 3, "/version: state version 3 was written by a newer"),
        "garbage journal": (["--state", str(journaled)], 3,
                            f"journal {garbage} is corrupt at offset 0: not a genomics-mock journal"),
        "bad seed": (["--seed", str(bad_seed)], 3, "projects.p1.datasets[0]: unknown fields colour"),
        "missing seed": (["--seed", str(tmp_path / "nope.yaml")], 3, "cannot read seed file"),
        "bad tokens": (["--tokens", str(bad_tokens)], 3, "tokens.t1.principal"),
        "port in use": (["--port", port], 4, f"cannot listen on 127.0.0.1:{port}"),
        "storage root without parent": (["--storage-root", str(tmp_path / "no" / "such")], 3,
                                        "cannot create it"),
        "storage root is a file": (["--storage-root", str(corrupt)], 3, "exists and is not a directory"),
        "bigquery root is a file": (["--bigquery-root", str(corrupt)], 3,
                                    f"--bigquery-root {corrupt} exists and is not a directory"),
        "bad seed syntax": (["--seed", str(bad_yaml)], 3,
                            f"seed file {bad_yaml}, line 3, column 1: not valid YAML: found character '\\t'"),
    }
    before = {p: p.read_bytes() for p in (corrupt, foreign, newer, journaled, garbage)}
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
    url_file, storage, bigquery = tmp_path / "url", tmp_path / "storage", tmp_path / "bq"
    server = Server(
        "--url-file", str(url_file), "--storage-root", str(storage), "--bigquery-root", str(bigquery)
    )
    try:
        assert url_file.read_text().strip() == server.url + "/"
        assert storage.is_dir() and bigquery.is_dir()
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
