"""Pagination ordering: every list/search cuts one fixed sequence into pages.

For random contents and random page sizes: the pages concatenate to the same
sequence whatever the page size, in the documented order (annotations by
reference, then start), without duplicates or gaps, and ``nextPageToken`` is
absent on the last page. Page tokens are refused (400) when tampered with or
reused with other filters, and an item inserted behind the cursor while
paging neither repeats nor hides another item. variants.search is paged the
same way (by start on the searched reference, its ``callSetIds`` and ``maxCalls``
honoured); that check is skipped, with the reason, on a target without variants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from contracts.client import ApiClient, ContractViolation, expect
from contracts.core import Context, Suite, variant_body

SUITE = Suite("pagination", "pages concatenate to one ordered sequence; tokens bound to their query")

REFERENCES = ("chr1", "chr2", "chrX")
MAX_PAGES = 500

Fetch = Callable[[int, str | None], Any]


def annotation_specs(max_size: int = 24) -> st.SearchStrategy[list[tuple[str, int, int]]]:
    """(referenceName, start, length) triples; small ranges so that ties and overlaps are common."""
    one = st.tuples(st.sampled_from(REFERENCES), st.integers(0, 60), st.integers(0, 15))
    return st.lists(one, max_size=max_size)


def collect(fetch: Fetch, key: str, size: int, what: str) -> list[dict[str, Any]]:
    """All items, page by page; checks page sizes and the end-of-list token rule.

    A page may hold fewer items than asked, even none, and still carry a token; but the page
    that reaches the end of the list carries none (the only end-of-list signal the API has),
    so a token that leads to a final empty page was a token on the last page.
    """
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        body = fetch(size, token)
        page = body.get(key, [])
        if len(page) > size:
            raise ContractViolation(f"{what}: a page of pageSize={size} held {len(page)} items")
        items.extend(page)
        following = body.get("nextPageToken")
        if not following:
            if token is not None and not page and items:
                raise ContractViolation(
                    f"{what}: nextPageToken on the last page (pageSize={size}): the page it led to "
                    f"was empty and final, after {len(items)} items"
                )
            return items
        token = following
    raise ContractViolation(f"{what}: more than {MAX_PAGES} pages at pageSize={size} (a token loop?)")


def check_pages(ctx: Context, fetch: Fetch, key: str, sizes: list[int], what: str) -> list[dict[str, Any]]:
    """Page with every size; all sequences must be equal and free of duplicates."""
    reference: list[str] | None = None
    first: list[dict[str, Any]] = []
    for size in sizes:
        items = collect(fetch, key, size, what)
        ids = [str(item.get("id")) for item in items]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ContractViolation(f"{what}: id {dup!r} appears twice across pages at pageSize={size}")
        if reference is None:
            reference, first = ids, items
        elif ids != reference:
            raise ContractViolation(
                f"{what}: the sequence depends on pageSize: pageSize={sizes[0]} gave {reference}, "
                f"pageSize={size} gave {ids}"
            )
        ctx.checked(3)
    return first


def check_same_set(ids: list[str], expected: set[str], what: str) -> None:
    got = set(ids)
    if got != expected:
        missing, extra = expected - got, got - expected
        raise ContractViolation(
            f"{what}: pages do not hold exactly the matching items; missing {sorted(missing)}, "
            f"unexpected {sorted(extra)}"
        )


def check_annotation_order(items: list[dict[str, Any]], what: str) -> None:
    """By reference (each reference's annotations contiguous), then by start."""
    seen_refs: list[str] = []
    last_start = -1
    for item in items:
        ref = item.get("referenceName") or item.get("referenceId", "")
        start = int(item.get("start", "0"))
        if not seen_refs or seen_refs[-1] != ref:
            if ref in seen_refs:
                raise ContractViolation(f"{what}: annotations of reference {ref!r} are not contiguous")
            seen_refs.append(ref)
            last_start = -1
        if start < last_start:
            raise ContractViolation(f"{what}: on {ref!r}, start {start} comes after start {last_start}")
        last_start = start


#: explicit cases every run reaches (see ``Context.given``): several items, several per
#: reference with ties on start, paged at an even and an odd size smaller than the whole
SPREAD = [("chr1", 5, 3), ("chr2", 0, 10), ("chr1", 5, 1), ("chr1", 0, 4), ("chrX", 7, 2), ("chr2", 3, 0)]
EVEN_AND_ODD = [2, 3]


def page_sizes() -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(1, 9), min_size=2, max_size=3, unique=True)


def batch_annotations(ctx: Context, set_id: str, specs: list[tuple[str, int, int]]) -> list[dict[str, Any]]:
    if not specs:
        return []
    annotations = [
        {"annotationSetId": set_id, "referenceName": ref, "start": str(start), "end": str(start + length)}
        for ref, start, length in specs
    ]
    body = expect(
        ctx.writer.post("/v1/annotations:batchCreate", {"annotations": annotations}),
        200,
        rule="annotations.batchCreate with valid annotations",
    )
    created = [entry.get("annotation") for entry in body.get("entries", [])]
    if len(created) != len(specs) or not all(created):
        raise ContractViolation(f"annotations.batchCreate: not every valid entry was created: {body}")
    return created


def search_annotations(client: ApiClient, query: dict[str, Any]) -> Fetch:
    def fetch(size: int, token: str | None) -> Any:
        body = {**query, "pageSize": size, "pageToken": token}
        return expect(client.post("/v1/annotations/search", body), 200, rule="annotations.search")

    return fetch


@SUITE.check
def annotations_search_order(ctx: Context) -> None:
    """annotations.search: same sequence for every page size, ordered by reference then start."""
    ctx.covers("genomics.annotations.search", "genomics.annotations.batchCreate")
    dataset_id = ctx.new_dataset("pagination")

    @ctx.given(
        annotation_specs(),
        page_sizes(),
        st.one_of(st.none(), st.sampled_from(REFERENCES)),
        st.integers(0, 50),
        st.integers(1, 40),
        explicit=[(SPREAD, EVEN_AND_ODD, None, 0, 1), (SPREAD, EVEN_AND_ODD, "chr1", 0, 60)],
    )
    def run(specs: list[tuple[str, int, int]], sizes: list[int], ref: str | None, qs: int, span: int) -> None:
        set_id = ctx.new_annotation_set(dataset_id)["id"]
        created = batch_annotations(ctx, set_id, specs)
        query: dict[str, Any] = {"annotationSetIds": [set_id]}
        expected = {a["id"] for a in created}
        if ref is not None:
            qe = qs + span
            query.update(referenceName=ref, start=str(qs), end=str(qe))
            expected = {
                a["id"]
                for a, (r, s, length) in zip(created, specs, strict=True)
                if r == ref and s < qe and (s + length > qs or (length == 0 and s >= qs))
            }
        items = check_pages(
            ctx, search_annotations(ctx.writer, query), "annotations", sizes, "annotations.search"
        )
        check_annotation_order(items, "annotations.search")
        ids = [a["id"] for a in items]
        if ref is None:
            check_same_set(ids, expected, "annotations.search")
        else:
            # overlap rules for zero-length ranges differ between servers: require the certain matches
            certain = {
                a["id"]
                for a, (r, s, length) in zip(created, specs, strict=True)
                if r == ref and length > 0 and s < qs + span and s + length > qs
            }
            if not certain <= set(ids):
                raise ContractViolation(
                    f"annotations.search: overlapping annotations missing: {certain - set(ids)}"
                )
            if not set(ids) <= {a["id"] for a in created if a.get("referenceName") == ref}:
                raise ContractViolation("annotations.search: returned annotations of another reference")
        ctx.checked(2)

    run()


@SUITE.check
def datasets_list_pages(ctx: Context) -> None:
    """datasets.list: same sequence for every page size, every live dataset, no deleted one."""
    ctx.covers("genomics.datasets.list", "genomics.datasets.create", "genomics.datasets.delete")
    live: list[str] = []
    deleted: set[str] = set()

    @ctx.given(st.integers(0, 6), st.integers(0, 4), page_sizes(), explicit=[(5, 0, EVEN_AND_ODD)])
    def run(n: int, remove: int, sizes: list[int]) -> None:
        # deletions keep the project small however many examples run
        for dataset_id in live[:remove]:
            expect(ctx.writer.delete(f"/v1/datasets/{dataset_id}"), 200, rule="datasets.delete")
            deleted.add(dataset_id)
        del live[:remove]
        live.extend(ctx.new_dataset(f"d{i}") for i in range(n))

        def fetch(size: int, token: str | None) -> Any:
            return expect(
                ctx.writer.get("/v1/datasets", projectId=ctx.project, pageSize=size, pageToken=token),
                200,
                rule="datasets.list",
            )

        listed = {d["id"] for d in check_pages(ctx, fetch, "datasets", sizes, "datasets.list")}
        missing = set(live) - listed
        if missing:
            raise ContractViolation(f"datasets.list: live datasets missing from the pages: {sorted(missing)}")
        shown = deleted & listed
        if shown:
            raise ContractViolation(f"datasets.list: deleted datasets still listed: {sorted(shown)}")
        ctx.checked(2)

    run()


def shrink_to_limit(ctx: Context, created: dict[str, set[str]], remove: int, path: str) -> None:
    """Delete ``remove`` items (the smallest ids first) so contents stay small over many examples."""
    for _ in range(remove):
        owner = max(created, key=lambda k: len(created[k]))
        if not created[owner]:
            return
        item = min(created[owner])
        expect(ctx.writer.delete(f"{path}/{item}"), 200, rule=f"DELETE {path}/{{id}}")
        created[owner].discard(item)


@SUITE.check
def annotationsets_search_pages(ctx: Context) -> None:
    """annotationsets.search over several datasets: same sequence for every page size, no gap."""
    ctx.covers(
        "genomics.annotationsets.search", "genomics.annotationsets.create", "genomics.annotationsets.delete"
    )
    datasets = [ctx.new_dataset("pagination-a"), ctx.new_dataset("pagination-b")]
    created: dict[str, set[str]] = {d: set() for d in datasets}

    @ctx.given(
        st.lists(st.sampled_from([0, 1]), max_size=8),
        st.integers(0, 6),
        page_sizes(),
        st.sampled_from([[0], [1], [0, 1]]),
        explicit=[([0, 1, 0, 1, 0], 0, EVEN_AND_ODD, [0, 1])],
    )
    def run(where: list[int], remove: int, sizes: list[int], which: list[int]) -> None:
        shrink_to_limit(ctx, created, remove, "/v1/annotationsets")
        for i in where:
            created[datasets[i]].add(ctx.new_annotation_set(datasets[i])["id"])
        ids = [datasets[i] for i in which]

        def fetch(size: int, token: str | None) -> Any:
            body = {"datasetIds": ids, "pageSize": size, "pageToken": token}
            return expect(
                ctx.writer.post("/v1/annotationsets/search", body), 200, rule="annotationsets.search"
            )

        items = check_pages(ctx, fetch, "annotationSets", sizes, "annotationsets.search")
        expected = set().union(*(created[d] for d in ids))
        check_same_set([s["id"] for s in items], expected, "annotationsets.search")
        ctx.checked()

    run()


def tampered(token: str, how: int) -> str:
    """A different token derived from a real one (never equal to it)."""
    if how == 0:
        return token[:-1] if len(token) > 1 else token + "x"
    if how == 1:
        return token + "A"
    if how == 2:
        i = len(token) // 2
        return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]
    return token[::-1] if token[::-1] != token else token + "=="


@SUITE.check
def page_tokens_bound(ctx: Context) -> None:
    """Tampered tokens and tokens reused with other filters are 400 INVALID_ARGUMENT."""
    ctx.covers("genomics.annotations.search", "genomics.datasets.list", "genomics.annotationsets.search")
    dataset_id = ctx.new_dataset("tokens")
    other_dataset = ctx.new_dataset("tokens-other")
    set_a = ctx.new_annotation_set(dataset_id)["id"]
    set_b = ctx.new_annotation_set(dataset_id)["id"]
    ctx.new_annotation_set(other_dataset)
    specs = [(REFERENCES[i % 2], i * 3, 5) for i in range(6)]
    batch_annotations(ctx, set_a, specs)
    batch_annotations(ctx, set_b, specs)
    for i in range(3):
        ctx.new_dataset(f"tokens-{i}")

    def first_token(kind: str) -> tuple[str, Callable[[str, bool], Any]]:
        """A real nextPageToken and a way to reuse it (same query, or another filter)."""
        if kind == "annotations":
            base = {"annotationSetIds": [set_a], "pageSize": 2}
            token = expect(ctx.writer.post("/v1/annotations/search", base), 200)["nextPageToken"]
            other = {"annotationSetIds": [set_a, set_b], "pageSize": 2}

            def again1(tok: str, change: bool) -> Any:
                return ctx.writer.post(
                    "/v1/annotations/search", {**(other if change else base), "pageToken": tok}
                )

            return token, again1
        if kind == "annotations-range":
            base = {
                "annotationSetIds": [set_a],
                "referenceName": "chr1",
                "start": "0",
                "end": "100",
                "pageSize": 1,
            }
            token = expect(ctx.writer.post("/v1/annotations/search", base), 200)["nextPageToken"]

            def again2(tok: str, change: bool) -> Any:
                body = {**base, "start": "1"} if change else base
                return ctx.writer.post("/v1/annotations/search", {**body, "pageToken": tok})

            return token, again2
        if kind == "annotationsets":
            base = {"datasetIds": [dataset_id], "pageSize": 1}
            token = expect(ctx.writer.post("/v1/annotationsets/search", base), 200)["nextPageToken"]

            def again3(tok: str, change: bool) -> Any:
                body = {**base, "datasetIds": [dataset_id, other_dataset]} if change else base
                return ctx.writer.post("/v1/annotationsets/search", {**body, "pageToken": tok})

            return token, again3
        token = expect(ctx.writer.get("/v1/datasets", projectId=ctx.project, pageSize=1), 200)[
            "nextPageToken"
        ]

        def again4(tok: str, change: bool) -> Any:
            project = f"{ctx.project}-elsewhere" if change else ctx.project
            return ctx.writer.get("/v1/datasets", projectId=project, pageSize=1, pageToken=tok)

        return token, again4

    # the whole table, not a sample: 4 queries x (4 tamperings + 1 reuse with other filters)
    for kind in ("annotations", "annotations-range", "annotationsets", "datasets"):
        for how in range(5):
            ctx.recorder.clear()
            ctx.stats.cases += 1
            token, again = first_token(kind)
            expect(again(token, False), 200, rule=f"{kind}: a token reused with its own query is accepted")
            if how == 4:
                # datasets: the other filter is another project, which a project-scoped writer
                # may not list at all (403, whichever the server checks first)
                refusals = ctx.project_refusals() if kind == "datasets" else ()
                expect(
                    again(token, True),
                    400,
                    *refusals,
                    rule=f"{kind}: a page token reused with other filters must be rejected",
                )
            else:
                bad = tampered(token, how)
                expect(again(bad, False), 400, rule=f"{kind}: a tampered page token must be rejected")
            ctx.checked()


@SUITE.check
def insert_behind_cursor(ctx: Context) -> None:
    """An annotation inserted behind the cursor while paging neither repeats nor hides another."""
    ctx.covers("genomics.annotations.search", "genomics.annotations.create")
    dataset_id = ctx.new_dataset("cursor")

    # explicit: six annotations at page size 2, so the first page always has a token to follow
    @ctx.given(
        annotation_specs(max_size=16).filter(lambda s: len(s) >= 3),
        st.integers(1, 4),
        st.integers(0, 3),
        explicit=[(SPREAD, 2, 1)],
    )
    def run(specs: list[tuple[str, int, int]], size: int, new_end: int) -> None:
        set_id = ctx.new_annotation_set(dataset_id)["id"]
        created = batch_annotations(ctx, set_id, specs)
        fetch = search_annotations(ctx.writer, {"annotationSetIds": [set_id]})
        before = [a["id"] for a in collect(fetch, "annotations", size, "annotations.search")]
        first = fetch(size, None)
        seen = [a["id"] for a in first.get("annotations", [])]
        token = first.get("nextPageToken")
        if not token or not seen:
            return
        last = first["annotations"][-1]
        # insert an annotation that sorts before the cursor: same reference, start 0 (or equal start)
        ref = last.get("referenceName", REFERENCES[0])
        new = {
            "annotationSetId": set_id,
            "referenceName": ref,
            "start": "0",
            "end": str(new_end),
        }
        inserted = expect(ctx.writer.post("/v1/annotations", new), 200, rule="annotations.create")["id"]
        while token:
            page = fetch(size, token)
            seen.extend(a["id"] for a in page.get("annotations", []))
            token = page.get("nextPageToken")
        rest = [i for i in seen if i != inserted]
        if len(set(seen)) != len(seen):
            raise ContractViolation("annotations.search: an item repeated after an insert behind the cursor")
        if rest != before:
            raise ContractViolation(
                f"annotations.search: paging across an insert behind the cursor changed the other items: "
                f"before {before}, after {rest}"
            )
        ctx.checked(2)
        del created

    run()


@SUITE.check
def variant_and_call_sets_pages(ctx: Context) -> None:
    """variantsets.search and callsets.search: same sequence for every page size, no gap."""
    ctx.covers(
        "genomics.variantsets.search",
        "genomics.variantsets.create",
        "genomics.callsets.search",
        "genomics.callsets.create",
    )
    dataset_id = ctx.new_dataset("pagination-variants")
    first = expect(
        ctx.writer.post("/v1/variantsets", {"datasetId": dataset_id}), 200, rule="variantsets.create"
    )
    variant_sets = {first["id"]}
    call_sets: set[str] = set()

    @ctx.given(
        st.integers(0, 4),
        st.integers(0, 6),
        st.integers(0, 5),
        page_sizes(),
        explicit=[(4, 5, 0, EVEN_AND_ODD)],
    )
    def run(new_variant_sets: int, new_call_sets: int, remove: int, sizes: list[int]) -> None:
        kept = {"variantSets": variant_sets - {first["id"]}}
        shrink_to_limit(ctx, kept, remove // 2, "/v1/variantsets")
        variant_sets.intersection_update(kept["variantSets"] | {first["id"]})
        calls = {"callSets": call_sets}
        shrink_to_limit(ctx, calls, remove, "/v1/callsets")
        for _ in range(new_variant_sets):
            made = ctx.writer.post("/v1/variantsets", {"datasetId": dataset_id})
            variant_sets.add(expect(made, 200, rule="variantsets.create")["id"])
        for i in range(new_call_sets):
            body = {"variantSetIds": [first["id"]], "name": f"sample-{len(call_sets)}-{i}"}
            call_sets.add(expect(ctx.writer.post("/v1/callsets", body), 200, rule="callsets.create")["id"])

        def fetch_variant_sets(size: int, token: str | None) -> Any:
            body = {"datasetIds": [dataset_id], "pageSize": size, "pageToken": token}
            return expect(ctx.writer.post("/v1/variantsets/search", body), 200, rule="variantsets.search")

        def fetch_call_sets(size: int, token: str | None) -> Any:
            body = {"variantSetIds": [first["id"]], "pageSize": size, "pageToken": token}
            return expect(ctx.writer.post("/v1/callsets/search", body), 200, rule="callsets.search")

        items = check_pages(ctx, fetch_variant_sets, "variantSets", sizes, "variantsets.search")
        check_same_set([v["id"] for v in items], variant_sets, "variantsets.search")
        items = check_pages(ctx, fetch_call_sets, "callSets", sizes, "callsets.search")
        check_same_set([c["id"] for c in items], call_sets, "callsets.search")
        ctx.checked(2)

    run()


#: (referenceName, start, length, which of the two call sets hold a call): variants with
#: ties on start, some without calls, one on another reference
VARIANT_SPREAD = [
    ("chr1", 5, 3, (0,)),
    ("chr1", 5, 1, (1,)),
    ("chr1", 0, 4, (0, 1)),
    ("chr2", 7, 2, (1,)),
    ("chr1", 9, 1, ()),
    ("chr1", 2, 9, (0,)),
    ("chr1", 5, 2, (0, 1)),
]
VariantSpec = tuple[str, int, int, tuple[int, ...]]


def variant_specs(max_size: int = 12) -> st.SearchStrategy[list[VariantSpec]]:
    one = st.tuples(
        st.sampled_from(REFERENCES[:2]),
        st.integers(0, 40),
        st.integers(1, 10),
        st.sampled_from([(), (0,), (1,), (0, 1)]),
    )
    return st.lists(one, max_size=max_size)


def create_variants(ctx: Context, specs: list[VariantSpec]) -> tuple[str, list[str], list[tuple[Any, ...]]]:
    """A new variant set with two call sets holding ``specs``: (set id, call set ids, and per
    variant (id, reference, start, end, the call sets holding a call))."""
    dataset_id = ctx.new_dataset("pagination-variants")
    set_id, call_sets = ctx.new_variant_set(dataset_id, call_sets=2)
    created = []
    for reference, start, length, holders in specs:
        calls = {call_sets[i]: [0, 1] for i in holders}
        body = variant_body(set_id, reference, start, start + length, calls)
        made = expect(ctx.writer.post("/v1/variants", body), 200, rule="variants.create")
        created.append((made["id"], reference, start, start + length, {call_sets[i] for i in holders}))
    return set_id, call_sets, created


def check_variant_tokens(ctx: Context, query: dict[str, Any], other: dict[str, Any]) -> None:
    """A variants.search page token is opaque and bound to its query: accepted with it, 400
    when tampered with or sent with ``other`` filters."""
    first = expect(ctx.writer.post("/v1/variants/search", {**query, "pageSize": 1}), 200)
    token = first.get("nextPageToken")
    if not token:
        return
    again = {**query, "pageSize": 1}
    expect(
        ctx.writer.post("/v1/variants/search", {**again, "pageToken": token}),
        200,
        rule="variants.search: a token reused with its own query is accepted",
    )
    for how in range(4):
        expect(
            ctx.writer.post("/v1/variants/search", {**again, "pageToken": tampered(token, how)}),
            400,
            rule="variants.search: a tampered page token must be rejected",
        )
    expect(
        ctx.writer.post("/v1/variants/search", {**other, "pageSize": 1, "pageToken": token}),
        400,
        rule="variants.search: a page token reused with other filters must be rejected",
    )
    ctx.checked(2)


@SUITE.check
def variants_search_pages(ctx: Context) -> None:
    """variants.search: one sequence for every page size, ordered by start on the reference;
    exactly the overlapping variants; with callSetIds only those calls, and only variants
    holding one; a page over maxCalls only when it holds a single variant; tokens bound to
    their query. Skipped on a target without variants."""
    ctx.require_variants()
    ctx.covers("genomics.variants.search", "genomics.variants.create", "genomics.variantsets.create")

    @ctx.given(
        variant_specs(),
        page_sizes(),
        st.one_of(st.none(), st.tuples(st.integers(0, 40), st.integers(1, 30))),
        st.sampled_from([None, 0, 1]),
        st.integers(1, 4),
        explicit=[
            (VARIANT_SPREAD, EVEN_AND_ODD, None, None, 3),
            (VARIANT_SPREAD, EVEN_AND_ODD, (4, 3), 1, 1),
        ],
    )
    def run(
        specs: list[VariantSpec], sizes: list[int], window: Any, only: int | None, max_calls: int
    ) -> None:
        set_id, call_sets, created = create_variants(ctx, specs)
        query: dict[str, Any] = {"variantSetIds": [set_id], "referenceName": "chr1"}
        qs, qe = 0, None
        if window is not None:
            qs, qe = window[0], window[0] + window[1]
            query.update(start=str(qs), end=str(qe))
        wanted = set(call_sets)
        if only is not None:
            wanted = {call_sets[only]}
            query["callSetIds"] = [call_sets[only]]

        def fetch(size: int, token: str | None) -> Any:
            body = {**query, "pageSize": size, "pageToken": token, "maxCalls": max_calls}
            page = expect(ctx.writer.post("/v1/variants/search", body), 200, rule="variants.search")
            held = [len(v.get("calls", [])) for v in page.get("variants", [])]
            if len(held) > 1 and sum(held) > max_calls:
                raise ContractViolation(
                    f"variants.search: a page of {len(held)} variants holds {sum(held)} calls, over "
                    f"maxCalls={max_calls}"
                )
            return page

        items = check_pages(ctx, fetch, "variants", sizes, "variants.search")
        starts = [int(v.get("start", "0")) for v in items]
        if starts != sorted(starts) or any(v.get("referenceName") != "chr1" for v in items):
            placed = [(v.get("referenceName"), v.get("start")) for v in items]
            raise ContractViolation(f"variants.search: not by start on chr1 alone: {placed}")
        holding = {
            variant_id: holders & wanted
            for variant_id, reference, start, end, holders in created
            if reference == "chr1" and start < (qe if qe is not None else end) and end > qs
        }
        if only is not None:
            holding = {variant_id: calls for variant_id, calls in holding.items() if calls}
        check_same_set([v["id"] for v in items], set(holding), "variants.search")
        for v in items:
            calls = [c.get("callSetId") for c in v.get("calls", [])]
            if sorted(calls) != sorted(holding[v["id"]]):
                raise ContractViolation(
                    f"variants.search: variant {v['id']} answered the calls of {sorted(calls)}, "
                    f"not those of {sorted(holding[v['id']])}"
                    + (f" (callSetIds={query['callSetIds']})" if only is not None else "")
                )
        check_variant_tokens(ctx, query, {**query, "referenceName": "chr2"})
        ctx.checked(3)

    run()
