"""reads.search: required ids, overlap semantics, order, unmapped reads, paging."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import samfiles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.backend import Backend
from mockserver.backend.principals import DEFAULT_OWNER as OWNER
from mockserver.errors import ApiError


@pytest.fixture
def be(tmp_path: Path) -> Backend:
    return samfiles.new_backend(tmp_path / "storage")


@pytest.fixture
def ds(be: Backend) -> str:
    return be.datasets.create(OWNER, {"projectId": "proj"})["id"]


@pytest.fixture
def merged(be: Backend, ds: str) -> list[str]:
    """[set with read groups, set of read-group-less reads] from the toy file."""
    samfiles.write_toy(be.storage.root / "bk" / "a.bam")
    op = samfiles.run_import(be, ds, "gs://bk/a.bam", partitionStrategy="MERGE_ALL")
    return op["response"]["readGroupSetIds"]


def search(be: Backend, **body: Any) -> list[dict[str, Any]]:
    return be.reads.search(OWNER, body).get("alignments", [])


def key(read: dict[str, Any]) -> tuple:
    pos = read.get("alignment", {}).get("position")
    if pos is None:
        return ("~", read["fragmentName"])
    return (pos["referenceName"], int(pos.get("position", "0")))


def test_everything_ordered_by_reference_then_position_then_unmapped_by_name(
    be: Backend, merged: list[str]
) -> None:
    reads = search(be, readGroupSetIds=merged, pageSize=100)
    assert len(reads) == len(samfiles.toy_records())
    mapped = [r for r in reads if "alignment" in r]
    unmapped = [r for r in reads if "alignment" not in r]
    assert reads == mapped + unmapped
    assert [key(r) for r in mapped] == sorted(key(r) for r in mapped)
    assert [r["fragmentName"] for r in unmapped] == ["u0", "u1", "u2"]


def test_star_means_only_unmapped(be: Backend, merged: list[str]) -> None:
    reads = search(be, readGroupSetIds=merged, referenceName="*")
    assert [r["fragmentName"] for r in reads] == ["u0", "u1", "u2"]


def test_overlap_uses_the_cigar_reference_span(be: Backend, merged: list[str]) -> None:
    # r004 at 15 with 6M14N1I5M spans [15, 41): a window inside its N skip still overlaps it
    names = {
        r["fragmentName"] for r in search(be, readGroupSetIds=merged, referenceName="ref", start=30, end=31)
    }
    assert "r004" in names
    # r002 at 8 with 1S2I6M1P1I4M2I spans [8, 18): the window [18, 20) does not overlap it
    names = {
        r["fragmentName"] for r in search(be, readGroupSetIds=merged, referenceName="ref", start=18, end=20)
    }
    assert "r002" not in names and "r004" in names
    # half-open: a read starting at `end` is outside
    names = {
        r["fragmentName"] for r in search(be, readGroupSetIds=merged, referenceName="ref", start=0, end=8)
    }
    assert names == {"r001"}


def test_read_group_ids_filter_to_those_groups(be: Backend, merged: list[str]) -> None:
    groups = {g["name"]: g["id"] for g in be.read_group_sets.get(OWNER, merged[0])["readGroups"]}
    reads = search(be, readGroupIds=[groups["rgB2"]])
    assert {r["fragmentName"] for r in reads} == {"r003", "x2"}
    assert {r["readGroupId"] for r in reads} == {groups["rgB2"]}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "readGroupSetIds"),
        ({"readGroupSetIds": ["SET"], "start": "5"}, "referenceName"),
        ({"readGroupSetIds": ["SET"], "referenceName": "ref", "start": "x"}, "start"),
        ({"readGroupSetIds": ["SET"], "pageSize": 5000}, "pageSize"),
        ({"readGroupSetIds": ["missing"]}, "missing"),
    ],
)
def test_request_errors_name_the_field(be: Backend, merged: list[str], body: dict, needle: str) -> None:
    body = {k: ([merged[0]] if v == ["SET"] else v) for k, v in body.items()}
    with pytest.raises(ApiError) as err:
        be.reads.search(OWNER, body)
    assert needle in err.value.message


def test_read_groups_from_two_sets_are_rejected(be: Backend, merged: list[str]) -> None:
    ids = [be.read_group_sets.get(OWNER, s)["readGroups"][0]["id"] for s in merged]
    with pytest.raises(ApiError) as err:
        be.reads.search(OWNER, {"readGroupIds": ids})
    assert err.value.status == "INVALID_ARGUMENT" and "readGroupIds" in err.value.message


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_pages_concatenate_to_the_unpaged_result(be: Backend, merged: list[str], size: int) -> None:
    full = search(be, readGroupSetIds=merged, pageSize=2048)
    for body in ({}, {"referenceName": "ref2", "start": "10", "end": "30"}, {"referenceName": "*"}):
        expected = search(be, readGroupSetIds=merged, pageSize=2048, **body) if body else full
        got, token = [], None
        while True:
            page = be.reads.search(
                OWNER, {"readGroupSetIds": merged, "pageSize": size, "pageToken": token, **body}
            )
            got += page.get("alignments", [])
            token = page.get("nextPageToken")
            if not token:
                break
        assert got == expected


def test_page_token_is_bound_to_its_query(be: Backend, merged: list[str]) -> None:
    token = be.reads.search(OWNER, {"readGroupSetIds": merged, "pageSize": 1})["nextPageToken"]
    with pytest.raises(ApiError) as err:
        be.reads.search(OWNER, {"readGroupSetIds": merged, "referenceName": "ref", "pageToken": token})
    assert "page token" in err.value.message


# -- property: overlap search equals a brute-force filter ----------------------------------

cigar_ops = st.lists(st.tuples(st.sampled_from("MIDNSX="), st.integers(1, 30)), min_size=1, max_size=5)


@st.composite
def alignments(draw: st.DrawFn) -> list[samfiles.Rec]:
    recs = []
    for i in range(draw(st.integers(1, 25))):
        ops = draw(cigar_ops)
        if not any(op in "M=X" for op, _ in ops):
            ops.append(("M", 3))
        ref = draw(st.sampled_from(["ref", "ref2", None]))
        pos = draw(st.integers(0, 150))
        recs.append(
            samfiles.Rec(
                f"q{i}", 0 if ref else 4, ref, pos, "".join(f"{n}{op}" for op, n in ops) if ref else "10M"
            )
        )
    return recs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=alignments(), window=st.tuples(st.integers(0, 200), st.integers(1, 100)), size=st.integers(1, 9))
def test_overlap_property(recs: list[samfiles.Rec], window: tuple[int, int], size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        be = samfiles.new_backend(Path(tmp))
        ds = be.datasets.create(OWNER, {"projectId": "p"})["id"]
        refs = (("ref", 400), ("ref2", 400))
        samfiles.write(Path(tmp) / "b" / "f.bam", recs, references=refs)
        (set_id,) = samfiles.run_import(be, ds, "gs://b/f.bam")["response"]["readGroupSetIds"]
        start, length = window
        got, token = [], None
        while True:
            page = be.reads.search(
                OWNER,
                {"readGroupSetIds": [set_id], "referenceName": "ref", "start": str(start),
                 "end": str(start + length), "pageSize": size, "pageToken": token},
            )  # fmt: skip
            got += [r["fragmentName"] for r in page.get("alignments", [])]
            token = page.get("nextPageToken")
            if not token:
                break

    def span(rec: samfiles.Rec) -> int:
        total, number = 0, ""
        for ch in rec.cigar:
            if ch.isdigit():
                number += ch
            else:
                total += int(number) if ch in "MDN=X" else 0
                number = ""
        return max(total, 1)

    expected = sorted(
        (r.pos, r.name) for r in recs if r.ref == "ref" and r.pos < start + length and r.pos + span(r) > start
    )
    assert got == [name for _pos, name in expected]


def test_unsorted_input_is_stored_in_order(be: Backend, ds: str) -> None:
    recs = samfiles.toy_records()
    shuffled = recs[::-1]
    samfiles.write(be.storage.root / "bk" / "s.bam", recs, read_groups=samfiles.READ_GROUPS)
    samfiles.write(be.storage.root / "bk" / "u.bam", shuffled, read_groups=samfiles.READ_GROUPS, sort=False)
    sets = [
        samfiles.run_import(be, ds, f"gs://bk/{f}.bam", partitionStrategy="MERGE_ALL")["response"][
            "readGroupSetIds"
        ]
        for f in ("s", "u")
    ]

    def view(set_ids: list[str]) -> list[tuple]:
        return [(r["fragmentName"], key(r)) for r in search(be, readGroupSetIds=set_ids, pageSize=100)]

    assert sorted(view(sets[0])) == sorted(view(sets[1]))  # same reads
    assert [k for _n, k in view(sets[1])] == sorted(k for _n, k in view(sets[1]))  # in order
    # ties keep file order: r003 comes before r002 at ref:8 in the reversed file
    assert [n for n, k in view(sets[1]) if k == ("ref", 8)] == ["r003", "r002"]
