"""Attacks through files: seeds naming files outside the allowed folders, the export symlink race,
and error messages that would print the server's paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import samfiles
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.seed import SeedError, load_seed


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A storage root, a seed root and an "outside" folder holding a valid BAM and a secret."""
    folders = {name: tmp_path / name for name in ("storage", "seeds", "outside")}
    for folder in folders.values():
        folder.mkdir()
    samfiles.write_toy(folders["outside"] / "private.bam")
    (folders["outside"] / "secret.txt").write_text("root:x:0:0\n")
    samfiles.write_toy(folders["seeds"] / "ok.bam")
    (folders["seeds"] / "notes.txt").write_text("not a BAM\n")
    samfiles.write_toy(folders["storage"] / "bucket" / "in-place.bam")
    return folders


@pytest.fixture
def admin(layout: dict[str, Path]) -> Iterator[TestClient]:
    backend = Backend(clock=FakeClock(), storage_root=layout["storage"])
    backend.operations.mode = "immediate"
    app = create_app(backend, seed_root=layout["seeds"])
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()}


def _seed(path: str) -> dict[str, Any]:
    return {"projects": {"p1": {"datasets": [{"name": "d", "readGroupSets": [{"path": path}]}]}}}


def _post(admin: TestClient, path: str) -> Any:
    return admin.post("/_mock/seed", json=_seed(path))


def test_admin_seeds_may_not_name_files_outside_the_roots_and_nothing_is_copied(admin, layout):
    before = _files(layout["storage"])
    attempts = [
        str(layout["outside"] / "private.bam"),  # a real BAM outside: must not be imported
        str(layout["outside"] / "secret.txt"),  # exists
        str(layout["outside"] / "id_rsa"),  # does not exist
        "../outside/private.bam",  # relative, climbing out of --seed-root
        "/etc/passwd",
        "/root/.ssh/id_rsa",
    ]
    messages = []
    for attempt in attempts:
        response = _post(admin, attempt)
        assert response.status_code == 400, response.text
        message = response.json()["error"]["message"]
        messages.append(message.replace(repr(attempt), "PATH"))
        assert str(layout["storage"]) not in message and str(layout["seeds"]) not in message
    assert len(set(messages)) == 1, messages  # the same words whether or not the file exists
    assert "no such file" not in messages[0]
    assert _files(layout["storage"]) == before  # nothing copied
    assert admin.get("/v1/datasets", params={"projectId": "p1"}).json() == {}


def test_a_link_out_of_a_root_is_out(admin, layout):
    os.symlink(layout["outside"] / "private.bam", layout["seeds"] / "link.bam")
    os.symlink(layout["outside"], layout["storage"] / "bucket" / "escape")
    before = _files(layout["storage"])
    for path in ("link.bam", str(layout["storage"] / "bucket" / "escape" / "private.bam")):
        response = _post(admin, path)
        assert response.status_code == 400 and "not under a folder a seed may read" in response.text
    assert _files(layout["storage"]) == before


def test_admin_seeds_may_name_files_under_the_seed_root_and_the_storage_root(admin, layout):
    copied = _post(admin, "ok.bam")
    assert copied.status_code == 200, copied.text
    assert (layout["storage"] / "genomics-mock-seed" / "ok.bam").is_file()
    in_place = _post(admin, str(layout["storage"] / "bucket" / "in-place.bam"))
    assert in_place.status_code == 200, in_place.text
    assert not (layout["storage"] / "genomics-mock-seed" / "in-place.bam").exists()  # imported in place


def test_a_missing_file_inside_a_root_is_named_as_written(admin, layout):
    response = _post(admin, "nowhere.bam")
    assert response.status_code == 400
    assert "no such file 'nowhere.bam'" in response.json()["error"]["message"]


def test_a_failed_import_leaves_no_copy_behind(admin, layout):
    before = _files(layout["storage"])
    response = _post(admin, "notes.txt")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "not a readable SAM/BAM/CRAM file" in message and str(layout["storage"]) not in message
    assert _files(layout["storage"]) == before


def test_the_seed_copy_never_writes_through_a_planted_link(admin, layout):
    (layout["storage"] / "genomics-mock-seed").mkdir()
    victim = layout["outside"] / "victim.bam"
    victim.write_bytes(b"untouched")
    os.symlink(victim, layout["storage"] / "genomics-mock-seed" / "ok.bam")
    response = _post(admin, "ok.bam")
    assert response.status_code == 200, response.text
    assert victim.read_bytes() == b"untouched"
    assert not (layout["storage"] / "genomics-mock-seed" / "ok.bam").is_symlink()


def test_a_seed_file_may_name_files_in_its_own_folder_only(tmp_path, layout):
    seed = layout["seeds"] / "seed.yaml"
    backend = Backend(clock=FakeClock(), storage_root=layout["storage"])
    assert load_seed(backend, _seed("ok.bam"), base_dir=seed.parent)["readGroupSets"] >= 1
    for path in ("../outside/private.bam", str(layout["outside"] / "private.bam")):
        with pytest.raises(SeedError, match="not under a folder a seed may read"):
            load_seed(Backend(storage_root=layout["storage"]), _seed(path), base_dir=seed.parent)


def test_serve_refuses_a_seed_file_naming_an_outside_file(tmp_path, layout):
    seed = layout["seeds"] / "seed.yaml"
    seed.write_text("projects:\n  p1:\n    datasets:\n      - name: d\n"
                    "        readGroupSets: [{path: ../outside/private.bam}]\n")
    done = subprocess.run(
        [sys.executable, "-m", "mockserver.cli", "serve", "--port", "0", "--seed", str(seed),
         "--storage-root", str(layout["storage"])],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 3, done.stderr
    assert "not under a folder a seed may read" in done.stderr
    assert not (layout["storage"] / "genomics-mock-seed").exists()


# -- export ---------------------------------------------------------------------------------


@pytest.fixture
def exporting(layout: dict[str, Path]) -> dict[str, Any]:
    """A backend in manual mode with one imported read group set."""
    backend = samfiles.new_backend(layout["storage"])
    ds = backend.datasets.create(DEFAULT_OWNER, {"projectId": "p1"})["id"]
    op = samfiles.run_import(backend, ds, "gs://bucket/in-place.bam", partitionStrategy="MERGE_ALL")
    backend.operations.mode = "manual"
    return {"backend": backend, "set": op["response"]["readGroupSetIds"][0]}


def _export(exporting: dict[str, Any], uri: str) -> dict[str, Any]:
    backend = exporting["backend"]
    body = {"projectId": "p1", "exportUri": uri}
    op = backend.read_group_sets.export(DEFAULT_OWNER, exporting["set"], body)
    assert not op.get("done"), op
    return op


@pytest.mark.parametrize("swap", ["folder", "bucket"])
def test_a_folder_swapped_for_a_link_before_the_export_runs_is_refused(exporting, layout, swap):
    """The race: the destination is checked at the request, then a link is planted before the write."""
    backend = exporting["backend"]
    (layout["storage"] / "out" / "sub").mkdir(parents=True)
    op = _export(exporting, "gs://out/sub/x.bam")
    swapped = layout["storage"] / "out" / "sub" if swap == "folder" else layout["storage"] / "out"
    os.rename(swapped, layout["storage"] / f"moved-{swap}")
    os.symlink(layout["outside"], swapped)
    finished = backend.operations.complete(op["name"])
    assert finished["done"] and finished["error"]["code"] == 3, finished
    assert "symbolic link" in finished["error"]["message"]
    assert str(layout["storage"]) not in finished["error"]["message"]
    assert not list(layout["outside"].rglob("x.bam")) and not list(layout["outside"].rglob(".x.bam*"))


def test_an_object_planted_as_a_link_is_not_written_through(exporting, layout):
    backend = exporting["backend"]
    (layout["storage"] / "out").mkdir()
    op = _export(exporting, "gs://out/x.bam")
    os.symlink(layout["outside"] / "secret.txt", layout["storage"] / "out" / "x.bam")
    finished = backend.operations.complete(op["name"])
    assert finished["error"]["code"] == 9 and "already exists" in finished["error"]["message"]
    assert (layout["outside"] / "secret.txt").read_text() == "root:x:0:0\n"


def test_an_export_is_written_and_readable(exporting, layout):
    backend = exporting["backend"]
    op = _export(exporting, "gs://out/deep/er/x.bam")
    finished = backend.operations.complete(op["name"])
    assert "error" not in finished, finished
    assert (layout["storage"] / "out" / "deep" / "er" / "x.bam").stat().st_size > 0
    assert _files(layout["storage"] / "out") == {"deep/er/x.bam"}  # no partial file left


def test_a_long_export_name_fails_without_printing_the_storage_path(exporting, layout):
    backend = exporting["backend"]
    op = _export(exporting, "gs://out/" + "n" * 300 + ".bam")
    finished = backend.operations.complete(op["name"])
    message = finished["error"]["message"]
    assert "could not write" in message and str(layout["storage"]) not in message and "/tmp" not in message
