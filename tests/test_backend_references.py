"""Reference sets and references: checksums, internal API, get/search rules, paging."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from iam_spy import record_authorize

from mockserver.backend import DEFAULT_OWNER, Backend, Principal
from mockserver.backend.clock import FakeClock
from mockserver.backend.public_references import PUBLIC
from mockserver.backend.references import placeholder_md5, sequence_md5
from mockserver.errors import ApiError
from mockserver.snapshot import restore, snapshot

OWNER = DEFAULT_OWNER
ANYONE = Principal("user:nobody@example.com")
ANONYMOUS = Principal("anonymous")

#: paging loops stop here, so a cursor that never advances fails instead of hanging
MAX_PAGES = 1000


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.fixture
def backend() -> Backend:
    return Backend(clock=FakeClock(), id_seed=5)


@pytest.fixture
def grch(backend: Backend) -> dict[str, Any]:
    return backend.reference_sets.create(
        [
            {"name": "1", "length": 8, "bases": "acgt\nACGT", "sourceAccessions": ["CM000663.1"]},
            {"name": "2", "length": 4, "bases": "GGCC", "sourceAccessions": ["CM000664.2"]},
            {"name": "MT", "length": 16569},
        ],
        assembly_id="GRCh37",
        source_uri="ftp://example/grch37.fa",
        description="test assembly",
    )


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def refs_by_name(backend: Backend, reference_set: dict[str, Any]) -> dict[str, dict[str, Any]]:
    refs = [backend.references.require(i) for i in reference_set["referenceIds"]]
    return {r["name"]: r for r in refs}


# -- checksums and the stored shape ------------------------------------------------------


def test_reference_md5_is_of_the_upper_cased_whitespace_free_sequence(
    backend: Backend, grch: dict[str, Any]
) -> None:
    refs = refs_by_name(backend, grch)
    assert refs["1"]["md5checksum"] == md5("ACGTACGT")
    assert refs["2"]["md5checksum"] == md5("GGCC")
    assert backend.references.bases(refs["1"]["id"]) == "ACGTACGT"
    assert backend.references.bases(refs["MT"]["id"]) is None


def test_sequence_md5_ignores_case_and_whitespace() -> None:
    assert sequence_md5("ac gt\n\tNn") == md5("ACGTNN")


def test_reference_without_bases_or_md5_gets_a_stable_placeholder(
    backend: Backend, grch: dict[str, Any]
) -> None:
    mt = refs_by_name(backend, grch)["MT"]
    assert mt["md5checksum"] == placeholder_md5("MT", 16569) == md5("genomics-mock-placeholder:MT:16569")
    other = Backend()
    other_set = other.reference_sets.create([{"name": "MT", "length": 16569}])
    assert other.references.require(other_set["referenceIds"][0])["md5checksum"] == mt["md5checksum"]


def test_reference_set_md5_is_order_independent_md5_of_sorted_checksums(
    backend: Backend, grch: dict[str, Any]
) -> None:
    checksums = [r["md5checksum"] for r in refs_by_name(backend, grch).values()]
    assert grch["md5checksum"] == md5("".join(sorted(checksums)))
    shuffled = Backend().reference_sets.create(
        [
            {"name": "MT", "length": 16569},
            {"name": "2", "length": 4, "bases": "ggcc"},
            {"name": "1", "length": 8, "md5checksum": md5("ACGTACGT").upper()},
        ]
    )
    assert shuffled["md5checksum"] == grch["md5checksum"]


def test_shapes_follow_proto3_json(backend: Backend, grch: dict[str, Any]) -> None:
    assert set(grch) == {"id", "referenceIds", "md5checksum", "assemblyId", "sourceUri", "description"}
    one = refs_by_name(backend, grch)["1"]
    assert one == {
        "id": one["id"],
        "name": "1",
        "length": "8",
        "md5checksum": md5("ACGTACGT"),
        "sourceAccessions": ["CM000663.1"],
    }
    assert backend.reference_sets.get(OWNER, grch["id"]) == grch
    assert backend.references.get(OWNER, one["id"]) == one


@pytest.mark.parametrize(
    ("references", "named"),
    [
        ([], "references"),
        (["x"], "references[0]"),
        ([{"length": 3}], "references[0].name"),
        ([{"name": "a"}], "references[0].length"),
        ([{"name": "a", "length": -1}], "references[0].length"),
        ([{"name": "a", "length": 3, "bases": "ACGT"}], "references[0].bases"),
        ([{"name": "a", "length": 3, "md5checksum": "xyz"}], "references[0].md5checksum"),
        (
            [{"name": "a", "length": 4, "bases": "ACGT", "md5checksum": md5("TTTT")}],
            "references[0].md5checksum",
        ),
        ([{"name": "a", "length": 3}, {"name": "a", "length": 4}], "references[1].name"),
        (
            [{"name": "a", "length": 4, "bases": "ACGT"}, {"name": "b", "length": 4, "bases": "acgt"}],
            "references[1].md5checksum",
        ),
        ([{"name": "a", "length": 3, "ncbiTaxonId": "9606"}], "references[0].ncbiTaxonId"),
    ],
)
def test_create_reference_set_rejects_bad_input_and_stores_nothing(
    backend: Backend, references: list[Any], named: str
) -> None:
    err = error(backend.reference_sets.create, references)
    assert err.code == 400 and named in err.message
    empty = Backend()  # nothing but the built-in public sets
    assert backend.reference_sets.search(OWNER, {}) == empty.reference_sets.search(OWNER, {})
    assert backend.references.search(OWNER, {}) == empty.references.search(OWNER, {})


def test_length_accepts_int64_strings(backend: Backend) -> None:
    rs = backend.reference_sets.create([{"name": "1", "length": "249250621"}])
    assert backend.reference_sets.reference_by_name(rs["id"], "1")["length"] == "249250621"


def test_identical_references_are_shared_between_sets(backend: Backend, grch: dict[str, Any]) -> None:
    subset = backend.reference_sets.create(
        [{"name": "2", "length": 4, "md5checksum": md5("GGCC")}, {"name": "MT", "length": 16569}]
    )
    refs = refs_by_name(backend, grch)
    assert subset["referenceIds"][0] == refs["2"]["id"]  # same name, length and real checksum
    assert subset["referenceIds"][1] != refs["MT"]["id"]  # placeholders are never shared


def test_load_seed_keeps_given_ids(backend: Backend) -> None:
    [rs] = backend.reference_sets.load_seed(
        [
            {
                "id": "rs1",
                "assemblyId": "hg19",
                "ncbiTaxonId": 9606,
                "md5checksum": "ignored",
                "references": [{"id": "ref1", "name": "chr1", "length": "10", "ncbiTaxonId": 9606}],
            }
        ]
    )
    assert rs["id"] == "rs1" and rs["referenceIds"] == ["ref1"] and rs["ncbiTaxonId"] == 9606
    assert rs["md5checksum"] == md5(placeholder_md5("chr1", 10))
    assert backend.references.get(OWNER, "ref1")["ncbiTaxonId"] == 9606
    for bad in ({"id": "rs1", "references": [{"name": "x", "length": 1}]}, {"id": "a:b", "references": []}):
        assert error(backend.reference_sets.load_seed, [bad]).code == 400


# -- internal lookups -------------------------------------------------------------------


def test_require_and_lookup_helpers(backend: Backend, grch: dict[str, Any]) -> None:
    sets, refs = backend.reference_sets, backend.references
    assert sets.require(grch["id"]) == grch
    err = error(sets.require, "nope", field="referenceSetIds")
    assert err.code == 404 and "'nope'" in err.message and "referenceSetIds" in err.message
    assert sets.reference_names(grch["id"]) == {"1", "2", "MT"}
    assert sets.reference_by_name(grch["id"], "MT")["length"] == "16569"
    assert sets.reference_by_name(grch["id"], "X") is None
    assert error(refs.require, "nope").code == 404
    assert error(refs.bases, "nope").code == 404


def test_find_reference_set_for_a_header(backend: Backend, grch: dict[str, Any]) -> None:
    find = backend.reference_sets.find_for_header
    assert find([("1", 8, None), ("MT", 16569, None)]) == grch["id"]
    assert find([("1", 8, md5("ACGTACGT").upper())]) == grch["id"]
    assert find([("MT", 16569, md5("whatever"))]) == grch["id"]  # placeholder: md5 not comparable
    assert find([("1", 9, None)]) is None  # length differs
    assert find([("1", 8, md5("TTTTTTTT"))]) is None  # both checksums known and different
    assert find([("1", 8, None), ("3", 5, None)]) is None  # a name the set lacks
    assert find([]) is None


def test_find_prefers_the_set_with_exactly_the_header_names(backend: Backend, grch: dict[str, Any]) -> None:
    exact = backend.reference_sets.create([{"name": "1", "length": 8}, {"name": "2", "length": 4}])
    bigger = backend.reference_sets.create(
        [
            {"name": "1", "length": 8},
            {"name": "2", "length": 4},
            {"name": "3", "length": 1},
            {"name": "4", "length": 1},
        ]
    )
    assert backend.reference_sets.find_for_header([("1", 8, None), ("2", 4, None)]) == exact["id"]
    assert backend.reference_sets.find_for_header([("1", 8, None)]) == exact["id"]  # smallest cover
    assert backend.reference_sets.find_for_header([("3", 1, None), ("2", 4, None)]) == bigger["id"]
    assert backend.reference_sets.find_for_header([("MT", 16569, None)]) == grch["id"]


def test_resolve_fills_in_name_and_id_from_each_other(backend: Backend, grch: dict[str, Any]) -> None:
    resolve = backend.reference_sets.resolve
    refs = refs_by_name(backend, grch)
    mt = refs["MT"]["id"]
    assert resolve(grch["id"], "MT", None) == ("MT", mt, 16569)
    assert resolve(grch["id"], None, mt) == ("MT", mt, 16569)
    assert resolve(grch["id"], "1", refs["1"]["id"]) == ("1", refs["1"]["id"], 8)
    assert resolve("never-seen", "anything", "whatever") == ("anything", "whatever", None)  # not checked
    assert resolve(None, "anything", None) == ("anything", None, None)
    assert "referenceName" in error(resolve, grch["id"], "X", None).message
    other = backend.reference_sets.create([{"name": "X", "length": 3}])
    err = error(resolve, grch["id"], None, other["referenceIds"][0])
    assert err.code == 400 and "referenceId" in err.message
    err = error(resolve, grch["id"], "2", refs["1"]["id"])
    assert err.code == 400 and "referenceName" in err.message


# -- get / search over the API -----------------------------------------------------------


def test_get_unknown_is_404_naming_the_id(backend: Backend) -> None:
    err = error(backend.reference_sets.get, OWNER, "nope")
    assert err.code == 404 and "'nope'" in err.message and "referenceSetId" in err.message
    err = error(backend.references.get, OWNER, "nope")
    assert err.code == 404 and "referenceId" in err.message


@pytest.fixture
def three_sets(backend: Backend) -> dict[str, dict[str, Any]]:
    make = backend.reference_sets.create
    return {
        "grch37": make(
            [{"name": "1", "length": 4, "bases": "AAAA"}],
            assembly_id="GRCh37",
            source_accessions=["GCA_000001405.1"],
        ),
        "grch38": make(
            [{"name": "1", "length": 4, "bases": "CCCC"}],
            assembly_id="grch38.p7",
            source_accessions=["GCA_000001405.15", "GCF_000001405.26"],
        ),
        "mouse": make([{"name": "1", "length": 4, "bases": "GGGG"}], assembly_id="GRCm38"),
    }


def set_ids(backend: Backend, **query: Any) -> set[str]:
    """The ids a search finds, apart from the built-in public sets."""
    found = {s["id"] for s in backend.reference_sets.search(OWNER, query).get("referenceSets", [])}
    return found - set(PUBLIC.sets)


def test_search_reference_sets_filters(backend: Backend, three_sets: dict[str, dict[str, Any]]) -> None:
    ids = {k: v["id"] for k, v in three_sets.items()}
    assert set_ids(backend) == set(ids.values())
    assert set_ids(backend, md5checksums=[three_sets["mouse"]["md5checksum"]]) == {ids["mouse"]}
    assert set_ids(backend, md5checksums=[three_sets["mouse"]["md5checksum"].upper()]) == set()  # exact
    assert set_ids(backend, md5checksums=["0" * 32, three_sets["grch37"]["md5checksum"]]) == {ids["grch37"]}
    assert set_ids(backend, accessions=["GCA_000001405.1"]) == {ids["grch37"], ids["grch38"]}  # prefix
    assert set_ids(backend, accessions=["GCF", "nothing"]) == {ids["grch38"]}
    assert set_ids(backend, accessions=["000001405"]) == set()  # a prefix, not any substring
    assert set_ids(backend, assemblyId="GRCH3") == {ids["grch37"], ids["grch38"]}  # case-insensitive
    assert set_ids(backend, assemblyId="m38") == {ids["mouse"]}  # substring
    assert set_ids(backend, assemblyId="grch", accessions=["GCF"]) == {ids["grch38"]}  # filters AND


def test_search_references_filters(
    backend: Backend, three_sets: dict[str, dict[str, Any]], grch: dict[str, Any]
) -> None:
    def ids(**query: Any) -> set[str]:
        return {r["id"] for r in backend.references.search(OWNER, query).get("references", [])}

    assert ids(referenceSetId=grch["id"]) == set(grch["referenceIds"])
    assert ids(md5checksums=[md5("GGCC"), md5("AAAA")]) == {
        refs_by_name(backend, grch)["2"]["id"],
        three_sets["grch37"]["referenceIds"][0],
    }
    assert ids(accessions=["CM00066"]) == set(grch["referenceIds"][:2])
    assert ids(accessions=["CM00066"], referenceSetId=three_sets["mouse"]["id"]) == set()
    err = error(backend.references.search, OWNER, {"referenceSetId": "nope"})
    assert err.code == 404 and "referenceSetId" in err.message


@pytest.mark.parametrize("component", ["reference_sets", "references"])
def test_search_page_sizes(backend: Backend, component: str) -> None:
    backend.reference_sets.create([{"name": f"c{i}", "length": i} for i in range(1030)])
    for _ in range(1029):
        backend.reference_sets.create([{"name": "c0", "length": 0}])
    search = getattr(backend, component).search
    default = search(OWNER, {})
    assert len(next(iter(v for v in default.values() if isinstance(v, list)))) == 1024
    assert default["nextPageToken"]
    big = search(OWNER, {"pageSize": 4096})
    assert "nextPageToken" not in big
    for bad in (4097, -1, "10"):
        err = error(search, OWNER, {"pageSize": bad})
        assert err.code == 400 and "pageSize" in err.message


@pytest.mark.parametrize(
    ("field", "value"), [("md5checksums", "abc"), ("accessions", [1]), ("assemblyId", 5)]
)
def test_search_reference_sets_rejects_malformed_filters(backend: Backend, field: str, value: Any) -> None:
    err = error(backend.reference_sets.search, OWNER, {field: value})
    assert err.code == 400 and field in err.message


def test_search_token_is_bound_to_the_query(backend: Backend, three_sets: dict[str, dict[str, Any]]) -> None:
    token = backend.reference_sets.search(OWNER, {"assemblyId": "gr", "pageSize": 1})[
        "nextPageToken"
    ]
    err = error(backend.reference_sets.search, OWNER, {"assemblyId": "grc", "pageToken": token})
    assert err.code == 400 and "page token" in err.message
    err = error(backend.references.search, OWNER, {"pageToken": token})
    assert err.code == 400


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sets=st.lists(
        st.tuples(
            st.sampled_from(["GRCh37", "GRCh38", "hg19", "mm10", None]),
            st.lists(st.sampled_from(["NC_1.1", "NC_1.2", "NC_2", "GCF_9"]), max_size=2, unique=True),
            st.integers(1, 3),
        ),
        max_size=25,
    ),
    page_size=st.integers(1, 7),
    assembly=st.sampled_from([None, "grch", "19", "h3"]),
    accessions=st.sampled_from([[], ["NC_1"], ["NC_2", "GCF"]]),
    by_set=st.booleans(),
)
def test_reference_search_paging_concatenation_equals_unpaged(
    sets: list[tuple[str | None, list[str], int]],
    page_size: int,
    assembly: str | None,
    accessions: list[str],
    by_set: bool,
) -> None:
    backend = Backend(clock=FakeClock(), id_seed=9)
    for n, (assembly_id, accs, count) in enumerate(sets):
        backend.reference_sets.create(
            [{"name": f"r{n}-{i}", "length": i, "sourceAccessions": accs} for i in range(count)],
            assembly_id=assembly_id,
            source_accessions=accs,
        )
    set_query: dict[str, Any] = {"assemblyId": assembly, "accessions": accessions}
    first_set = backend.reference_sets.search(OWNER, {"pageSize": 1}).get("referenceSets")
    ref_query: dict[str, Any] = {"accessions": accessions}
    if by_set and first_set:
        ref_query["referenceSetId"] = first_set[0]["id"]
    for method, query, field in [
        (backend.reference_sets.search, set_query, "referenceSets"),
        (backend.references.search, ref_query, "references"),
    ]:
        unpaged = [r["id"] for r in method(OWNER, query).get(field, [])]
        paged, token = [], None
        for _ in range(MAX_PAGES):
            page = method(OWNER, {**query, "pageSize": page_size, "pageToken": token})
            assert len(page.get(field, [])) <= page_size
            paged += [r["id"] for r in page.get(field, [])]
            token = page.get("nextPageToken")
            if not token:
                break
        assert paged == unpaged and len(set(paged)) == len(paged)
        assert paged == sorted(paged)
    # the unpaged results are exactly what the filters select
    expected = {
        s["id"]
        for s in backend.reference_sets.search(OWNER, {"pageSize": 4096}).get("referenceSets", [])
        if (not assembly or assembly in s.get("assemblyId", "").lower())
        and (
            not accessions or any(a.startswith(p) for a in s.get("sourceAccessions", []) for p in accessions)
        )
    }
    assert {
        s["id"] for s in backend.reference_sets.search(OWNER, set_query).get("referenceSets", [])
    } == expected


# -- permissions ------------------------------------------------------------------------


def test_permissions_and_resources(backend: Backend, grch: dict[str, Any]) -> None:
    calls = record_authorize(backend)
    ref_id = grch["referenceIds"][0]
    backend.reference_sets.get(OWNER, grch["id"])
    backend.references.get(OWNER, ref_id)
    backend.reference_sets.search(OWNER, {})
    backend.references.search(OWNER, {"referenceSetId": grch["id"]})
    assert calls == [
        ("genomics.referenceSets.get", f"referenceSets/{grch['id']}"),
        ("genomics.references.get", f"references/{ref_id}"),
        ("genomics.referenceSets.list", "referenceSets/-"),
        ("genomics.references.list", "references/-"),
    ]


def test_reference_data_is_readable_by_any_authenticated_caller(
    backend: Backend, grch: dict[str, Any]
) -> None:
    assert backend.reference_sets.get(ANYONE, grch["id"]) == grch
    assert len(backend.references.search(ANYONE, {"referenceSetId": grch["id"]})["references"]) == 3


def test_reference_state_survives_a_snapshot_round_trip(backend: Backend, grch: dict[str, Any]) -> None:
    """The indexes (tuple-keyed sharing table, placeholder set, accession lists) restore intact."""
    shared = backend.reference_sets.create([{"name": "2", "length": 4, "bases": "GGCC"}])
    restored = Backend(clock=FakeClock())
    restore(restored, json.loads(json.dumps(snapshot(backend))))
    assert restored.reference_sets.get(OWNER, grch["id"]) == grch
    assert restored.references.search(OWNER, {"accessions": ["CM"]}) == backend.references.search(
        OWNER, {"accessions": ["CM"]}
    )
    assert restored.reference_sets.find_for_header([("MT", 16569, md5("x"))]) == grch["id"]  # placeholder
    again = restored.reference_sets.create([{"name": "2", "length": 4, "md5checksum": md5("GGCC")}])
    assert again["referenceIds"] == shared["referenceIds"]  # still shared after restore
