"""State documents (snapshot.py), the journal and its store (persistence.py), seed files.

In-process: the subprocess tests (kill -9, a full disk under a real server) are in
tests/test_durability.py.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import threading
import time
from pathlib import Path

import orjson
import pytest
import samfiles
import vcffiles
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from state_views import views

from mockserver import journal, persistence
from mockserver.auth import TokenRegistry
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.operations import Job
from mockserver.backend.public_references import GRCH38
from mockserver.backend.tables import Table
from mockserver.persistence import StateFileError, Store
from mockserver.seed import SeedError, load_seed, parse_seed
from mockserver.snapshot import SnapshotError, restore, snapshot

OWNER = DEFAULT_OWNER
DATA = Path(__file__).parent / "data"


def _fresh(tmp_path: Path | None = None) -> Backend:
    return Backend(clock=FakeClock(), storage_root=tmp_path)


def _round_trip(backend: Backend, tokens: TokenRegistry | None = None, **kwargs) -> Backend:
    text = json.dumps(snapshot(backend, tokens))  # must be plain JSON
    copy = _fresh(**kwargs)
    restore(copy, json.loads(text), tokens)
    return copy


def _same_document(first: Backend, second: Backend, tokens=None, tokens2=None) -> None:
    one, two = snapshot(first, tokens), snapshot(second, tokens2)
    one.pop("savedAt"), two.pop("savedAt")
    assert one == two


def _annotated(backend: Backend, count: int = 50) -> tuple[dict, dict]:
    ds = backend.datasets.create(OWNER, {"projectId": "p1", "name": "d"})
    aset = backend.annotation_sets.create(
        OWNER, {"datasetId": ds["id"], "referenceSetId": GRCH38, "type": "GENERIC"}
    )
    body = [
        {"annotationSetId": aset["id"], "referenceName": "chr1", "start": i * 10, "end": i * 10 + 5,
         "info": {"k": [str(i)]}}
        for i in range(count)
    ]
    backend.annotations.batch_create(OWNER, {"annotations": body, "requestId": "r1"})
    return ds, aset


# -- documents --------------------------------------------------------------------------------


def test_annotations_round_trip_and_stay_indexed():
    backend = _fresh()
    _ds, aset = _annotated(backend)
    query = {"annotationSetIds": [aset["id"]], "referenceName": "chr1", "start": "0", "end": "100"}
    before = backend.annotations.search(OWNER, query)
    copy = _round_trip(backend)
    assert copy.annotations.search(OWNER, query) == before
    copy.annotations.delete(OWNER, before["annotations"][0]["id"])  # the index was rebuilt from the rows
    assert len(copy.annotations.search(OWNER, query)["annotations"]) == len(before["annotations"]) - 1
    _same_document(backend, _round_trip(backend))


def test_datasets_iam_tokens_clock_and_page_tokens_survive():
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


def test_a_saved_fake_clock_makes_a_real_clock_fake_and_a_document_without_one_keeps_the_clock():
    source = _fresh()
    source.clock.set(source.clock.now().replace(year=2031))
    target = Backend()  # real clock
    restore(target, snapshot(source))
    assert isinstance(target.clock, FakeClock) and target.clock.now().year == 2031
    plain = Backend()
    keeper = _fresh()
    before = keeper.clock.now()
    restore(keeper, snapshot(plain))
    assert keeper.clock.now() == before


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
    before, after = views(backend), views(copy)
    assert after.pop("operations") != before.pop("operations")  # the pending one ended ...
    assert after == before
    aborted = copy.operations.get(OWNER, pending["name"])
    assert aborted["done"] is True and aborted["error"]["code"] == 10  # ... ABORTED: its job died
    assert copy.operations.get(OWNER, op["name"]) == backend.operations.get(OWNER, op["name"])


def test_a_version_1_document_is_upgraded_to_the_same_state():
    """The file main wrote before the journal (every kind of record) loads to what it showed then."""
    document = json.loads((DATA / "state-v1.json").read_text())
    expected = json.loads((DATA / "state-v1-views.json").read_text())
    backend, tokens = _fresh(), TokenRegistry()
    restore(backend, document, tokens)
    shown = json.loads(json.dumps(views(backend, tokens), sort_keys=True))
    assert {key: shown[key] for key in expected} == expected  # views added since show more
    again, again_tokens = _fresh(), TokenRegistry()
    restore(again, snapshot(backend, tokens), again_tokens)  # and the version 2 form keeps it
    assert json.loads(json.dumps(views(again, again_tokens), sort_keys=True)) == shown


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "not a genomics-mock state"),
        ({"format": "genomics-mock-state", "version": 3, "state": {}},
         "/version: state version 3 was written by a newer genomics-mock"),
        ({"format": "genomics-mock-state", "version": 2}, "/state: missing"),
        ({"format": "genomics-mock-state", "version": 2, "state": {}, "extra": 1}, "/extra: not part of"),
        ({"format": "genomics-mock-state", "version": 2, "state": {}, "generator": 2**70},
         "/generator: must be"),
        ({"format": "genomics-mock-state", "version": 2, "state": {"spaceships": {}}},
         "/state/spaceships: this server keeps no state named 'spaceships'"),
        ({"format": "genomics-mock-state", "version": 2, "state": {"datasets": {"rows": {}}}},
         "/state/datasets/rows: no such table"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"datasets": {"records": {"7": {"id": "7"}}}}},
         "/state/datasets/records/7/projectId: must be a non-empty string"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"datasets": {"records": {"a/b": {"id": "a/b", "projectId": "p"}}}}},
         "/state/datasets/records/a~1b/id: id must equal the record's key"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"annotations": {"records": {"A": ["S", "chr1", None, 9, 3, None]}}}},
         "/state/annotations/records/A/4: end must not be before start"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"datasets": {"records": {"7": {"id": "7", "projectId": "p", "x": {"y": float("inf")}}}}}},
         "/state/datasets/records/7/x/y: numbers must be finite"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"datasets": {"records": {"7": {"id": "7", "projectId": "p", "n": 2**70}}}}},
         "/state/datasets/records/7/n: integer out of the 64-bit range"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"datasets": {"records": {"7": {"id": "7", "projectId": "\ud800"}}}}},
         "/state/datasets/records/7/projectId: strings must not hold lone surrogates"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"reads": {"records": {"R": {"lengths": {"c": 2**40}, "groups": [], "lines": []}}}}},
         "/state/reads/records/R/lengths/c: must be an integer from 0 to 2147483647"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"iam": {"projects": {"p": [{"role": "roles/boss", "members": ["user:a@b.c"]}]}}}},
         "/state/iam/projects/p: bindings[0].role: unknown role"),
        ({"format": "genomics-mock-state", "version": 2,
          "state": {"operations": {"records": {"E1": {"seq": 1, "operation": {"name": "operations/E2"}}}}}},
         "/state/operations/records/E1/operation/name: name must be operations/<the key>"),
        ({"format": "genomics-mock-state", "version": 1, "components": {"datasets": {"x": {"$ref": 9}}}},
         "version 1 document: /components/datasets/x: dangling reference 9"),
    ],
)
def test_foreign_or_malformed_documents_are_refused_whole_and_change_nothing(document, reason):
    backend = _fresh()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "kept"})
    before = snapshot(backend)
    with pytest.raises(SnapshotError) as err:
        restore(backend, document)
    assert reason in str(err.value)
    after = snapshot(backend)
    before.pop("savedAt"), after.pop("savedAt")
    assert after == before


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


def test_records_nest_as_deep_as_a_request_body_can_put_them_and_no_deeper():
    """A request body nests at most 100 levels and a record keeps one a few levels down (an
    operation's metadata.request): 110 loads, past 120 is refused."""
    document = {"format": "genomics-mock-state", "version": 2, "state": {"datasets": {"records": {
        "7": {"id": "7", "projectId": "p", "x": _nested(110)}}}}}
    restore(_fresh(), document)
    document["state"]["datasets"]["records"]["7"]["x"] = _nested(130)
    with pytest.raises(SnapshotError, match="/records/7/x/0/0/.*: nested deeper than 120 levels"):
        restore(_fresh(), document)


def test_integers_wider_than_64_bits_are_journaled_as_the_doubles_responses_show(tmp_path):
    store, backend, _ = _store(tmp_path)
    store.start()
    made = backend.datasets.create(OWNER, {"projectId": "p1", "name": "wide"})
    records = backend.datasets.state_tables()["records"]
    records[made["id"]] = {**made, "labels": {"n": 2**70}}  # what a free-form value could hold
    store.close()
    reloaded, _ = _reloaded(tmp_path)
    assert reloaded.datasets.state_tables()["records"][made["id"]]["labels"] == {"n": float(2**70)}


def test_a_bad_record_late_in_a_document_leaves_every_earlier_one_unapplied():
    source = _fresh()
    _annotated(source, count=5)
    document = snapshot(source)
    document["state"]["annotations"]["records"]["broken"] = ["x"]
    target = _fresh()
    target.datasets.create(OWNER, {"projectId": "p9", "name": "kept"})
    with pytest.raises(SnapshotError, match="/state/annotations/records/broken: must be"):
        restore(target, document)
    assert target.datasets.list(OWNER, "p1", 10, None) == {}
    assert target.datasets.list(OWNER, "p9", 10, None)["datasets"][0]["name"] == "kept"


def test_tables_refuse_the_writes_the_journal_would_not_see():
    table = _fresh().datasets.state_tables()["records"]
    assert isinstance(table, Table)
    for write in (lambda: table.update({"a": 1}), lambda: table.setdefault("a", 1), table.popitem):
        with pytest.raises(TypeError, match="a Table is written with"):
            write()


def test_every_participant_keeps_its_state_in_tables():
    """Anything else a participant holds (beyond plain values) must be declared ``derived``:
    rebuilt from the tables, or runtime machinery. State kept anywhere else would be neither
    journaled nor restored."""
    backend, tokens = _fresh(), TokenRegistry()
    _annotated(backend)
    participants = {**backend.participants(), "tokens": tokens}
    for name, participant in participants.items():
        tables = participant.state_tables()
        assert {spec.name for spec in participant.tables} == set(tables), name
        for attribute, value in vars(participant).items():
            if attribute == "_state_tables" or any(value is table for table in tables.values()):
                continue
            plain = value is None or isinstance(value, (bool, int, float, str, bytes))
            assert plain or attribute in participant.derived, (
                f"{name}.{attribute} holds state that is neither a declared table nor declared derived"
            )


def test_without_a_store_nothing_listens_to_writes():
    """In-memory use (the pytest plugin, create_app without --state) does no journal work at all."""
    from mockserver.app import create_app

    app = create_app(_fresh())
    backend = app.state.backend
    backend.datasets.create(OWNER, {"projectId": "p1"})
    assert backend.changes.listener is None and app.state.tokens.feed.listener is None
    assert app.state.control.persistence is None


# -- the store: journal, compaction, start-up -------------------------------------------------------


def _store(tmp_path: Path, backend: Backend | None = None, tokens: TokenRegistry | None = None,
           **kwargs) -> tuple[Store, Backend, TokenRegistry]:
    backend = backend or _fresh(tmp_path)
    tokens = tokens if tokens is not None else TokenRegistry()
    store = Store(tmp_path / "state.json", backend, tokens, **kwargs)
    store.load()
    return store, backend, tokens


def _reloaded(tmp_path: Path) -> tuple[Backend, TokenRegistry]:
    backend, tokens = _fresh(tmp_path), TokenRegistry()
    Store(tmp_path / "state.json", backend, tokens).load()
    return backend, tokens


def test_a_fresh_store_writes_its_state_file_before_the_first_write(tmp_path):
    store, backend, _tokens = _store(tmp_path)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "seeded before start"})
    store.start()
    try:
        document = json.loads((tmp_path / "state.json").read_bytes())
        assert document["version"] == 2 and document["journal"] == 2
        assert [p.name for p in sorted(tmp_path.glob("state.json.journal.*"))] == ["state.json.journal.2"]
    finally:
        store.close()
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)


def test_every_write_is_replayed_from_the_journal_alone(tmp_path):
    samfiles.write(tmp_path / "b" / "toy.bam", samfiles.toy_records(), read_groups=samfiles.READ_GROUPS)
    store, backend, tokens = _store(tmp_path)
    store.start()
    saved = (tmp_path / "state.json").read_bytes()
    backend.operations.mode = "immediate"
    ds, aset = _annotated(backend, count=20)
    backend.annotations.update(OWNER, backend.annotations.search(
        OWNER, {"annotationSetIds": [aset["id"]]})["annotations"][0]["id"], {"name": "renamed"}, "name")
    backend.read_group_sets.import_(OWNER, {"datasetId": ds["id"], "sourceUris": ["gs://b/toy.bam"]})
    vs = backend.variant_sets.create(OWNER, {"datasetId": ds["id"]})
    backend.call_sets.create(OWNER, {"name": "NA1", "variantSetIds": [vs["id"]]})
    backend.reference_sets.load_seed([{"references": [{"name": "chr1", "length": 4, "bases": "ACGT"}]}])
    vcffiles.write_vcf(tmp_path / "b" / "calls.vcf")
    (tmp_path / "b" / "genome.fa").write_text(">chrF\nACGTNACGTN\n")
    backend.reference_sets.load_seed([{"fasta": "gs://b/genome.fa"}])
    operation = backend.variants.import_(OWNER, {"variantSetId": vs["id"], "sourceUris": ["gs://b/calls.vcf"]})
    chr1 = {"variantSetIds": [vs["id"]], "referenceName": "chr1"}
    imported = backend.variants.search(OWNER, chr1)["variants"]
    backend.variants.patch(OWNER, imported[1]["id"], {"names": ["kept"]}, "names")
    backend.variants.delete(OWNER, imported[0]["id"])
    backend.call_sets.delete(OWNER, operation["response"]["callSetIds"][0])
    backend.variants.merge(OWNER, {"variantSetId": vs["id"], "variants": [
        {"referenceName": "chr1", "start": "1", "referenceBases": "A", "info": {"k": ["v"]}}]})
    gone = backend.datasets.create(OWNER, {"projectId": "p1", "name": "gone"})
    backend.datasets.delete(OWNER, gone["id"])
    backend.dataset_policies.set_policy(OWNER, ds["id"], {"bindings": [
        {"role": "roles/genomics.viewer", "members": ["user:carol@example.com"]}]})
    backend.iam.add_group_member("team@example.com", "user:bob@example.com")
    tokens.add_token("alice-token", "user:alice@example.com")
    backend.clock.advance(hours=3)
    store.close()
    assert (tmp_path / "state.json").read_bytes() == saved  # all of it is in the journal
    reloaded, reloaded_tokens = _reloaded(tmp_path)
    assert views(reloaded, reloaded_tokens) == views(backend, tokens)
    assert reloaded.ids.issued() == backend.ids.issued()


def test_resets_and_whole_state_replacements_are_journaled(tmp_path):
    store, backend, tokens = _store(tmp_path)
    store.start()
    other = _fresh()
    other.datasets.create(OWNER, {"projectId": "p1", "name": "from a document"})
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "replaced"})
    restore(backend, snapshot(other), tokens)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "after"})
    store.close()
    reloaded, _ = _reloaded(tmp_path)
    assert sorted(d["name"] for d in reloaded.datasets.list(OWNER, "p1", 10, None)["datasets"]) == [
        "after", "from a document"]
    store, backend, tokens = _store(tmp_path, reloaded)
    store.start()
    backend.reset()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "only"})
    store.close()
    again, _ = _reloaded(tmp_path)
    assert [d["name"] for d in again.datasets.list(OWNER, "p1", 10, None)["datasets"]] == ["only"]


@pytest.mark.parametrize("fork", [True, False], ids=["forked child", "thread (no fork)"])
def test_writes_during_compactions_are_all_kept(tmp_path, monkeypatch, fork):
    """Writers create, patch and delete records while compactions run back to back — in a forked
    child (a cut at the fork), or where there is no fork in this thread, in short lock holds;
    state file + journal is exact either way."""
    monkeypatch.setattr(persistence, "FORK", fork)
    store, backend, _tokens = _store(tmp_path)
    store.start()
    _ds, aset = _annotated(backend, count=3000)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(300):
                made = backend.datasets.create(OWNER, {"projectId": "p1", "name": f"w{n}-{i}"})
                if i % 3 == 0:
                    backend.datasets.patch(OWNER, made["id"], {"name": f"w{n}-{i}-renamed"}, "name")
                if i % 5 == 0:
                    backend.datasets.delete(OWNER, made["id"])
                backend.annotations.create(OWNER, {"annotationSetId": aset["id"], "referenceName": "chr2",
                                                   "start": str(i), "end": str(i + 1)})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    during = 0
    while any(thread.is_alive() for thread in threads) or during < 2:
        store.compact()
        during += 1
    for thread in threads:
        thread.join()
    store.close()
    assert not errors
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)
    first = json.loads((tmp_path / "state.json").read_bytes())["journal"]
    left = sorted(int(p.suffix[1:]) for p in tmp_path.glob("state.json.journal.*"))
    assert left == list(range(first, first + len(left)))  # segments the state file covers are gone


def _in_the_child(monkeypatch, act) -> None:
    """Make the state file's writes run ``act(fd, data)`` in a forked compaction child only (the
    server process never calls it: what happens comes from the child)."""
    server, real = os.getpid(), persistence.write_all

    def write_all(fd: int, data: bytes) -> None:
        if os.getpid() == server:
            raise AssertionError("the server process wrote the state file itself")
        act(fd, data, real)

    monkeypatch.setattr(persistence, "write_all", write_all)


def _files(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in tmp_path.iterdir()}


def test_a_compaction_child_that_fails_degrades_health_and_keeps_the_old_files(tmp_path, monkeypatch, caplog):
    """ENOSPC in the child, half-way through the file: the state file and every segment stay as
    they were, health says why, and the next compaction (the disk freed) recovers."""
    store, backend, _ = _store(tmp_path, compact_interval=0.05)
    store.start()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "before"})
    assert store.flush()

    def full(fd: int, data: bytes, real) -> None:
        real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    caplog.set_level(logging.WARNING, logger="genomics_mock")
    _in_the_child(monkeypatch, full)
    with pytest.raises(OSError, match="No space left on device"):
        store.compact()
    kept = _files(tmp_path)
    assert "state.json.journal.2" in kept and "state.json.journal.3" in kept  # nothing deleted
    assert not list(tmp_path.glob("*.tmp"))
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "during"})  # the compactor thread retries
    deadline = time.monotonic() + 30
    while store.health()["status"] == "ok" and time.monotonic() < deadline:
        time.sleep(0.02)
    health = store.health()
    assert health["status"] == "degraded"
    assert health["reason"] == "writing the state file state.json failed: No space left on device"
    assert (tmp_path / "state.json").read_bytes() == kept["state.json"]
    monkeypatch.undo()
    while store.health()["status"] != "ok" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.health()["status"] == "ok"
    assert [r for r in caplog.records if "persistence recovered" in r.getMessage()]
    store.close()
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)


def test_a_compaction_child_killed_mid_write_leaves_the_old_state_file_and_a_complete_journal(
        tmp_path, monkeypatch):
    store, backend, _ = _store(tmp_path)
    store.start()
    _annotated(backend, count=3000)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "journaled"})
    assert store.flush()
    before = (tmp_path / "state.json").read_bytes()

    def killed(fd: int, data: bytes, real) -> None:
        real(fd, data)
        os.kill(os.getpid(), signal.SIGKILL)  # after the first piece reached the temp file

    _in_the_child(monkeypatch, killed)
    with pytest.raises(OSError, match="the compaction process was killed by SIGKILL"):
        store.compact()
    monkeypatch.undo()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "after"})
    store.close()
    assert (tmp_path / "state.json").read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))  # the half-written file is removed
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)


def test_a_fork_that_fails_loses_no_pending_write(tmp_path, monkeypatch):
    store, backend, _ = _store(tmp_path)
    store.start()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "pending at the cut"})

    def no_fork() -> int:
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(persistence.os, "fork", no_fork)
    with pytest.raises(OSError, match="Resource temporarily unavailable"):
        store.compact()
    monkeypatch.undo()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "after"})
    store.close()
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)


def test_close_kills_a_running_compaction_child_and_waits_for_it(tmp_path, monkeypatch):
    store, backend, _ = _store(tmp_path, compact_interval=0.05)
    store.start()
    marker = tmp_path / "child-pid"

    def stuck(fd: int, data: bytes, real) -> None:
        marker.write_text(str(os.getpid()))
        time.sleep(600)

    _in_the_child(monkeypatch, stuck)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "kept"})
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.health()["compacting"] is True
    child = int(marker.read_text())
    store.close()
    with pytest.raises(ChildProcessError):  # killed and reaped: no such child any more
        os.waitpid(child, os.WNOHANG)
    assert store.health()["compacting"] is False
    marker.unlink()
    reloaded, _ = _reloaded(tmp_path)
    assert views(reloaded) == views(backend)


def _journal(tmp_path: Path) -> Path:
    (segment,) = tmp_path.glob("state.json.journal.*")
    return segment


def _two_segments_of_writes(tmp_path: Path) -> Backend:
    store, backend, _ = _store(tmp_path)
    store.start()
    for i in range(3):
        backend.datasets.create(OWNER, {"projectId": "p1", "name": f"d{i}"})
        store.flush()  # one frame each
    store.close()
    return backend


def test_a_torn_last_record_is_dropped_with_one_warning_and_cut_off(tmp_path, caplog):
    backend = _two_segments_of_writes(tmp_path)
    segment = _journal(tmp_path)
    complete = segment.read_bytes()
    torn = journal.frame([orjson.dumps(["p", "datasets", "records", "9", {"id": "9", "projectId": "p1"}])])
    segment.write_bytes(complete + torn[: len(torn) // 2])  # what kill -9 mid-write leaves
    caplog.set_level(logging.WARNING, logger="genomics_mock")
    store, reloaded, _ = _store(tmp_path)
    warnings = [r.getMessage() for r in caplog.records if "torn record" in r.getMessage()]
    assert len(warnings) == 1 and f"offset {len(complete)}" in warnings[0]
    assert views(reloaded) == views(backend)
    store.start()
    assert segment.read_bytes() == complete  # cut off before anything is appended
    reloaded.datasets.create(OWNER, {"projectId": "p1", "name": "after the tear"})
    store.close()
    again, _ = _reloaded(tmp_path)
    assert len(again.datasets.list(OWNER, "p1", 10, None)["datasets"]) == 4


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:20] + b"\x00" + data[21:], "is corrupt at offset 8: a frame whose checksum"),
        (lambda data: b"NOTJRNL" + data[7:], "is corrupt at offset 0: not a genomics-mock journal"),
        (lambda data: data[:6] + b"\x09\x00" + data[8:],
         "at offset 6: format version 9 was written by a newer"),
        (lambda data: data[:8] + journal.frame([b'["x"]']) + data[8:], "refused at offset 8: entry 0 is not"),
        (lambda data: data[:8] + journal.frame([b'["p","datasets","records","7",{"id":"7"}]']) + data[8:],
         "refused at offset 8: /datasets/records/7/projectId: must be a non-empty string"),
    ],
)
def test_a_damaged_journal_is_refused_naming_the_offset_and_left_untouched(tmp_path, damage, message):
    _two_segments_of_writes(tmp_path)
    segment = _journal(tmp_path)
    damaged = damage(segment.read_bytes())
    segment.write_bytes(damaged)
    with pytest.raises(StateFileError) as err:
        _store(tmp_path)
    assert str(segment) in str(err.value) and message in str(err.value)
    assert segment.read_bytes() == damaged


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"format": "genomics-mock-state", "vers', "refused: not JSON at offset 39"),
        (b'{"kind": "something else"}', "refused: not a genomics-mock state"),
        (b'{"format": "genomics-mock-state", "version": 7, "state": {}}', "written by a newer genomics-mock"),
        (b"\xff\xfe", "refused: not JSON at offset 0"),
        (b'{"format": "genomics-mock-state", "version": 2, "state": {}, "journal": 0}', "/journal: must be"),
    ],
)
def test_corrupt_truncated_or_newer_state_files_are_refused_untouched(tmp_path, content, reason):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(StateFileError) as err:
        _store(tmp_path)
    assert reason in str(err.value) and str(path) in str(err.value)
    assert path.read_bytes() == content


def test_missing_segments_or_a_missing_state_file_are_refused(tmp_path):
    _two_segments_of_writes(tmp_path)
    segment = _journal(tmp_path)
    later = segment.with_name("state.json.journal.9")
    later.write_bytes(journal.HEADER)
    with pytest.raises(StateFileError, match=r"journal segments of .* are missing: found \[2, 9\]"):
        _store(tmp_path)
    later.unlink()
    (tmp_path / "state.json").unlink()
    with pytest.raises(StateFileError, match="follows a state file .* that does not exist"):
        _store(tmp_path)


def test_a_missing_state_file_means_a_fresh_start_and_stale_temp_files_go(tmp_path):
    (tmp_path / ".state.json.abc123.tmp").write_text('{"half": ')  # what kill -9 mid-compaction leaves
    (tmp_path / "other.tmp").write_text("not ours")
    store, _backend, _ = _store(tmp_path)
    assert store.load() is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.tmp"]


def test_a_state_file_is_replaced_atomically(tmp_path, monkeypatch):
    store, backend, _ = _store(tmp_path)
    store.start()
    good = (tmp_path / "state.json").read_bytes()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "second"})

    def crash(*_args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(persistence.os, "replace", crash)
    with pytest.raises(OSError, match="No space left"):
        store.compact()
    assert (tmp_path / "state.json").read_bytes() == good  # the old state is intact
    assert not list(tmp_path.glob("*.tmp"))  # no temp file left behind
    monkeypatch.undo()
    store.close()
    reloaded, _ = _reloaded(tmp_path)  # the journal has the write
    assert [d["name"] for d in reloaded.datasets.list(OWNER, "p1", 10, None)["datasets"]] == ["second"]


def test_a_full_disk_degrades_health_once_then_recovers_and_keeps_every_write(tmp_path, monkeypatch, caplog):
    store, backend, _ = _store(tmp_path)
    store.start()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "before"})
    assert store.flush() and store.health()["status"] == "ok"
    durable = store.health()["lastDurableWrite"]
    real_write = journal.write_all

    def full(fd: int, data: bytes) -> None:
        real_write(fd, data[: len(data) // 2])  # a partial frame reaches the file first
        raise OSError(errno.ENOSPC, "No space left on device")

    caplog.set_level(logging.WARNING, logger="genomics_mock")
    monkeypatch.setattr(journal, "write_all", full)
    for i in range(3):
        backend.datasets.create(OWNER, {"projectId": "p1", "name": f"during {i}"})
        assert store.flush() is False
    health = store.health()
    assert health["status"] == "degraded" and "No space left on device" in health["reason"]
    assert health["lastDurableWrite"] == durable
    failures = [r for r in caplog.records if "persistence failing" in r.getMessage()]
    assert len(failures) == 1  # once per episode
    monkeypatch.setattr(journal, "write_all", real_write)
    assert store.flush() and store.health()["status"] == "ok"
    assert [r for r in caplog.records if "persistence recovered" in r.getMessage()]
    store.close()
    reloaded, _ = _reloaded(tmp_path)  # the partial frame was cut off before the retry
    assert sorted(d["name"] for d in reloaded.datasets.list(OWNER, "p1", 10, None)["datasets"]) == [
        "before", "during 0", "during 1", "during 2"]


def test_close_reports_changes_it_could_not_save(tmp_path, monkeypatch):
    store, backend, _ = _store(tmp_path)
    store.start()

    def denied(fd: int, data: bytes) -> None:
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(journal, "write_all", denied)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "lost"})
    with pytest.raises(StateFileError, match="Permission denied; the state on disk is as of 20"):
        store.close()


def test_reset_returns_a_server_started_from_its_files_to_what_it_loaded(tmp_path):
    """The reset baseline of a loaded server is the files it read (no copy of the state at
    start-up); the reset itself is journaled like any change."""
    from mockserver.app import create_app

    store, backend, tokens = _store(tmp_path)
    store.start()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "saved"})
    store.flush()
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "journaled"})
    tokens.add_token("saved-token", "user:s@example.com")
    store.close()

    backend, tokens = _fresh(tmp_path), TokenRegistry()
    store = Store(tmp_path / "state.json", backend, tokens)
    assert store.load()
    tokens.add_token("file-token", "user:f@example.com")  # what --tokens adds after loading
    control = create_app(backend, tokens=tokens).state.control
    control.capture_baseline(restore_with=store.restore_loaded)
    store.start()
    loaded = views(backend, tokens)
    backend.datasets.create(OWNER, {"projectId": "p1", "name": "after start"})
    tokens.add_token("later-token", "user:l@example.com")
    control.reset()
    assert views(backend, tokens) == loaded
    store.close()
    reloaded, reloaded_tokens = _reloaded(tmp_path)
    assert views(reloaded, reloaded_tokens) == loaded


def test_health_reports_the_store(tmp_path):
    from starlette.testclient import TestClient

    from mockserver.app import create_app

    app = create_app(_fresh(tmp_path))
    store = Store(tmp_path / "state.json", app.state.backend, app.state.tokens)
    store.load()
    app.state.control.persistence = store.start()
    try:
        with TestClient(app) as client:
            client.post("/v1/datasets", json={"projectId": "p1"})
            body = client.get("/_mock/health").json()
        assert body["status"] == "ok" and body["persistence"]["compactions"] == 1
        assert body["persistence"]["lastDurableWrite"].endswith("Z")
    finally:
        store.close()


# -- property: any history survives the journal, and a document round trip ----------------------

_steps = st.lists(
    st.one_of(
        st.tuples(st.just("dataset"), st.sampled_from(["p1", "p2"])),
        st.tuples(st.just("delete_dataset"), st.integers(0, 9)),
        st.tuples(st.just("undelete"), st.integers(0, 9)),
        st.tuples(st.just("annotation_set"), st.integers(0, 9)),
        st.tuples(st.just("annotations"), st.integers(0, 9), st.lists(st.integers(0, 500), max_size=5)),
        st.tuples(st.just("delete_annotation"), st.integers(0, 99)),
        st.tuples(st.just("delete_set"), st.integers(0, 9)),
        st.tuples(st.just("grant"), st.sampled_from(["p1", "p2"])),
        st.tuples(st.just("variant_set"), st.integers(0, 9)),
        st.tuples(st.just("variants"), st.integers(0, 9), st.lists(st.integers(0, 500), max_size=4)),
        st.tuples(st.just("import"), st.integers(0, 9)),
        st.tuples(st.just("patch_variant"), st.integers(0, 99)),
        st.tuples(st.just("delete_variant"), st.integers(0, 99)),
        st.tuples(st.just("delete_call_set"), st.integers(0, 99)),
        st.tuples(st.just("delete_variant_set"), st.integers(0, 9)),
        st.tuples(st.just("clock"), st.integers(1, 100_000)),
        st.tuples(st.just("compact"),),
    ),
    max_size=25,
)


def _apply(backend: Backend, steps, store: Store | None = None) -> None:
    datasets: list[str] = []
    sets: list[str] = []
    annotations: list[str] = []
    variant_sets: list[str] = []
    variants: list[str] = []
    call_sets: list[str] = []
    for step in steps:
        kind = step[0]
        try:
            if kind in VARIANT_STEPS:
                _variant_step(backend, step, datasets, variant_sets, variants, call_sets)
                continue
            if kind == "dataset":
                datasets.append(backend.datasets.create(OWNER, {"projectId": step[1]})["id"])
            elif kind in ("delete_dataset", "undelete") and datasets:
                dataset_id = datasets[step[1] % len(datasets)]
                if kind == "delete_dataset":
                    backend.datasets.delete(OWNER, dataset_id)
                else:
                    backend.datasets.undelete(OWNER, dataset_id)
            elif kind == "annotation_set" and datasets:
                dataset_id = datasets[step[1] % len(datasets)]
                body = {"datasetId": dataset_id, "referenceSetId": "rs", "type": "GENERIC"}
                sets.append(backend.annotation_sets.create(OWNER, body)["id"])
            elif kind == "annotations" and sets and step[2]:
                set_id = sets[step[1] % len(sets)]
                body = [{"annotationSetId": set_id, "referenceName": "chr1", "start": s, "end": s + 7}
                        for s in step[2]]
                created = backend.annotations.batch_create(OWNER, {"annotations": body})
                annotations += [e["annotation"]["id"] for e in created["entries"] if "annotation" in e]
            elif kind == "delete_annotation" and annotations:
                backend.annotations.delete(OWNER, annotations.pop(step[1] % len(annotations)))
            elif kind == "delete_set" and sets:
                backend.annotation_sets.delete(OWNER, sets.pop(step[1] % len(sets)))
            elif kind == "grant":
                backend.iam.add_project_binding(step[1], "roles/genomics.viewer", "user:v@example.com")
            elif kind == "clock":
                backend.clock.advance(seconds=step[1])
            elif kind == "compact" and store is not None:
                store.compact()
        except Exception as exc:  # noqa: BLE001 - a 4xx for a hidden or missing parent: nothing changed
            assert getattr(exc, "code", 500) < 500, exc


VARIANT_STEPS = {"variant_set", "variants", "import", "patch_variant", "delete_variant", "delete_call_set",
                 "delete_variant_set"}


def _variant_step(backend: Backend, step, datasets, variant_sets, variants, call_sets) -> None:
    """One step of a history on variants: sets, created and imported variants, changes."""
    kind = step[0]
    if kind == "variant_set" and datasets:
        body = {"datasetId": datasets[step[1] % len(datasets)]}
        variant_sets.append(backend.variant_sets.create(OWNER, body)["id"])
    elif kind == "variants" and variant_sets:
        set_id = variant_sets[step[1] % len(variant_sets)]
        for start in step[2]:
            body = {"variantSetId": set_id, "referenceName": "chr1", "start": str(start)}
            variants.append(backend.variants.create(OWNER, {**body, "referenceBases": "G"})["id"])
    elif kind == "import" and variant_sets:
        path = backend.storage.root / "b" / "calls.vcf"
        if not path.exists():
            vcffiles.write_vcf(path)
        mode, backend.operations.mode = backend.operations.mode, "immediate"
        try:
            set_id = variant_sets[step[1] % len(variant_sets)]
            done = backend.variants.import_(OWNER, {"variantSetId": set_id, "sourceUris": ["gs://b/calls.vcf"]})
        finally:
            backend.operations.mode = mode
        call_sets += done.get("response", {}).get("callSetIds", [])
        found = backend.variants.search(OWNER, {"variantSetIds": [set_id], "referenceName": "chr1"})
        variants += [v["id"] for v in found.get("variants", [])]
    elif kind == "patch_variant" and variants:
        backend.variants.patch(OWNER, variants[step[1] % len(variants)], {"names": [f"n{step[1]}"]}, "names")
    elif kind == "delete_variant" and variants:
        backend.variants.delete(OWNER, variants.pop(step[1] % len(variants)))
    elif kind == "delete_call_set" and call_sets:
        backend.call_sets.delete(OWNER, call_sets.pop(step[1] % len(call_sets)))
    elif kind == "delete_variant_set" and variant_sets:
        backend.variant_sets.delete(OWNER, variant_sets.pop(step[1] % len(variant_sets)))


#: a history every run tries (as a Hypothesis example): imported, created, changed and deleted variants
VARIANT_HISTORY = [
    ("dataset", "p1"), ("variant_set", 0), ("variants", 0, [5, 9, 9]), ("import", 0), ("patch_variant", 4),
    ("delete_variant", 1), ("delete_call_set", 0), ("compact",), ("variants", 0, [7]), ("variant_set", 0),
    ("import", 1), ("delete_variant_set", 1), ("delete_dataset", 0), ("compact",), ("undelete", 0),
]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_steps)
@example(VARIANT_HISTORY)
def test_any_history_round_trips(steps):
    backend = _fresh()
    _apply(backend, steps)
    copy = _round_trip(backend)
    assert views(copy, projects=("p1", "p2")) == views(backend, projects=("p1", "p2"))
    _same_document(backend, copy)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(_steps)
@example(VARIANT_HISTORY)
def test_any_history_survives_the_journal_and_compactions(tmp_path_factory, steps):
    directory = tmp_path_factory.mktemp("journal")
    store, backend, _ = _store(directory)
    store.start()
    _apply(backend, steps, store)
    store.close()
    reloaded, _ = _reloaded(directory)
    assert views(reloaded, projects=("p1", "p2")) == views(backend, projects=("p1", "p2"))
    _same_document(backend, reloaded)


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
                        "annotationSets": [
                            {"referenceSetId": GRCH38, "annotations": [{"start": 1, "end": 2}]}
                        ],
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
