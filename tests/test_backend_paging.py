"""The shared keyset paginator, driven through datasets.list and the annotation searches.

Invariants: whatever the page sizes, the concatenation of pages is the
unpaged order with no duplicate and no gap, and the last page has no
``nextPageToken``; a token is bound to its query and to its server.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.public_references import GRCH38
from mockserver.errors import ApiError

OWNER = DEFAULT_OWNER
PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

Fetch = Callable[[int, str | None], dict[str, Any]]


def walk(fetch: Fetch, item_key: str, sizes: list[int]) -> list[dict[str, Any]]:
    """Follow tokens with a page size drawn from ``sizes`` (cycled) for each page."""
    out: list[dict[str, Any]] = []
    token: str | None = None
    for page_number in range(10_000):
        size = sizes[page_number % len(sizes)]
        page = fetch(size, token)
        items = page.get(item_key, [])
        assert len(items) <= size
        out.extend(items)
        token = page.get("nextPageToken")
        if token is None:
            assert "nextPageToken" not in page
            return out
        assert len(items) == size, "only the last page may be short"
    raise AssertionError("paging did not terminate")


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def fresh() -> Backend:
    return Backend(clock=FakeClock(), id_seed=3)


def loaded_annotations(rows: list[tuple[str, int, int, int]]) -> tuple[Backend, list[str]]:
    backend = fresh()
    ds = backend.datasets.create(OWNER, {"projectId": "p"})["id"]
    # the reference names of NCBI and UCSC style mixed in one set, so their order is tested too
    names = backend.reference_sets.create([{"name": n, "length": 10**6} for n in ("1", "2", "X", "chr10")])
    sets = [
        backend.annotation_sets.create(
            OWNER, {"datasetId": ds, "referenceSetId": names["id"], "type": "GENE"}
        )["id"]
        for _ in range(3)
    ]
    for row in rows:
        add_row(backend, sets, row)
    return backend, sets


def add_row(backend: Backend, sets: list[str], row: tuple[str, int, int, int]) -> None:
    """One annotation: (reference name, start, length, which of the three sets)."""
    ref, start, length, which = row
    span = {"start": str(start), "end": str(start + length)}
    backend.annotations.create(OWNER, {"annotationSetId": sets[which], "referenceName": ref, **span})


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["1", "2", "X", "chr10"]), st.integers(0, 50), st.integers(0, 20), st.integers(0, 2)
    ),
    max_size=60,
)
SIZES = st.lists(st.integers(1, 9), min_size=1, max_size=4)


# -- annotations.search ---------------------------------------------------------------


@PROPERTY
@given(rows=ROWS, sizes=SIZES, by_reference=st.booleans())
def test_annotation_pages_concatenate_to_the_unpaged_order(
    rows: list[tuple[str, int, int, int]], sizes: list[int], by_reference: bool
) -> None:
    backend, sets = loaded_annotations(rows)
    query: dict[str, Any] = {"annotationSetIds": sets}
    if by_reference:
        query["referenceName"] = "2"

    def fetch(size: int, token: str | None) -> dict[str, Any]:
        return backend.annotations.search(OWNER, {**query, "pageSize": size, "pageToken": token})

    paged = walk(fetch, "annotations", sizes)
    unpaged = backend.annotations.search(OWNER, {**query, "pageSize": 2048})
    assert "nextPageToken" not in unpaged
    assert paged == unpaged.get("annotations", [])
    keys = [(a["referenceName"], int(a.get("start", "0")), a["id"]) for a in paged]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    wanted = [r for r in rows if not by_reference or r[0] == "2"]
    assert len(paged) == len(wanted)


@PROPERTY
@given(rows=ROWS, sizes=SIZES, split=st.integers(0, 60))
def test_annotations_created_during_paging_neither_repeat_nor_hide_others(
    rows: list[tuple[str, int, int, int]], sizes: list[int], split: int
) -> None:
    backend, sets = loaded_annotations(rows[:split])
    before = {r.id for r in backend.annotations.all_records()}
    late = iter(rows[split:])

    def fetch(size: int, token: str | None) -> dict[str, Any]:
        row = next(late, None)
        if row is not None:  # a writer races the reader
            add_row(backend, sets, row)
        return backend.annotations.search(
            OWNER, {"annotationSetIds": sets, "pageSize": size, "pageToken": token}
        )

    seen = walk(fetch, "annotations", sizes)
    ids = [a["id"] for a in seen]
    assert len(ids) == len(set(ids))
    keys = [(a["referenceName"], int(a.get("start", "0")), a["id"]) for a in seen]
    assert keys == sorted(keys)
    # everything present before paging started is returned (no gap)
    assert before <= set(ids)


# -- annotationsets.search and datasets.list ------------------------------------------


@PROPERTY
@given(count=st.integers(0, 40), sizes=SIZES, named=st.sampled_from([None, "a", "B"]))
def test_annotation_set_pages(count: int, sizes: list[int], named: str | None) -> None:
    backend = fresh()
    datasets = [backend.datasets.create(OWNER, {"projectId": "p"})["id"] for _ in range(2)]
    for i in range(count):
        backend.annotation_sets.create(
            OWNER, {"datasetId": datasets[i % 2], "referenceSetId": GRCH38, "name": "ab"[i % 2] + str(i)}
        )
    query: dict[str, Any] = {"datasetIds": datasets, "name": named}

    def fetch(size: int, token: str | None) -> dict[str, Any]:
        return backend.annotation_sets.search(OWNER, {**query, "pageSize": size, "pageToken": token})

    paged = walk(fetch, "annotationSets", sizes)
    assert paged == backend.annotation_sets.search(OWNER, {**query, "pageSize": 1024}).get(
        "annotationSets", []
    )
    assert [s["id"] for s in paged] == sorted({s["id"] for s in paged})


@PROPERTY
@given(count=st.integers(0, 40), sizes=SIZES, deleted=st.sets(st.integers(0, 39)))
def test_dataset_pages(count: int, sizes: list[int], deleted: set[int]) -> None:
    backend = fresh()
    created = [backend.datasets.create(OWNER, {"projectId": "p"})["id"] for _ in range(count)]
    backend.datasets.create(OWNER, {"projectId": "other"})
    for i in deleted:
        if i < count:
            backend.datasets.delete(OWNER, created[i])
    paged = walk(lambda size, token: backend.datasets.list(OWNER, "p", size, token), "datasets", sizes)
    live = sorted(d for i, d in enumerate(created) if i not in deleted)
    assert [d["id"] for d in paged] == live


# -- token binding --------------------------------------------------------------------


@pytest.fixture
def annotated() -> tuple[Backend, list[str], str]:
    backend, sets = loaded_annotations([("1", i, 1, i % 3) for i in range(10)])
    token = backend.annotations.search(OWNER, {"annotationSetIds": sets, "pageSize": 2})["nextPageToken"]
    return backend, sets, token


@pytest.mark.parametrize(
    "change",
    [
        {"referenceName": "1"},
        {"referenceName": "1", "start": "3"},
        {"annotationSetIds": "first-two"},
    ],
)
def test_token_reused_with_other_filters_is_400(
    annotated: tuple[Backend, list[str], str], change: Any
) -> None:
    backend, sets, token = annotated
    body: dict[str, Any] = {"annotationSetIds": sets, "pageToken": token, **change}
    if change.get("annotationSetIds") == "first-two":
        body["annotationSetIds"] = sets[:2]
    err = error(backend.annotations.search, OWNER, body)
    assert (err.code, err.status) == (400, "INVALID_ARGUMENT") and "invalid page token" in err.message


def test_token_is_not_valid_for_another_method(annotated: tuple[Backend, list[str], str]) -> None:
    backend, sets, token = annotated
    err = error(backend.datasets.list, OWNER, "p", 5, token)
    assert err.code == 400 and "invalid page token" in err.message


def test_token_order_of_set_ids_does_not_matter(annotated: tuple[Backend, list[str], str]) -> None:
    backend, sets, token = annotated
    page = backend.annotations.search(
        OWNER, {"annotationSetIds": sets[::-1], "pageToken": token, "pageSize": 2}
    )
    assert len(page["annotations"]) == 2


@PROPERTY
@given(position=st.integers(0, 200), replacement=st.characters(codec="ascii"))
def test_tampered_tokens_are_400(position: int, replacement: str) -> None:
    backend, sets = loaded_annotations([("1", i, 1, 0) for i in range(5)])
    token = backend.annotations.search(OWNER, {"annotationSetIds": sets, "pageSize": 1})["nextPageToken"]
    i = position % len(token)
    tampered = token[:i] + replacement + token[i + 1 :]
    if tampered == token:
        return
    err = error(backend.annotations.search, OWNER, {"annotationSetIds": sets, "pageToken": tampered})
    assert err.code == 400 and "invalid page token" in err.message


def test_forged_cursor_with_valid_shape_is_400(annotated: tuple[Backend, list[str], str]) -> None:
    backend, sets, token = annotated
    body, _, mac = token.partition(".")
    forged_payload = base64.urlsafe_b64encode(json.dumps(["n:1", 0, ""]).encode()).decode().rstrip("=")
    err = error(
        backend.annotations.search, OWNER, {"annotationSetIds": sets, "pageToken": f"{forged_payload}.{mac}"}
    )
    assert err.code == 400 and "invalid page token" in err.message


def test_token_from_another_server_is_400(annotated: tuple[Backend, list[str], str]) -> None:
    _backend, _sets, token = annotated
    other, other_sets = loaded_annotations([("1", i, 1, 0) for i in range(5)])
    err = error(other.annotations.search, OWNER, {"annotationSetIds": other_sets, "pageToken": token})
    assert err.code == 400 and "invalid page token" in err.message


@pytest.mark.parametrize("garbage", ["", "x", "....", "%%%", "a.b", "eyJ9.AAAA"])
def test_garbage_tokens(annotated: tuple[Backend, list[str], str], garbage: str) -> None:
    backend, sets, _token = annotated
    if garbage == "":  # empty means "first page"
        assert backend.annotations.search(OWNER, {"annotationSetIds": sets, "pageToken": ""})["annotations"]
        return
    err = error(backend.annotations.search, OWNER, {"annotationSetIds": sets, "pageToken": garbage})
    assert err.code == 400 and "invalid page token" in err.message


def test_tokens_differing_only_in_spare_base64_bits_are_400(
    annotated: tuple[Backend, list[str], str],
) -> None:
    # the last character of unpadded base64 carries unused bits: a different character there can
    # decode to the very same bytes, yet it is not the token the server issued
    backend, sets, token = annotated
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    body, _, mac = token.partition(".")
    variants = {f"{body[:-1]}{c}.{mac}" for c in alphabet} | {f"{body}.{mac[:-1]}{c}" for c in alphabet}
    variants.discard(token)
    for tampered in sorted(variants):
        err = error(backend.annotations.search, OWNER, {"annotationSetIds": sets, "pageToken": tampered})
        assert err.code == 400 and "invalid page token" in err.message, tampered


@pytest.mark.parametrize("length", [1, 32, 64, 65, 200])
def test_tokens_are_bound_to_secrets_of_any_length(length: int) -> None:
    from mockserver.backend.paging import PageTokens

    tokens, query = PageTokens(b"k" * length), {"annotationSetIds": ["1"]}
    token = tokens.encode("annotations.search", query, ["n:1", 5, "x"])
    assert tokens.decode(token, "annotations.search", query) == ["n:1", 5, "x"]
    for other in (PageTokens(b"k" * (length + 1)), PageTokens(b"j" + b"k" * (length - 1))):
        with pytest.raises(ApiError, match="invalid page token"):
            other.decode(token, "annotations.search", query)


@given(st.binary(max_size=80))
def test_token_parts_are_unpadded_url_safe_base64(data: bytes) -> None:
    from mockserver.backend.paging import _b64, _unb64

    assert _b64(data) == base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")
    assert _unb64(_b64(data)) == data


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "a", "0"]),
    st.sampled_from([[], ["a"], [0], {}, {"k": 1}, 0.0]),
)


@settings(max_examples=200, deadline=None)
@given(
    first=st.dictionaries(st.sampled_from(["a", "b", "pageSize", "page_token"]), JSON_LEAVES, max_size=4),
    second=st.dictionaries(st.sampled_from(["a", "b", "pageSize", "page_token"]), JSON_LEAVES, max_size=4),
)
def test_a_token_binds_exactly_the_set_filters_of_its_query(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """None, "", [] and {} leave a filter unset (and the paging fields bind nothing), while every
    other value binds the token, falsy ones (0, False, 0.0, "0") included."""
    from mockserver.backend.paging import PageTokens

    def filters(query: dict[str, Any]) -> str:
        unset = (None, "", [], {})
        kept = {k: v for k, v in query.items() if k in ("a", "b") and not any(
            v is u or (type(v) is type(u) and v == u) for u in unset)}
        return json.dumps(kept, sort_keys=True)

    tokens = PageTokens()
    token = tokens.encode("m", first, ["k", 1])
    if filters(first) == filters(second):
        assert tokens.decode(token, "m", second) == ["k", 1]
    else:
        with pytest.raises(ApiError):
            tokens.decode(token, "m", second)


# -- the token format is a saved-state contract -----------------------------------------------

GOLDEN_SECRET = b"golden-secret-0123456789abcdef!!"


def test_token_bytes_are_fixed_for_a_secret_query_and_cursor() -> None:
    """Tokens outlive a restart (the secret is saved with the state): the payload, the MAC input
    and their spelling must never change, or saved tokens stop working. Literals made by the
    code that first saved such tokens."""
    from mockserver.backend.paging import PageTokens

    tokens = PageTokens(GOLDEN_SECRET)
    by_name = {"annotationSetIds": ["s1", "s2"], "referenceName": "chr1", "referenceId": None,
               "start": 0, "end": 1000000}
    by_id = {"annotationSetIds": ["s1"], "referenceName": None, "referenceId": "ref-7", "start": 5,
             "end": None}
    issued = {
        "WyJuOmNocjEiLDE2NjMwLCJDMzJlS3hXdWY0SnY2NURDUCJd.9L3N8J0cQjDlvFV8OsIVTA":
            (by_name, ["n:chr1", 16630, "C32eKxWuf4Jv65DCP"]),
        "WyJpOnJlZi03Iiw5MjIzMzcyMDM2ODU0Nzc1ODA3LCJ4Il0.zXuWhHZYnzFMOZT30o6hWw":
            (by_id, ["i:ref-7", 2**63 - 1, "x"]),
    }
    for token, (query, cursor) in issued.items():
        assert tokens.encode("annotations.search", query, cursor) == token
        assert tokens.decode(token, "annotations.search", query) == cursor


def test_annotation_search_tokens_saved_earlier_still_page_on() -> None:
    """The search issues the very token strings it issued before (same ids, same secret), and a
    token from then still resumes where its page ended."""
    backend, sets = loaded_annotations([("1", i, 3, i % 3) for i in range(8)] + [("X", 4, 0, 1)])
    backend.pager.tokens.secret = GOLDEN_SECRET
    by_name = {"annotationSetIds": sets, "referenceName": "1", "start": "2", "pageSize": 3}
    one_set = {"annotationSetIds": sets[:1], "pageSize": 2}
    first = backend.annotations.search(OWNER, by_name)
    assert first["nextPageToken"] == "WyJuOjEiLDIsIkMzamczaENiUXVVU2loanBfIl0.am7MtGqpqsncrUOo0ZqqDg"
    assert backend.annotations.search(OWNER, one_set)["nextPageToken"] == (
        "WyJuOjEiLDMsIkNZOUxra0lYdk5ERHRBNDIwIl0.eAe1E940ev2c1wlj0JU6ug"
    )
    everything = backend.annotations.search(OWNER, {**by_name, "pageSize": 100})["annotations"]
    resumed = backend.annotations.search(
        OWNER, {**by_name, "pageToken": "WyJuOjEiLDIsIkMzamczaENiUXVVU2loanBfIl0.am7MtGqpqsncrUOo0ZqqDg"}
    )
    assert [a["id"] for a in first["annotations"] + resumed["annotations"]] == [
        a["id"] for a in everything[:6]
    ]
