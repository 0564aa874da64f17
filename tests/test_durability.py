"""``serve --state`` against what really happens to servers: kill -9 at random moments under
concurrent writers, a disk that fills up, and state documents written as attacks."""

from __future__ import annotations

import json
import random
import resource
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from serve_process import COMMAND, STARTUP_TIMEOUT, Server, dataset_names
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.auth import TokenRegistry
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.public_references import GRCH38
from mockserver.persistence import Store

#: an acknowledged write must survive kill -9 once it is this old (the journal syncs every 0.05 s)
DURABLE_AFTER = 0.5


class Writers:
    """``count`` clients creating datasets as fast as the server answers; each acknowledged
    name is kept with the time its response arrived."""

    def __init__(self, url: str, count: int = 4) -> None:
        self.acknowledged: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._write, args=(url, n)) for n in range(count)]
        for thread in self._threads:
            thread.start()

    def _write(self, url: str, n: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                name = f"w{n}-{time.time_ns()}-{i}"
                try:
                    response = client.post("/v1/datasets", json={"projectId": "p1", "name": name})
                except httpx.HTTPError:
                    return
                if response.status_code == 200:
                    self.acknowledged.append((name, time.monotonic()))
                i += 1

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def test_kill_9_at_random_moments_loses_no_write_acknowledged_half_a_second_before(tmp_path):
    """Three kills, each at a random moment (compactions run every 0.2 s, so some land in one),
    each followed by a restart from what the previous one left."""
    state = tmp_path / "state.json"
    rng = random.Random()
    acknowledged: list[tuple[str, float]] = []
    deadlines: list[float] = []
    for _ in range(3):
        server = Server("--state", str(state), "--save-interval", "0.2")
        writers = Writers(server.url)
        deadline = time.monotonic() + 30
        while len(writers.acknowledged) < 40 and time.monotonic() < deadline:  # a loaded machine is slow
            time.sleep(0.05)
        time.sleep(rng.uniform(0.6, 1.6))
        killed_at = time.monotonic()
        server.proc.kill()  # SIGKILL: no chance to flush anything
        server.proc.wait(timeout=30)
        writers.stop()
        server.client.close()
        acknowledged += writers.acknowledged
        deadlines += [killed_at - DURABLE_AFTER] * len(writers.acknowledged)
    restarted = Server("--state", str(state))
    try:
        kept = dataset_names(restarted.client)
    finally:
        code, _out, err = restarted.stop()
    assert code == 0, err
    pairs = zip(acknowledged, deadlines, strict=True)
    old_enough = [name for (name, at), deadline in pairs if at <= deadline]
    assert len(old_enough) >= 60, "the writers hardly wrote anything"
    lost = set(old_enough) - set(kept)
    assert not lost, f"{len(lost)} of {len(old_enough)} acknowledged writes lost"
    assert len(kept) == len(set(kept))  # and nothing was applied twice


def _state_file_of(path: Path, annotations: int) -> None:
    """A state file holding ``annotations`` annotations (its compaction takes a while)."""
    backend = Backend()
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "big", "name": "big"})
    aset = backend.annotation_sets.create(
        DEFAULT_OWNER, {"datasetId": dataset["id"], "referenceSetId": GRCH38, "type": "GENERIC"})
    rows = ({"referenceName": f"chr{i % 22 + 1}", "start": i * 7, "end": i * 7 + 100}
            for i in range(annotations))
    backend.annotations.load(DEFAULT_OWNER, aset["id"], rows)
    store = Store(path, backend, TokenRegistry())
    store.load()
    store.start()
    store.close()


def _alive_children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and that have not exited (a zombie has)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue
        if int(parent) == pid and state != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to see the compaction child")
def test_kill_9_while_a_compaction_child_writes_loses_no_older_write_and_the_child_dies_too(tmp_path):
    """Compactions of 60,000 annotations run back to back in forked children while 4 clients
    write; the server is killed while one runs. The child must die with it (left alone, it
    would rename an old cut over the state file of the next server), and a restart must have
    every write acknowledged 0.5 s before the kill."""
    state = tmp_path / "state.json"
    _state_file_of(state, 60_000)
    server = Server("--state", str(state), "--save-interval", "0.2")
    writers = Writers(server.url)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while not children and time.monotonic() < deadline:
            written = writers.acknowledged
            if len(written) >= 40 and time.monotonic() - written[0][1] > 1.0:
                if server.client.get("/_mock/health").json()["persistence"]["compacting"]:
                    children = _alive_children(server.proc.pid)
            time.sleep(0.01)
        killed_at = time.monotonic()
        server.proc.kill()
        server.proc.wait(timeout=30)
        left = state.read_bytes()
    finally:
        writers.stop()
        server.client.close()
    assert children, "never saw a compaction child running"
    deadline = time.monotonic() + 30
    while any(_alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_alive(child) for child in children), "the compaction child outlived its server"
    assert state.read_bytes() == left, "a compaction child replaced the state file after its server died"
    restarted = Server("--state", str(state))
    try:
        kept = set(dataset_names(restarted.client))
    finally:
        code, _out, err = restarted.stop()
    assert code == 0, err
    old_enough = [name for name, at in writers.acknowledged if at <= killed_at - DURABLE_AFTER]
    assert len(old_enough) >= 40
    lost = set(old_enough) - kept
    assert not lost, f"{len(lost)} of {len(old_enough)} acknowledged writes lost"


def _mount_small_tmpfs(directory: Path) -> bool:
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(directory)],
                              capture_output=True, timeout=30)
    except OSError:
        return False
    return done.returncode == 0


def test_a_full_disk_degrades_health_keeps_answering_and_recovers(tmp_path):
    """On a 1 MB tmpfs when this machine lets us mount one, else under a file size limit set on
    the running server (soft RLIMIT_FSIZE: writes fail with EFBIG instead of ENOSPC, the same
    failure to the server; raised again to recover)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    tmpfs = _mount_small_tmpfs(disk)
    filler = disk / "filler"
    try:
        state = disk / "state.json"
        limit = None
        if tmpfs:
            server = Server("--state", str(state))
            free = subprocess.run(["df", "--output=avail", "-B1", str(disk)], capture_output=True,
                                  text=True, check=True).stdout.split()[-1]
            filler.write_bytes(b"\0" * max(int(free) - 8192, 0))
            reason = "No space left on device"
        else:
            server = Server("--state", str(state))
            limit = state.with_name("state.json.journal.2").stat().st_size + 8192
            resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
            reason = "File too large"
        try:
            before = server.client.post("/v1/datasets", json={"projectId": "p1", "name": "before"})
            assert before.status_code == 200
            health = {}
            for i in range(400):  # ~30 KB of journal: past the space left
                written = server.client.post("/v1/datasets", json={"projectId": "p1", "name": f"d{i}"})
                assert written.status_code == 200
                health = server.client.get("/_mock/health").json()
                if health["status"] == "degraded":
                    break
            assert health["status"] == "degraded", health
            assert reason in health["reason"] and health["persistence"]["lastDurableWrite"].endswith("Z")
            written = server.client.post("/v1/datasets", json={"projectId": "p1", "name": "while full"})
            assert written.status_code == 200
            if tmpfs:
                filler.unlink()
            else:
                resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE,
                                 (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            deadline = time.monotonic() + 10
            while server.client.get("/_mock/health").json()["status"] != "ok" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.client.get("/_mock/health").json()["status"] == "ok"
            expected = dataset_names(server.client)
        finally:
            code, _out, err = server.stop()
        assert code == 0, err
        assert err.count("persistence failing") == 1 and "persistence recovered" in err
        restarted = Server("--state", str(state))
        try:
            assert sorted(dataset_names(restarted.client)) == sorted(expected)
            assert "while full" in expected
        finally:
            restarted.stop()
    finally:
        if tmpfs:
            subprocess.run(["umount", str(disk)], capture_output=True, timeout=30)


def test_sigterm_while_the_disk_fails_exits_1_and_keeps_the_last_durable_state(tmp_path):
    state = tmp_path / "state.json"
    server = Server("--state", str(state))
    assert server.client.post("/v1/datasets", json={"projectId": "p1", "name": "durable"}).status_code == 200
    time.sleep(0.3)  # synced
    segment = state.with_name("state.json.journal.2")
    size = segment.stat().st_size
    resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))
    assert server.client.post("/v1/datasets", json={"projectId": "p1", "name": "lost"}).status_code == 200
    code, out, err = server.stop(signal.SIGTERM)
    assert code == 1, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("genomics-mock: error:")]
    assert len(lines) == 1 and "File too large; the state on disk is as of" in lines[0]
    restarted = Server("--state", str(state))
    try:
        assert dataset_names(restarted.client) == ["durable"]
    finally:
        restarted.stop()


# -- state documents are data, never code ------------------------------------------------------------


def _attacks(marker: Path) -> dict[str, dict]:
    """Version 1 documents naming callables. The decoder before version 2 resolved such names and
    called them: the first two ran ``touch <marker>`` as the server's user (the reported one named
    readgroupsets, which imported os then; bam still does)."""
    command = f"touch {marker}"

    def keyed_by(function: str) -> dict:
        return {"format": "genomics-mock-state", "version": 1, "components": {
            "read_group_sets": {"_records": {"$sortedkeylist": [command], "key": function}}}}

    return {
        "sorted list keyed by os.system": keyed_by("mockserver.backend.bam:os.system"),
        "the reported document": keyed_by("mockserver.backend.readgroupsets:os.system"),
        "object of subprocess.Popen": {"format": "genomics-mock-state", "version": 1, "components": {
            "datasets": {"_records": {"$object": "subprocess:Popen", "fields": {"args": command}}}}},
        "record of os.system": {"format": "genomics-mock-state", "version": 1, "components": {
            "datasets": {"_records": {"$slots": "os:system", "v": [command]}}}},
    }


def test_a_state_document_naming_code_is_refused_through_the_admin_api(tmp_path):
    marker = tmp_path / "pwned"
    app = create_app(Backend())
    with TestClient(app) as client:
        client.post("/v1/datasets", json={"projectId": "p1", "name": "kept"})
        before = client.get("/_mock/state").json()
        for name, document in _attacks(marker).items():
            refused = client.put("/_mock/state", json=document)
            message = refused.json()["error"]["message"]
            assert refused.status_code == 400, name
            assert message.startswith("state refused: version 1 document: /components/"), message
            assert "is not a" in message and "version 1 wrote" in message, message
        after = client.get("/_mock/state").json()
    assert not marker.exists()
    before.pop("savedAt"), after.pop("savedAt")
    assert after == before


@pytest.mark.parametrize("attack", ["sorted list keyed by os.system", "the reported document"])
def test_a_state_file_naming_code_is_refused_at_start_up_untouched(tmp_path, attack):
    marker = tmp_path / "pwned"
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_attacks(marker)[attack]))
    before = state.read_bytes()
    done = subprocess.run([*COMMAND, "--state", str(state), "--no-admin"], capture_output=True, text=True,
                          timeout=STARTUP_TIMEOUT)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"state file {state} refused: version 1 document: /components/" in lines[0]
    assert not marker.exists()
    assert state.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
