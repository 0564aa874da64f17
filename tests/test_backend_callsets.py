"""Call sets: create/get/patch/delete/search rules, visibility, permissions, paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iam_spy import record_authorize

from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.clock import FakeClock
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
VIEWER = Principal("user:viewer@example.com")
STRANGER = Principal("user:stranger@example.com")
START = datetime(2026, 1, 1, tzinfo=UTC)

#: paging loops stop here, so a cursor that never advances fails instead of hanging
MAX_PAGES = 1000


@pytest.fixture
def variant_set(backend: Backend, dataset: dict[str, Any]) -> dict[str, Any]:
    return backend.variant_sets.create(OWNER, {"datasetId": dataset["id"], "name": "vs"})


def make(backend: Backend, variant_set_id: str, **fields: Any) -> dict[str, Any]:
    return backend.call_sets.create(OWNER, {"variantSetIds": [variant_set_id], **fields})


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def search_ids(backend: Backend, variant_set_ids: list[str], **extra: Any) -> list[str]:
    result = backend.call_sets.search(OWNER, {"variantSetIds": variant_set_ids, **extra})
    return [c["id"] for c in result.get("callSets", [])]


# -- create ---------------------------------------------------------------------------


@pytest.mark.parametrize("ids", [None, [], "abc", [""], [5]])
def test_create_needs_one_variant_set_id(backend: Backend, ids: Any) -> None:
    err = error(backend.call_sets.create, OWNER, {"variantSetIds": ids, "name": "a"})
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT") and "variantSetIds" in err.message


def test_create_rejects_two_variant_sets(backend: Backend, dataset: dict[str, Any]) -> None:
    a = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})
    b = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})
    err = error(backend.call_sets.create, OWNER, {"variantSetIds": [a["id"], b["id"]]})
    assert err.code == 400 and "exactly one" in err.message and "variantSetIds" in err.message
    assert search_ids(backend, [a["id"], b["id"]]) == []


def test_create_unknown_variant_set_is_404_naming_variantsetids(backend: Backend) -> None:
    err = error(make, backend, "missing")
    assert err.code == 404 and "'missing'" in err.message and "variantSetIds" in err.message


def test_create_in_hidden_variant_set_is_404(
    backend: Backend, dataset: dict[str, Any], variant_set: dict[str, Any]
) -> None:
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(make, backend, variant_set["id"]).code == 404


def test_created_is_clock_millis_as_int64_string(
    backend: Backend, clock: FakeClock, variant_set: dict[str, Any]
) -> None:
    first = make(backend, variant_set["id"], created="5", id="mine")
    assert first["created"] == str(int(START.timestamp() * 1000)) == "1767225600000"
    assert first["id"] != "mine"
    clock.advance(seconds=1.5)
    second = make(backend, variant_set["id"])
    assert int(second["created"]) - int(first["created"]) == 1500


def test_create_stores_name_sample_and_info(backend: Backend, variant_set: dict[str, Any]) -> None:
    created = make(backend, variant_set["id"], name="NA12878", sampleId="S1", info={"k": ["v1", "v2"]})
    assert created["variantSetIds"] == [variant_set["id"]]
    assert (created["name"], created["sampleId"], created["info"]) == ("NA12878", "S1", {"k": ["v1", "v2"]})
    assert backend.call_sets.get(OWNER, created["id"]) == created


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": 1}, "name"),
        ({"sampleId": []}, "sampleId"),
        ({"info": []}, "info"),
        ({"info": {"k": "v"}}, "info.k"),
    ],
)
def test_create_validates_fields(
    backend: Backend, variant_set: dict[str, Any], fields: dict[str, Any], named: str
) -> None:
    err = error(make, backend, variant_set["id"], **fields)
    assert err.code == 400 and named in err.message
    assert search_ids(backend, [variant_set["id"]]) == []


# -- get / patch / delete --------------------------------------------------------------


def test_get_unknown_is_404_naming_the_id(backend: Backend) -> None:
    err = error(backend.call_sets.get, OWNER, "CSnope")
    assert err.code == 404 and "'CSnope'" in err.message and "callSetId" in err.message


def test_patch_updates_only_the_name(backend: Backend, variant_set: dict[str, Any]) -> None:
    cs = make(backend, variant_set["id"], name="a", sampleId="s")
    body = {"name": "b", "sampleId": "t", "created": "1", "variantSetIds": ["x"]}
    patched = backend.call_sets.patch(OWNER, cs["id"], body, None)
    assert patched == {**cs, "name": "b"}
    assert backend.call_sets.patch(OWNER, cs["id"], {"name": "c"}, "name")["name"] == "c"


@pytest.mark.parametrize("mask", ["sampleId", "info", "variantSetIds", "created", "name,sample_id"])
def test_patch_rejects_other_fields_naming_them(
    backend: Backend, variant_set: dict[str, Any], mask: str
) -> None:
    cs = make(backend, variant_set["id"], name="a")
    err = error(backend.call_sets.patch, OWNER, cs["id"], {"name": "b"}, mask)
    assert err.code == 400 and mask.split(",")[-1] in err.message
    assert backend.call_sets.get(OWNER, cs["id"])["name"] == "a"


def test_delete_removes_the_call_set(backend: Backend, variant_set: dict[str, Any]) -> None:
    cs = make(backend, variant_set["id"])
    other = make(backend, variant_set["id"])
    assert backend.call_sets.delete(OWNER, cs["id"]) == {}
    assert error(backend.call_sets.get, OWNER, cs["id"]).code == 404
    assert error(backend.call_sets.delete, OWNER, cs["id"]).code == 404
    assert search_ids(backend, [variant_set["id"]]) == [other["id"]]


def test_hidden_while_dataset_deleted_and_restored_on_undelete(
    backend: Backend, dataset: dict[str, Any], variant_set: dict[str, Any]
) -> None:
    cs = make(backend, variant_set["id"], name="a")
    backend.datasets.delete(OWNER, dataset["id"])
    assert error(backend.call_sets.get, OWNER, cs["id"]).code == 404
    assert error(backend.call_sets.patch, OWNER, cs["id"], {"name": "b"}, "name").code == 404
    assert error(backend.call_sets.delete, OWNER, cs["id"]).code == 404
    err = error(backend.call_sets.search, OWNER, {"variantSetIds": [variant_set["id"]]})
    assert err.code == 404 and "variantSetIds" in err.message
    backend.datasets.undelete(OWNER, dataset["id"])
    assert backend.call_sets.get(OWNER, cs["id"]) == cs


# -- search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{}, None, {"variantSetIds": []}, {"variantSetIds": "x"}, {"variantSetIds": [""]}]
)
def test_search_requires_variant_set_ids(backend: Backend, body: Any) -> None:
    err = error(backend.call_sets.search, OWNER, body)
    assert err.code == 400 and "variantSetIds" in err.message


def test_search_needs_every_variant_set_to_exist(backend: Backend, variant_set: dict[str, Any]) -> None:
    err = error(backend.call_sets.search, OWNER, {"variantSetIds": [variant_set["id"], "gone"]})
    assert err.code == 404 and "'gone'" in err.message and "variantSetIds" in err.message


def test_search_name_is_a_case_sensitive_substring(backend: Backend, variant_set: dict[str, Any]) -> None:
    ids = {
        name: make(backend, variant_set["id"], name=name)["id"] for name in ["NA12878", "na12878", "HG002"]
    }
    make(backend, variant_set["id"])  # unnamed: matches no non-empty name filter
    assert search_ids(backend, [variant_set["id"]], name="A128") == [ids["NA12878"]]
    assert search_ids(backend, [variant_set["id"]], name="12878") == sorted([ids["NA12878"], ids["na12878"]])
    assert search_ids(backend, [variant_set["id"]], name="hg") == []
    assert len(search_ids(backend, [variant_set["id"]], name="")) == 4


def test_search_spans_variant_sets_and_excludes_others(backend: Backend, dataset: dict[str, Any]) -> None:
    other_ds = backend.datasets.create(OWNER, {"projectId": "p2"})
    a = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})["id"]
    b = backend.variant_sets.create(OWNER, {"datasetId": other_ds["id"]})["id"]
    c = backend.variant_sets.create(OWNER, {"datasetId": dataset["id"]})["id"]
    in_a = [make(backend, a)["id"] for _ in range(3)]
    in_b = [make(backend, b)["id"] for _ in range(2)]
    make(backend, c)
    assert search_ids(backend, [a, b]) == sorted(in_a + in_b)
    assert search_ids(backend, [b, a, a]) == sorted(in_a + in_b)


def test_search_page_size_default_1024_and_silent_cap(backend: Backend, variant_set: dict[str, Any]) -> None:
    for _ in range(1030):
        make(backend, variant_set["id"])
    default = backend.call_sets.search(OWNER, {"variantSetIds": [variant_set["id"]]})
    assert len(default["callSets"]) == 1024 and default["nextPageToken"]
    big = backend.call_sets.search(OWNER, {"variantSetIds": [variant_set["id"]], "pageSize": 100000})
    assert len(big["callSets"]) == 1024
    rest = backend.call_sets.search(
        OWNER, {"variantSetIds": [variant_set["id"]], "pageToken": default["nextPageToken"]}
    )
    assert len(rest["callSets"]) == 6 and "nextPageToken" not in rest


@pytest.mark.parametrize("size", [-1, "10", 2.5])
def test_search_rejects_bad_page_size(backend: Backend, variant_set: dict[str, Any], size: Any) -> None:
    err = error(backend.call_sets.search, OWNER, {"variantSetIds": [variant_set["id"]], "pageSize": size})
    assert err.code == 400 and "pageSize" in err.message


def test_search_token_is_bound_to_the_query(backend: Backend, variant_set: dict[str, Any]) -> None:
    for name in ["a1", "a2", "a3"]:
        make(backend, variant_set["id"], name=name)
    query = {"variantSetIds": [variant_set["id"]], "name": "a", "pageSize": 1}
    token = backend.call_sets.search(OWNER, query)["nextPageToken"]
    err = error(backend.call_sets.search, OWNER, {**query, "name": "a1", "pageToken": token})
    assert err.code == 400 and "page token" in err.message
    assert error(backend.call_sets.search, OWNER, {**query, "pageToken": token[:-2] + "xx"}).code == 400


def test_new_call_set_behind_the_cursor_is_neither_repeated_nor_hidden(
    backend: Backend, variant_set: dict[str, Any]
) -> None:
    for _ in range(6):
        make(backend, variant_set["id"])
    query = {"variantSetIds": [variant_set["id"]], "pageSize": 3}
    first = backend.call_sets.search(OWNER, query)
    for _ in range(4):
        make(backend, variant_set["id"])
    cursor = first["callSets"][-1]["id"]
    rest, token = [], first["nextPageToken"]
    for _ in range(MAX_PAGES):
        if not token:
            break
        page = backend.call_sets.search(OWNER, {**query, "pageToken": token})
        rest += [c["id"] for c in page["callSets"]]
        token = page.get("nextPageToken")
    assert rest == [i for i in search_ids(backend, [variant_set["id"]]) if i > cursor]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.sampled_from(["a", "ab", "b", "", "Ab"]), max_size=40),
    owners=st.lists(st.integers(0, 2), min_size=40, max_size=40),
    page_size=st.integers(1, 12),
    name_filter=st.sampled_from([None, "a", "b", "A"]),
    queried=st.sets(st.integers(0, 2), min_size=1),
)
def test_paging_concatenation_equals_unpaged_order(
    names: list[str], owners: list[int], page_size: int, name_filter: str | None, queried: set[int]
) -> None:
    backend = Backend(clock=FakeClock(), id_seed=3)
    ds = backend.datasets.create(OWNER, {"projectId": "p"})["id"]
    sets = [backend.variant_sets.create(OWNER, {"datasetId": ds})["id"] for _ in range(3)]
    created = [make(backend, sets[owner], name=name) for name, owner in zip(names, owners, strict=False)]
    query: dict[str, Any] = {"variantSetIds": [sets[i] for i in sorted(queried)], "name": name_filter}
    unpaged = search_ids(backend, query["variantSetIds"], name=name_filter)
    paged, token, pages = [], None, 0
    for _ in range(MAX_PAGES):
        page = backend.call_sets.search(OWNER, {**query, "pageSize": page_size, "pageToken": token})
        assert len(page.get("callSets", [])) <= page_size
        paged += [c["id"] for c in page.get("callSets", [])]
        token, pages = page.get("nextPageToken"), pages + 1
        if not token:
            break
    assert paged == unpaged  # same order, no duplicate, no gap
    expected = {
        c["id"]
        for c, owner in zip(created, owners, strict=False)
        if owner in queried and (not name_filter or name_filter in c.get("name", ""))
    }
    assert len(paged) == len(set(paged)) and set(paged) == expected
    assert pages == max(1, -(-len(expected) // page_size))


# -- permissions ----------------------------------------------------------------------


def test_each_method_checks_its_permission_on_the_variant_sets_dataset(
    backend: Backend, dataset: dict[str, Any], variant_set: dict[str, Any]
) -> None:
    calls = record_authorize(backend)
    cs = make(backend, variant_set["id"])
    backend.call_sets.get(OWNER, cs["id"])
    backend.call_sets.patch(OWNER, cs["id"], {"name": "n"}, "name")
    backend.call_sets.search(OWNER, {"variantSetIds": [variant_set["id"]]})
    backend.call_sets.delete(OWNER, cs["id"])
    resource = f"datasets/{dataset['id']}"
    assert calls == [
        (f"genomics.callSets.{v}", resource) for v in ["create", "get", "update", "list", "delete"]
    ]


def test_search_checks_every_dataset(
    backend: Backend, dataset: dict[str, Any], variant_set: dict[str, Any]
) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    elsewhere = backend.datasets.create(OWNER, {"projectId": "p2"})
    foreign = backend.variant_sets.create(OWNER, {"datasetId": elsewhere["id"]})
    assert backend.call_sets.search(VIEWER, {"variantSetIds": [variant_set["id"]]}) == {}
    err = error(backend.call_sets.search, VIEWER, {"variantSetIds": [variant_set["id"], foreign["id"]]})
    assert err.code == 404 and foreign["id"] in err.message  # no access at all: looks unknown


def test_viewer_reads_but_cannot_write(backend: Backend, variant_set: dict[str, Any]) -> None:
    backend.iam.add_project_binding("p1", "roles/genomics.viewer", VIEWER.member)
    cs = make(backend, variant_set["id"], name="a")
    assert backend.call_sets.get(VIEWER, cs["id"]) == cs
    assert error(backend.call_sets.create, VIEWER, {"variantSetIds": [variant_set["id"]]}).code == 403
    assert error(backend.call_sets.patch, VIEWER, cs["id"], {"name": "b"}, "name").code == 403
    assert error(backend.call_sets.delete, VIEWER, cs["id"]).code == 403
    assert search_ids(backend, [variant_set["id"]]) == [cs["id"]]
    assert backend.call_sets.get(OWNER, cs["id"])["name"] == "a"


def test_caller_without_access_sees_the_unknown_id_error(
    backend: Backend, variant_set: dict[str, Any]
) -> None:
    cs = make(backend, variant_set["id"])
    hidden = error(backend.call_sets.get, STRANGER, cs["id"])
    unknown = error(backend.call_sets.get, STRANGER, "CSunknown")
    assert hidden.code == unknown.code == 404
    assert hidden.message == unknown.message.replace("CSunknown", cs["id"])
