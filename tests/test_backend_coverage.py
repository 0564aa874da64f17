"""coveragebuckets.list: depth equals pysam's, width ladder, sparse buckets, ranges, paging."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pysam
import pytest
import samfiles
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.backend import Backend
from mockserver.backend.coverage import WIDTHS, bucket_width
from mockserver.backend.principals import DEFAULT_OWNER as OWNER
from mockserver.errors import ApiError

REFS = (("chrA", 5000), ("chrB", 2500))


def setup(root: Path, recs: list[samfiles.Rec], refs=REFS) -> tuple[Backend, str, Path]:
    be = samfiles.new_backend(root)
    ds = be.datasets.create(OWNER, {"projectId": "p"})["id"]
    path = samfiles.write(root / "b" / "f.bam", recs, references=refs)
    pysam.index(str(path))
    (set_id,) = samfiles.run_import(be, ds, "gs://b/f.bam")["response"]["readGroupSetIds"]
    return be, set_id, path


def all_buckets(be: Backend, set_id: str, page: int = 2048, **kw: Any) -> tuple[list[dict], str | None]:
    got, token, width = [], None, None
    while True:
        resp = be.coverage.list_buckets(OWNER, set_id, page_size_value=page, page_token=token, **kw)
        got += resp.get("coverageBuckets", [])
        width = resp.get("bucketWidth")
        token = resp.get("nextPageToken")
        if not token:
            return got, width


def pysam_depth(path: Path, refs=REFS) -> dict[str, list[int]]:
    """Depth per base by pysam's count_coverage (skips unmapped/secondary/QC-fail/duplicate reads)."""
    out = {}
    with pysam.AlignmentFile(str(path)) as handle:
        for name, length in refs:
            counts = handle.count_coverage(name, 0, length, quality_threshold=0, read_callback="all")
            out[name] = [sum(c[i] for c in counts) for i in range(length)]
    return out


# -- property: buckets equal pysam's depth -------------------------------------------------

middle_ops = st.lists(st.tuples(st.sampled_from("MIDN=X"), st.integers(1, 400)), min_size=1, max_size=6)
clip = st.one_of(st.just(""), st.builds(lambda n, op: f"{n}{op}", st.integers(1, 20), st.sampled_from("SH")))


@st.composite
def alignment(draw: st.DrawFn, index: int) -> samfiles.Rec:
    ops = draw(middle_ops)
    if not any(op in "M=X" for op, _ in ops):
        ops.append(("M", draw(st.integers(1, 50))))
    cigar = draw(clip) + "".join(f"{n}{op}" for op, n in ops) + draw(clip)
    ref, length = draw(st.sampled_from(REFS))
    flag = draw(st.sampled_from([0, 16, 0x100, 0x200, 0x400, 0x800, 0x4]))
    pos = draw(st.integers(0, length - 1))
    if flag & 4:
        return samfiles.Rec(f"q{index}", flag)
    return samfiles.Rec(f"q{index}", flag, ref, pos, cigar)


@st.composite
def alignment_sets(draw: st.DrawFn) -> list[samfiles.Rec]:
    return [draw(alignment(i)) for i in range(draw(st.integers(1, 30)))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=alignment_sets(), window=st.tuples(st.integers(0, 4999), st.integers(1, 5000)))
def test_buckets_at_2048_equal_pysam_depth(recs: list[samfiles.Rec], window: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        be, set_id, path = setup(Path(tmp), recs)
        depth = pysam_depth(path)
        got, width = all_buckets(be, set_id, page=3, target_bucket_width="2048")
        a, b = window[0], min(window[0] + window[1], 5000)
        ranged, _ = all_buckets(
            be, set_id, reference_name="chrA", start=str(a), end=str(b), target_bucket_width="1"
        )
    assert width == "2048"
    expected = []
    for name, length in REFS:
        for lo in range(0, length, 2048):
            hi = min(lo + 2048, length)
            total = sum(depth[name][lo:hi])
            if total:
                expected.append((name, lo, hi, total / (hi - lo)))
    assert [_flat(x) for x in got] == pytest.approx(expected)
    expected_ranged = []
    for lo in range((a // 2048) * 2048, b, 2048):
        x, y = max(lo, a), min(lo + 2048, b)
        total = sum(depth["chrA"][x:y])
        if total:
            expected_ranged.append(("chrA", x, y, total / (y - x)))
    assert [_flat(x) for x in ranged] == pytest.approx(expected_ranged)


def _flat(bucket: dict[str, Any]) -> tuple:
    r = bucket["range"]
    return (r["referenceName"], int(r.get("start", "0")), int(r["end"]), bucket["meanCoverage"])


# -- rules -------------------------------------------------------------------------------------


def test_target_width_rounds_down_to_the_ladder() -> None:
    assert WIDTHS[:4] == (2048, 8192, 32768, 131072)
    assert bucket_width(None) is None and bucket_width(0) is None
    assert bucket_width(1) == 2048 and bucket_width(2047) == 2048 and bucket_width(8191) == 2048
    assert bucket_width(8192) == 8192 and bucket_width(40000) == 32768
    assert bucket_width(10**15) == WIDTHS[-1]


@pytest.fixture
def spread(tmp_path: Path) -> tuple[Backend, str]:
    recs = [
        samfiles.Rec("a", 0, "chrA", 0, "100M"),
        samfiles.Rec("b", 0, "chrA", 4500, "100M"),  # crosses into the last, shorter bucket
        samfiles.Rec("c", 0, "chrB", 2400, "50M"),
    ]
    be, set_id, _ = setup(tmp_path, recs)
    return be, set_id


def test_buckets_are_sparse_clipped_and_per_reference(spread: tuple[Backend, str]) -> None:
    be, set_id = spread
    got, width = all_buckets(be, set_id, target_bucket_width="2048")
    assert width == "2048"
    assert [_flat(b)[:3] for b in got] == [("chrA", 0, 2048), ("chrA", 4096, 5000), ("chrB", 2048, 2500)]
    assert got[1]["meanCoverage"] == pytest.approx(100 / 904)


def test_wider_buckets_sum_their_blocks(spread: tuple[Backend, str]) -> None:
    be, set_id = spread
    got, width = all_buckets(be, set_id, target_bucket_width="9000")
    assert width == "8192"
    assert [(_flat(b)[:3], round(b["meanCoverage"] * (_flat(b)[2] - _flat(b)[1]))) for b in got] == [
        (("chrA", 0, 5000), 200),
        (("chrB", 0, 2500), 50),
    ]


def test_default_width_is_whole_reference_or_requested_range(spread: tuple[Backend, str]) -> None:
    be, set_id = spread
    got, width = all_buckets(be, set_id)
    assert width is None and [_flat(b)[:3] for b in got] == [("chrA", 0, 5000), ("chrB", 0, 2500)]
    got, width = all_buckets(be, set_id, reference_name="chrA", start="50", end="4550")
    assert width == "4500"
    assert [_flat(b) for b in got] == [("chrA", 50, 4550, pytest.approx(100 / 4500))]


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"start": "5"}, "referenceName"),
        ({"end": "5"}, "referenceName"),
        ({"reference_name": "chrZ"}, "referenceName"),
        ({"reference_name": "chrA", "start": "x"}, "start"),
        ({"reference_name": "chrA", "start": "100", "end": "50"}, "start"),
        ({"target_bucket_width": "-1"}, "targetBucketWidth"),
        ({"page_size_value": 4096}, "pageSize"),
    ],
)
def test_bad_requests_name_the_field(spread: tuple[Backend, str], kw: dict, needle: str) -> None:
    be, set_id = spread
    with pytest.raises(ApiError) as err:
        be.coverage.list_buckets(OWNER, set_id, **kw)
    assert err.value.status == "INVALID_ARGUMENT" and needle in err.value.message


def test_unknown_set_is_not_found(spread: tuple[Backend, str]) -> None:
    be, _ = spread
    with pytest.raises(ApiError) as err:
        be.coverage.list_buckets(OWNER, "nope")
    assert err.value.status == "NOT_FOUND"


def test_pages_concatenate(spread: tuple[Backend, str]) -> None:
    be, set_id = spread
    whole, _ = all_buckets(be, set_id, target_bucket_width="2048")
    for size in (1, 2):
        assert all_buckets(be, set_id, page=size, target_bucket_width="2048")[0] == whole
