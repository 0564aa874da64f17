"""Whole-backend snapshots, the atomic state file, the periodic saver, and seed files."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import samfiles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver import persistence
from mockserver.auth import TokenRegistry
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.operations import Job
from mockserver.seed import SeedError, load_seed, parse_seed
from mockserver.snapshot import SnapshotError, restore, snapshot

OWNER = DEFAULT_OWNER


def _fresh(tmp_path: Path | None = None) -> Backend:
    return Backend(clock=FakeClock(), storage_root=tmp_path)


def _round_trip(backend: Backend, tokens: TokenRegistry | None = None, **kwargs) -> Backend:
    text = json.dumps(snapshot(backend, tokens))  # must be plain JSON
    copy = _fresh(**kwargs)
    restore(copy, json.loads(text), tokens)
    return copy


def test_annotations_round_trip_and_stay_indexed(tmp_path):
    backend = _fresh()
    ds = backend.datasets.create(OWNER, {"projectId": "p1", "name": "d"})
    aset = backend.annotation_sets.create(
        OWNER, {"datasetId": ds["id"], "referenceSetId": "rs", "type": "GENERIC"}
    )
    body = [
        {
            "annotationSetId": aset["id"],
            "referenceName": "chr1",
            "start": i * 10,
            "end": i * 10 + 5,
            "info": {"k": [str(i)]},
        }
        for i in range(50)
    ]
    backend.annotations.batch_create(OWNER, {"annotations": body})
    query = {"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "0", "end": "100"}
    before = backend.annotations.search(OWNER, query)
    copy = _round_trip(backend)
    assert copy.annotations.search(OWNER, query) == before
    # the record table and the interval index still share records: delete works after restore
    copy.annotations.delete(OWNER, before["annotations"][0]["id"])
    assert len(copy.annotations.search(OWNER, query)["annotations"]) == len(before["annotations"]) - 1
    # a snapshot of the restored backend is the same document
    first, second = snapshot(backend), snapshot(_round_trip(backend))
    first.pop("savedAt"), second.pop("savedAt")
    assert first == second


def test_datasets_iam_tokens_clock_and_page_tokens_survive(tmp_path):
    backend = _fresh()
    for i in range(5):
        backend.datasets.create(OWNER, {"projectId": "p1", "name": f"d{i}"})
    deleted = backend.datasets.create(OWNER, {"projectId": "p1", "name": "deleted"})
    backend.datasets.delete(OWNER, deleted["id"])
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", "user:alice@example.com")
    backend.clock.advance(days=2)
    tokens = TokenRegistry().load({"tokens": {"t": {"principal": "user:alice@example.com"}}})
    page = backend.datasets.list(OWNER, "p1", 2, None)
    copy_tokens = TokenRegistry()
    copy = _fresh()
    restore(copy, json.loads(json.dumps(snapshot(backend, tokens))), copy_tokens)
    assert copy.datasets.list(OWNER, "p1", 2, page["nextPageToken"]) == backend.datasets.list(
        OWNER, "p1", 2, page["nextPageToken"]
    )
    assert copy.datasets.undelete(OWNER, deleted["id"])["name"] == "deleted"
    assert copy.iam.snapshot() == backend.iam.snapshot()
    assert copy.clock.now() == backend.clock.now()
    assert copy_tokens.snapshot() == tokens.snapshot()
    new_id = copy.datasets.create(OWNER, {"projectId": "p1"})["id"]
    assert new_id not in {d["id"] for d in backend.datasets.list(OWNER, "p1", 100, None)["datasets"]}


def test_read_group_sets_variant_sets_and_operations_round_trip(tmp_path):
    samfiles.write(tmp_path / "b" / "toy.bam", samfiles.toy_records(), read_groups=samfiles.READ_GROUPS)
    backend = _fresh(tmp_path)
    backend.operations.mode = "immediate"
    ds = backend.datasets.create(OWNER, {"projectId": "p1"})
    op = backend.read_group_sets.import_(OWNER, {"datasetId": ds["id"], "sourceUris": ["gs://b/toy.bam"]})
    assert op["done"] and "error" not in op
    vs = backend.variant_sets.create(OWNER, {"datasetId": ds["id"]})
    backend.call_sets.create(OWNER, {"name": "NA1", "variantSetIds": [vs["id"]]})
    backend.operations.mode = "manual"
    pending = backend.operations.start("p1", {}, Job(lambda: None, lambda _p: None))
    copy = _round_trip(backend, tmp_path=tmp_path)
    sets = copy.read_group_sets.search(OWNER, {"datasetIds": [ds["id"]]})["readGroupSets"]
    assert sets == backend.read_group_sets.search(OWNER, {"datasetIds": [ds["id"]]})["readGroupSets"]
    reads = {"readGroupSetIds": [sets[0]["id"]]}
    assert copy.reads.search(OWNER, reads) == backend.reads.search(OWNER, reads)
    assert copy.call_sets.search(OWNER, {"variantSetIds": [vs["id"]]}) == backend.call_sets.search(
        OWNER, {"variantSetIds": [vs["id"]]}
    )
    assert copy.operations.get(OWNER, op["name"])["done"] is True
    aborted = copy.operations.get(OWNER, pending["name"])
    assert (
        aborted["done"] is True and aborted["error"]["code"] == 10
    )  # ABORTED: its job died with the process


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "not a genomics-mock state"),
        ({"format": "genomics-mock-state", "version": 2, "components": {}}, "version 2 is not supported"),
        ({"format": "genomics-mock-state", "version": 1}, "no components"),
        (
            {"format": "genomics-mock-state", "version": 1, "components": {"spaceships": {}}},
            "lacks: spaceships",
        ),
        (
            {
                "format": "genomics-mock-state",
                "version": 1,
                "components": {"datasets": {"_records": {"$object": "subprocess:Popen", "fields": {}}}},
            },
            "outside mockserver.backend",
        ),
        (
            {"format": "genomics-mock-state", "version": 1, "components": {"datasets": {"x": {"$ref": 9}}}},
            "dangling reference",
        ),
        (
            {"format": "genomics-mock-state", "version": 1, "components": {"datasets": {"_rows": {}}}},
            "written by another genomics-mock version",
        ),
    ],
)
def test_foreign_or_unsafe_documents_are_refused_and_change_nothing(document, reason):
    backend = _fresh()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "kept"})
    with pytest.raises(SnapshotError) as err:
        restore(backend, document)
    assert reason in str(err.value)
    assert backend.datasets.list(OWNER, "p1", 10, None)["datasets"][0]["name"] == "kept"


def test_state_file_is_replaced_atomically(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    backend = _fresh()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "first"})
    persistence.save(path, backend)
    good = path.read_bytes()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "second"})

    def crash(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        persistence.save(path, backend)
    assert path.read_bytes() == good  # the old state is intact
    assert os.listdir(tmp_path) == ["state.json"]  # no temp file left behind
    monkeypatch.undo()
    persistence.save(path, backend)
    loaded = _fresh()
    assert persistence.load(path, loaded) is True
    assert len(loaded.datasets.list(OWNER, "p1", 10, None)["datasets"]) == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "genomics-mock-state", "vers', "is corrupt (not JSON"),
        (b'{"kind": "something else"}', "refused: not a genomics-mock state"),
        (b"\xff\xfe", "cannot read state file"),
    ],
)
def test_corrupt_or_foreign_state_files_are_refused_untouched(tmp_path, content, reason):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(persistence.StateFileError) as err:
        persistence.load(path, _fresh())
    assert reason in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == content


def test_missing_state_file_means_a_fresh_start(tmp_path):
    assert persistence.load(tmp_path / "new.json", _fresh()) is False


def test_load_removes_temp_files_of_an_interrupted_save(tmp_path):
    path = tmp_path / "state.json"
    persistence.save(path, _fresh())
    (tmp_path / ".state.json.abc123.tmp").write_text('{"half": ')  # what kill -9 mid-save leaves
    (tmp_path / "other.tmp").write_text("not ours")
    assert persistence.load(path, _fresh()) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.tmp", "state.json"]


def test_periodic_saver_saves_changes_and_once_more_on_stop(tmp_path):
    path = tmp_path / "state.json"
    backend = _fresh()
    saver = persistence.PeriodicSaver(path, backend, interval=0.05).start()
    try:
        backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
        saver.mark_dirty()
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert path.exists()
        backend.datasets.create(OWNER, {"projectId": "p1", "name": "b"})  # not marked: saved by stop()
    finally:
        saver.stop(final_save=True)
    loaded = _fresh()
    persistence.load(path, loaded)
    assert sorted(d["name"] for d in loaded.datasets.list(OWNER, "p1", 10, None)["datasets"]) == ["a", "b"]


# -- seed files ---------------------------------------------------------------------------


def test_seed_creates_everything_through_the_public_methods(tmp_path):
    samfiles.write(tmp_path / "in" / "toy.bam", samfiles.toy_records(), read_groups=samfiles.READ_GROUPS)
    bam = "in/toy.bam"  # relative to the seed file's folder
    seed = parse_seed(
        f"""
principals:
  - {{name: alice, roles: [viewer], projectId: p1}}
referenceSets:
  - {{key: ref, assemblyId: test, references: [{{name: chr1, length: 1000}}]}}
projects:
  p1:
    datasets:
      - name: demo
        annotationSets:
          - name: genes
            referenceSetId: ref
            type: GENERIC
            annotations:
              - {{referenceName: chr1, start: 10, end: 20}}
              - {{referenceName: chr1, start: 30, end: 40}}
        variantSets:
          - callSets: [{{name: NA12878}}]
        readGroupSets:
          - path: {bam}
""",
        "seed.yaml",
    )
    backend = _fresh(tmp_path / "storage")
    (tmp_path / "storage").mkdir()
    tokens = TokenRegistry()
    counts = load_seed(backend, seed, tokens, base_dir=tmp_path)
    read_group_sets = counts.pop("readGroupSets")
    assert read_group_sets >= 2  # one per sample in the BAM
    assert counts == {
        "principals": 1,
        "referenceSets": 1,
        "datasets": 1,
        "annotationSets": 1,
        "annotations": 2,
        "variantSets": 1,
        "callSets": 1,
    }
    assert tokens.principal_for_token("alice-token").member == "user:alice@example.com"
    aset = backend.annotation_sets.search(
        OWNER, {"datasetIds": [backend.datasets.list(OWNER, "p1", 1, None)["datasets"][0]["id"]]}
    )
    assert aset["annotationSets"][0]["referenceSetId"] != "ref"  # the key became the server's id


def test_seed_errors_name_the_entry_and_roll_back():
    backend = _fresh()
    backend.datasets.create(OWNER, {"projectId": "p0", "name": "before"})
    seed = {
        "projects": {
            "p1": {
                "datasets": [
                    {"name": "ok"},
                    {
                        "name": "bad",
                        "annotationSets": [{"referenceSetId": "r", "annotations": [{"start": 1, "end": 2}]}],
                    },
                ]
            }
        }
    }
    with pytest.raises(SeedError) as err:
        load_seed(backend, seed)
    assert str(err.value).startswith("projects.p1.datasets[1].annotationSets[0].annotations[0]:")
    assert backend.datasets.list(OWNER, "p1", 10, None) == {}
    assert backend.datasets.list(OWNER, "p0", 10, None)["datasets"][0]["name"] == "before"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("projects:\n  p1:\n\tdatasets: []\n", "seed.yaml",
         "seed.yaml, line 3, column 1: not valid YAML: found character '\\t' that cannot start any token "
         "(while scanning for the next token)"),
        ('{"projects":\n  {"p1": }}', "seed.json",
         "seed.json, line 2, column 10: not valid JSON: Expecting value"),
        ("- a list", "seed.yaml",
         "seed.yaml: a seed file must hold an object (tokens, principals, iam, projects ...)"),
    ],
)
def test_malformed_seed_text_is_one_line_naming_file_line_and_column(text, where, message):
    with pytest.raises(SeedError) as err:
        parse_seed(text, where)
    assert str(err.value) == message


def test_seed_tokens_and_api_keys_are_the_token_file_sections():
    """The shape docs/usage.md shows: ``tokens:`` maps tokens, ``apiKeys:`` maps keys."""
    tokens = TokenRegistry()
    seed = parse_seed(
        "tokens:\n  ci-token: {principal: 'serviceAccount:ci@p1.iam.gserviceaccount.com', superuser: true}\n"
        "apiKeys:\n  k1: {}\n"
    )
    assert load_seed(_fresh(), seed, tokens) == {"tokens": 1, "apiKeys": 1}
    assert tokens.principal_for_token("ci-token").superuser
    assert tokens.principal_for_key("k1") is not None
    with pytest.raises(SeedError, match="tokens.t2.principal is required"):
        load_seed(_fresh(), {"tokens": {"t2": {"scopes": ["genomics"]}}}, TokenRegistry())


def test_project_bindings_add_to_the_roles_principals_granted():
    backend, tokens = _fresh(), TokenRegistry()
    seed = parse_seed(
        "principals: [{name: alice, roles: [editor], projectId: p1}]\n"
        "projects:\n  p1:\n    bindings: [{role: viewer, members: ['user:bob@example.com']}]\n"
    )
    load_seed(backend, seed, tokens)
    roles = {b["role"]: b["members"] for b in backend.iam.project_bindings("p1")}
    assert roles == {"roles/editor": ["user:alice@example.com"], "roles/viewer": ["user:bob@example.com"]}
    with pytest.raises(SeedError, match=r"projects.p1.bindings\[0\].role: unknown role 'boss'"):
        load_seed(_fresh(), {"projects": {"p1": {"bindings": [{"role": "boss", "members": ["user:a@b.c"]}]}}})


def test_the_example_seed_loads_and_its_sam_file_is_what_the_script_writes(tmp_path):
    import importlib.util

    from mockserver.seed import read_seed_file

    examples = Path(__file__).resolve().parent.parent / "examples"
    spec = importlib.util.spec_from_file_location("make_sample_sam", examples / "make_sample_sam.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.write(tmp_path / "sample.sam")
    assert (tmp_path / "sample.sam").read_text() == (examples / "sample.sam").read_text()
    (tmp_path / "storage").mkdir()
    backend = _fresh(tmp_path / "storage")
    counts = load_seed(backend, read_seed_file(examples / "fixtures.yaml"), TokenRegistry(),
                       base_dir=examples)
    assert counts["readGroupSets"] == 1 and counts["annotations"] == 1


# -- property: any sequence of writes survives a round trip -----------------------------------

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("dataset"), st.sampled_from(["p1", "p2"])),
        st.tuples(st.just("delete_dataset"), st.integers(0, 9)),
        st.tuples(st.just("annotation_set"), st.integers(0, 9)),
        st.tuples(st.just("annotations"), st.integers(0, 9), st.lists(st.integers(0, 500), max_size=5)),
        st.tuples(st.just("delete_annotation"), st.integers(0, 99)),
        st.tuples(st.just("clock"), st.integers(1, 100_000)),
    ),
    max_size=25,
)


def _apply(backend: Backend, steps) -> None:
    datasets: list[str] = []
    sets: list[str] = []
    annotations: list[str] = []
    for step in steps:
        kind = step[0]
        if kind == "dataset":
            datasets.append(backend.datasets.create(OWNER, {"projectId": step[1]})["id"])
        elif kind == "delete_dataset" and datasets:
            dataset_id = datasets[step[1] % len(datasets)]
            if backend.datasets.find(dataset_id) is not None:
                backend.datasets.delete(OWNER, dataset_id)
        elif kind == "annotation_set" and datasets:
            dataset_id = datasets[step[1] % len(datasets)]
            if backend.datasets.find(dataset_id) is not None:
                body = {"datasetId": dataset_id, "referenceSetId": "rs", "type": "GENERIC"}
                sets.append(backend.annotation_sets.create(OWNER, body)["id"])
        elif kind == "annotations" and sets and step[2]:
            set_id = sets[step[1] % len(sets)]
            body = [
                {"annotationSetId": set_id, "referenceName": "chr1", "start": s, "end": s + 7}
                for s in step[2]
            ]
            try:
                created = backend.annotations.batch_create(OWNER, {"annotations": body})
            except Exception:  # noqa: BLE001 - its dataset was deleted: fine, nothing created
                continue
            annotations += [e["annotation"]["id"] for e in created["entries"] if "annotation" in e]
        elif kind == "delete_annotation" and annotations:
            annotation_id = annotations.pop(step[1] % len(annotations))
            try:
                backend.annotations.delete(OWNER, annotation_id)
            except Exception:  # noqa: BLE001 - hidden by a deleted dataset
                pass
        elif kind == "clock":
            backend.clock.advance(seconds=step[1])


def _views(backend: Backend) -> list:
    out: list = []
    for project in ("p1", "p2"):
        listed = backend.datasets.list(OWNER, project, 1024, None).get("datasets", [])
        out.append(listed)
        ids = [d["id"] for d in listed]
        if ids:
            sets = backend.annotation_sets.search(OWNER, {"datasetIds": ids, "pageSize": 1024})
            out.append(sets)
            set_ids = [s["id"] for s in sets.get("annotationSets", [])]
            if set_ids:
                query = {"annotationSetIds": set_ids, "referenceName": "chr1", "start": "100", "end": "300"}
                out.append(backend.annotations.search(OWNER, {**query, "pageSize": 2048}))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_steps)
def test_any_history_round_trips(steps):
    backend = _fresh()
    _apply(backend, steps)
    copy = _round_trip(backend)
    assert _views(copy) == _views(backend)
    first, second = snapshot(backend), snapshot(copy)
    first.pop("savedAt"), second.pop("savedAt")
    assert first == second
