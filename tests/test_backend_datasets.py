"""Datasets: create/get/list/patch/delete/undelete, the 7-day window, paging, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.clock import FakeClock
from mockserver.backend.datasets import UNDELETE_WINDOW
from mockserver.backend.public_references import GRCH38
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
VIEWER = Principal("user:viewer@example.com")
STRANGER = Principal("user:stranger@example.com")
START = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def list_all(backend: Backend, project: str, size: int | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    for _ in range(10_000):  # bounded: a cursor that never advances fails, not hangs
        page = backend.datasets.list(OWNER, project, size, token)
        out.extend(page.get("datasets", []))
        token = page.get("nextPageToken")
        if not token:
            return out
    raise AssertionError("paging did not terminate")


# -- create / get ---------------------------------------------------------------------


def test_create_returns_dataset_with_server_fields(backend: Backend) -> None:
    created = backend.datasets.create(
        OWNER, {"projectId": "p1", "name": "ds", "id": "mine", "createTime": "x"}
    )
    assert created == {
        "id": created["id"],
        "projectId": "p1",
        "name": "ds",
        "createTime": "2026-03-01T12:00:00.250Z",
    }
    assert created["id"] != "mine" and created["id"].isdigit()
    assert backend.datasets.get(OWNER, created["id"]) == created


def test_create_name_is_optional_and_omitted(backend: Backend) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1"})
    assert "name" not in created


@pytest.mark.parametrize("body", [{}, {"projectId": ""}, {"name": "x"}])
def test_create_requires_project_id(backend: Backend, body: dict[str, Any]) -> None:
    err = error(backend.datasets.create, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT") and "projectId" in err.message


def test_ids_are_unique(backend: Backend) -> None:
    ids = {backend.datasets.create(OWNER, {"projectId": "p"})["id"] for _ in range(200)}
    assert len(ids) == 200


def test_get_unknown_is_404_naming_id(backend: Backend) -> None:
    err = error(backend.datasets.get, OWNER, "424242")
    assert (err.code, err.status) == (404, "NOT_FOUND") and "'424242'" in err.message


def test_get_returns_a_copy(backend: Backend) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
    created["name"] = "changed"
    assert backend.datasets.get(OWNER, created["id"])["name"] == "a"


# -- list -----------------------------------------------------------------------------


def test_list_requires_project_id(backend: Backend) -> None:
    for project in (None, ""):
        err = error(backend.datasets.list, OWNER, project)
        assert err.code == 400 and "projectId" in err.message


def test_list_only_that_projects_live_datasets(backend: Backend) -> None:
    mine = [backend.datasets.create(OWNER, {"projectId": "p1"}) for _ in range(3)]
    backend.datasets.create(OWNER, {"projectId": "p2"})
    backend.datasets.delete(OWNER, mine[1]["id"])
    assert list_all(backend, "p1") == sorted([mine[0], mine[2]], key=lambda d: d["id"])
    assert backend.datasets.list(OWNER, "nobody") == {}


def test_list_paging_default_max_and_tokens(backend: Backend) -> None:
    created = [backend.datasets.create(OWNER, {"projectId": "p1"}) for _ in range(60)]
    first = backend.datasets.list(OWNER, "p1")
    assert len(first["datasets"]) == 50 and first["nextPageToken"]
    rest = backend.datasets.list(OWNER, "p1", None, first["nextPageToken"])
    assert len(rest["datasets"]) == 10 and "nextPageToken" not in rest
    assert [d["id"] for d in first["datasets"] + rest["datasets"]] == sorted(d["id"] for d in created)
    assert list_all(backend, "p1", 7) == first["datasets"] + rest["datasets"]
    assert len(backend.datasets.list(OWNER, "p1", 1024)["datasets"]) == 60
    err = error(backend.datasets.list, OWNER, "p1", 1025)
    assert err.code == 400 and "pageSize" in err.message
    err = error(backend.datasets.list, OWNER, "p2", None, first["nextPageToken"])
    assert err.code == 400 and "invalid page token" in err.message


# -- patch ----------------------------------------------------------------------------


def test_patch_name(backend: Backend) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
    patched = backend.datasets.patch(OWNER, created["id"], {"name": "b", "projectId": "evil"}, "name")
    assert patched == {**created, "name": "b"}
    assert backend.datasets.get(OWNER, created["id"]) == patched
    # no mask: every mutable field (only name)
    assert backend.datasets.patch(OWNER, created["id"], {"name": "c"}, None)["name"] == "c"
    cleared = backend.datasets.patch(OWNER, created["id"], {}, "name")
    assert "name" not in cleared


@pytest.mark.parametrize("mask", ["projectId", "id", "createTime", "name,projectId", "project_id"])
def test_patch_other_fields_are_400(backend: Backend, mask: str) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
    err = error(backend.datasets.patch, OWNER, created["id"], {"projectId": "x", "name": "b"}, mask)
    assert err.code == 400 and "updateMask" in err.message
    assert backend.datasets.get(OWNER, created["id"]) == created


def test_patch_unknown_or_deleted_is_404(backend: Backend) -> None:
    assert error(backend.datasets.patch, OWNER, "1", {"name": "x"}, "name").code == 404
    created = backend.datasets.create(OWNER, {"projectId": "p1"})
    backend.datasets.delete(OWNER, created["id"])
    assert error(backend.datasets.patch, OWNER, created["id"], {"name": "x"}, "name").code == 404


# -- delete / undelete ----------------------------------------------------------------


def test_delete_hides_and_undelete_restores(backend: Backend, clock: FakeClock) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
    assert backend.datasets.delete(OWNER, created["id"]) == {}
    assert error(backend.datasets.get, OWNER, created["id"]).code == 404
    assert list_all(backend, "p1") == []
    clock.advance(days=6, hours=23)
    assert backend.datasets.undelete(OWNER, created["id"]) == created
    assert backend.datasets.get(OWNER, created["id"]) == created
    assert list_all(backend, "p1") == [created]


def test_delete_twice_is_404(backend: Backend) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1"})
    backend.datasets.delete(OWNER, created["id"])
    err = error(backend.datasets.delete, OWNER, created["id"])
    assert (err.code, err.status) == (404, "NOT_FOUND")


def test_undelete_live_is_failed_precondition(backend: Backend) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1"})
    err = error(backend.datasets.undelete, OWNER, created["id"])
    assert (err.code, err.status) == (400, "FAILED_PRECONDITION")
    assert error(backend.datasets.undelete, OWNER, "999").code == 404


def test_undelete_window_is_seven_days(backend: Backend, clock: FakeClock) -> None:
    assert UNDELETE_WINDOW == timedelta(days=7)
    edge = backend.datasets.create(OWNER, {"projectId": "p1"})
    late = backend.datasets.create(OWNER, {"projectId": "p1"})
    backend.datasets.delete(OWNER, edge["id"])
    backend.datasets.delete(OWNER, late["id"])
    clock.advance(days=7)
    assert backend.datasets.undelete(OWNER, edge["id"]) == edge  # exactly 7 days: still allowed
    clock.advance(seconds=1)
    err = error(backend.datasets.undelete, OWNER, late["id"])
    assert err.code == 404 and "7 days" in err.message
    clock.advance(days=30)
    assert error(backend.datasets.undelete, OWNER, late["id"]).code == 404
    assert error(backend.datasets.get, OWNER, late["id"]).code == 404


def test_redelete_after_undelete_restarts_the_window(backend: Backend, clock: FakeClock) -> None:
    created = backend.datasets.create(OWNER, {"projectId": "p1"})
    backend.datasets.delete(OWNER, created["id"])
    clock.advance(days=5)
    backend.datasets.undelete(OWNER, created["id"])
    backend.datasets.delete(OWNER, created["id"])
    clock.advance(days=5)
    assert backend.datasets.undelete(OWNER, created["id"]) == created


def test_contents_follow_the_dataset(backend: Backend, clock: FakeClock) -> None:
    ds = backend.datasets.create(OWNER, {"projectId": "p1"})["id"]
    set_id = backend.annotation_sets.create(OWNER, {"datasetId": ds, "referenceSetId": GRCH38})["id"]
    backend.datasets.delete(OWNER, ds)
    assert error(backend.annotation_sets.get, OWNER, set_id).code == 404
    backend.datasets.undelete(OWNER, ds)
    assert backend.annotation_sets.get(OWNER, set_id)["id"] == set_id
    backend.datasets.delete(OWNER, ds)
    clock.advance(days=8)
    assert error(backend.datasets.undelete, OWNER, ds).code == 404
    assert error(backend.annotation_sets.get, OWNER, set_id).code == 404


# -- permissions ----------------------------------------------------------------------


def test_permissions(backend: Backend) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    created = backend.datasets.create(OWNER, {"projectId": "p1", "name": "a"})
    assert backend.datasets.get(VIEWER, created["id"]) == created
    assert backend.datasets.list(VIEWER, "p1")["datasets"] == [created]
    err = error(backend.datasets.patch, VIEWER, created["id"], {"name": "x"}, "name")
    assert err.code == 403 and "genomics.datasets.update" in err.message
    err = error(backend.datasets.delete, VIEWER, created["id"])
    assert err.code == 403 and "genomics.datasets.delete" in err.message
    assert error(backend.datasets.create, VIEWER, {"projectId": "p1"}).code == 403
    hidden = error(backend.datasets.get, STRANGER, created["id"])
    unknown = error(backend.datasets.get, OWNER, "31337")
    assert hidden.code == 404 and hidden.message == unknown.message.replace("31337", created["id"])
    assert error(backend.datasets.list, STRANGER, "p1").code == 403
