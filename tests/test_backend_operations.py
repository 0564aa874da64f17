"""Operations: records, runner modes, list filter parsing, cancel."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import samfiles

from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.operations import Job, parse_filter
from mockserver.backend.principals import DEFAULT_OWNER as OWNER
from mockserver.errors import ApiError, invalid_argument


@pytest.fixture
def be(tmp_path: Path) -> Backend:
    return samfiles.new_backend(tmp_path, mode="manual")


def start(
    be: Backend, project: str = "p1", *, fail: ApiError | None = None, labels: dict | None = None
) -> str:
    def prepare() -> int:
        if fail is not None:
            raise fail
        return 7

    def commit(payload: int) -> dict[str, Any]:
        return {"@type": "type.googleapis.com/test.Response", "value": payload}

    op = be.operations.start(
        project, {"@type": "type.googleapis.com/test.Request"}, Job(prepare, commit), labels=labels
    )
    return op["name"]


def names(be: Backend, text: str, **kw: Any) -> list[str]:
    return [op["name"] for op in be.operations.list(OWNER, text, **kw).get("operations", [])]


def test_operation_record_shape(be: Backend) -> None:
    name = start(be)
    op = be.operations.get(OWNER, name)
    assert name.startswith("operations/") and "done" not in op
    meta = op["metadata"]
    assert meta["@type"] == "type.googleapis.com/google.genomics.v1.OperationMetadata"
    assert meta["projectId"] == "p1" and meta["createTime"].endswith("Z")
    assert meta["request"]["@type"] == "type.googleapis.com/test.Request"
    done = be.operations.complete(name)
    assert done["done"] is True and done["response"]["value"] == 7
    assert [e["description"] for e in done["metadata"]["events"]] == ["Started", "Finished"]
    assert "startTime" in done["metadata"] and "endTime" in done["metadata"]


def test_failure_becomes_rpc_status(be: Backend) -> None:
    name = start(be, fail=invalid_argument("sourceUris: gs://b/x is bad"))
    op = be.operations.complete(name)
    assert op["error"]["code"] == 3 and op["error"]["message"] == "sourceUris: gs://b/x is bad"
    assert op["error"]["details"][0]["fieldViolations"][0]["field"] == "sourceUris"  # a google.rpc.Status
    assert "response" not in op


def test_unexpected_exception_is_internal_not_a_crash(be: Backend) -> None:
    job = Job(lambda: 1 / 0, lambda _p: None)
    name = be.operations.start("p1", {}, job)["name"]
    assert be.operations.complete(name)["error"]["code"] == 13


def test_immediate_mode_returns_the_finished_operation(be: Backend) -> None:
    be.operations.mode = "immediate"
    op = be.operations.get(OWNER, start(be))
    assert op["done"] and op["response"]["value"] == 7


def test_background_mode_runs_prepare_without_holding_the_lock(be: Backend) -> None:
    be.operations.mode = "background"
    release = threading.Event()
    inside = threading.Event()

    def prepare() -> None:
        inside.set()
        assert release.wait(5)

    name = be.operations.start("p1", {}, Job(prepare, lambda _p: None))["name"]
    assert inside.wait(5)
    # the server keeps answering while the job works
    assert be.operations.get(OWNER, name).get("done") is None
    assert be.datasets.create(OWNER, {"projectId": "p1"})["id"]
    release.set()
    assert be.operations.wait(name)["done"]
    be.operations.shutdown()


def test_cancel_running_operation_ends_cancelled_and_never_commits(be: Backend) -> None:
    committed = []
    name = be.operations.start("p1", {}, Job(lambda: 1, committed.append))["name"]
    assert be.operations.cancel(OWNER, name) == {}
    op = be.operations.get(OWNER, name)
    assert op["done"] and op["error"]["code"] == 1
    be.operations.complete(name)
    assert committed == [] and be.operations.get(OWNER, name)["error"]["code"] == 1


def test_cancel_done_operation_keeps_its_result(be: Backend) -> None:
    name = start(be)
    be.operations.complete(name)
    be.operations.cancel(OWNER, name)
    op = be.operations.get(OWNER, name)
    assert "error" not in op and op["response"]["value"] == 7


def test_cancelled_import_creates_nothing(tmp_path: Path) -> None:
    be = samfiles.new_backend(tmp_path, mode="manual")
    ds = be.datasets.create(OWNER, {"projectId": "p1"})["id"]
    samfiles.write_toy(tmp_path / "bk" / "a.bam")
    name = samfiles.run_import(be, ds, "gs://bk/a.bam")["name"]
    be.operations.cancel(OWNER, name)
    be.operations.complete(name)
    assert be.read_group_sets.search(OWNER, {"datasetIds": [ds]}) == {}


@pytest.mark.parametrize("call", ["get", "cancel"])
def test_unknown_operation_is_not_found(be: Backend, call: str) -> None:
    with pytest.raises(ApiError) as err:
        getattr(be.operations, call)(OWNER, "operations/nope")
    assert err.value.status == "NOT_FOUND" and "nope" in err.value.message


# -- list filter -------------------------------------------------------------------------------


def test_filter_parsing() -> None:
    assert parse_filter("projectId = p1") == {"projectId": "p1"}
    text = 'projectId=p1 AND createTime >= 100 AND createTime <= 200 AND status = FAILURE AND labels.e = "x"'
    assert parse_filter(text) == {
        "projectId": "p1",
        "createTimeMin": 100,
        "createTimeMax": 200,
        "status": "FAILURE",
        "labels": {"e": "x"},
    }


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "status = RUNNING",  # no project
        "projectId = p1 AND status = DONE",
        "projectId = p1 AND createTime >= yesterday",
        "projectId = p1 AND createTime = 5",
        "projectId = p1 OR status = RUNNING",
        "projectId = p1 AND name = x",
        "projectId = p1 AND status = RUNNING AND status = SUCCESS",
        "projectId",
    ],
)
def test_malformed_filter_is_400_naming_filter(text: str | None) -> None:
    with pytest.raises(ApiError) as err:
        parse_filter(text)
    assert err.value.status == "INVALID_ARGUMENT" and "filter" in err.value.message


def test_list_filters_by_project_status_time_and_labels(tmp_path: Path) -> None:
    clock = FakeClock()
    be = Backend(clock=clock, id_seed=3, storage_root=tmp_path)
    be.operations.mode = "manual"
    t0 = int(clock.now().timestamp())
    ok = start(be, labels={"env": "prod"})
    clock.advance(seconds=100)
    bad = start(be, fail=invalid_argument("x"), labels={"env": "dev"})
    clock.advance(seconds=100)
    cancelled = start(be)
    running = start(be)
    other = start(be, project="p2")
    be.operations.complete(ok)
    be.operations.complete(bad)
    be.operations.cancel(OWNER, cancelled)
    assert names(be, "projectId = p1") == [ok, bad, cancelled, running]
    assert names(be, "projectId = p2") == [other]
    assert names(be, "projectId = p1 AND status = SUCCESS") == [ok]
    assert names(be, "projectId = p1 AND status = FAILURE") == [bad]
    assert names(be, "projectId = p1 AND status = CANCELED") == [cancelled]
    assert names(be, "projectId = p1 AND status = RUNNING") == [running]
    assert names(be, f"projectId = p1 AND createTime >= {t0 + 50}") == [bad, cancelled, running]
    assert names(be, f"projectId = p1 AND createTime <= {t0 + 150}") == [ok, bad]
    assert names(be, "projectId = p1 AND labels.env = prod") == [ok]
    assert names(be, "projectId = p1 AND labels.env = *") == [ok, bad]


def test_list_pages(be: Backend) -> None:
    made = [start(be) for _ in range(5)]
    got, token = [], None
    while True:
        page = be.operations.list(OWNER, "projectId = p1", 2, token)
        got += [op["name"] for op in page["operations"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert got == made
    with pytest.raises(ApiError):
        be.operations.list(OWNER, "projectId = p1", 4096)
