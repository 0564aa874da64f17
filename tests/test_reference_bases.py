"""references.bases.list: inline and FASTA bases, ranges, paging, real checksums, errors."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.public_references import PUBLIC
from mockserver.errors import ApiError
from mockserver.seed import SeedError, load_seed

OWNER = DEFAULT_OWNER
rng = random.Random(5)
SEQUENCE = "".join(rng.choice("ACGTN") for _ in range(1000))


@pytest.fixture
def reference(backend: Backend) -> dict[str, Any]:
    created = backend.reference_sets.create([{"name": "chr1", "length": len(SEQUENCE), "bases": SEQUENCE}])
    return backend.references.get(OWNER, created["referenceIds"][0])


def bases(backend: Backend, reference_id: str, **query: Any) -> dict[str, Any]:
    return backend.references.bases_list(
        OWNER,
        reference_id,
        query.get("start"),
        query.get("end"),
        query.get("pageSize"),
        query.get("pageToken"),
    )


def error(call, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args, **kwargs)
    return info.value


def read_all(backend: Backend, reference_id: str, **query: Any) -> tuple[str, list[int]]:
    sequence, offsets, token = "", [], None
    for _ in range(10_000):
        page = bases(backend, reference_id, pageToken=token, **query)
        offsets.append(int(page.get("offset", "0")))
        sequence += page.get("sequence", "")
        token = page.get("nextPageToken")
        if not token:
            return sequence, offsets
    raise AssertionError("paging did not end")


def test_whole_reference_by_default(backend: Backend, reference) -> None:
    page = bases(backend, reference["id"])
    assert page == {"sequence": SEQUENCE}  # offset 0 is the proto3 default, left out
    assert reference["md5checksum"] == hashlib.md5(SEQUENCE.encode()).hexdigest()


def test_pages_carry_their_offset(backend: Backend, reference) -> None:
    sequence, offsets = read_all(backend, reference["id"], start="100", end="350", pageSize=100)
    assert sequence == SEQUENCE[100:350]
    assert offsets == [100, 200, 300]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=st.integers(0, 1000), length=st.integers(0, 1000), size=st.integers(1, 400))
def test_pages_concatenate_to_the_range(
    backend: Backend, reference, start: int, length: int, size: int
) -> None:
    end = min(1000, start + length)
    sequence, offsets = read_all(backend, reference["id"], start=str(start), end=str(end), pageSize=size)
    assert sequence == SEQUENCE[start:end] if end > 0 else SEQUENCE[start:]
    assert offsets[0] == start


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"end": "1001"}, ["end 1001", "past the end", "1000 bases"]),
        ({"start": "-1"}, ["start"]),
        ({"start": "600", "end": "500"}, ["start 600", "after end 500"]),
        ({"start": "1001"}, ["start 1001"]),
        ({"pageSize": 10_000_001}, ["pageSize", "10000000"]),
        ({"pageToken": "junk"}, ["page token"]),
        ({"start": "abc"}, ["start"]),
    ],
)
def test_bad_ranges_are_400_naming_the_problem(backend: Backend, reference, query, words) -> None:
    err = error(bases, backend, reference["id"], **query)
    assert err.code == 400 and all(w in err.message for w in words), err.message


def test_a_token_is_bound_to_its_range(backend: Backend, reference) -> None:
    token = bases(backend, reference["id"], pageSize=10)["nextPageToken"]
    assert bases(backend, reference["id"], pageSize=10, pageToken=token)["offset"] == "10"
    assert "page token" in error(bases, backend, reference["id"], start="1", pageToken=token).message


def test_reference_without_bases_is_failed_precondition(backend: Backend) -> None:
    created = backend.reference_sets.create([{"name": "chr1", "length": 100}])
    err = error(bases, backend, created["referenceIds"][0])
    assert (err.code, err.status) == (400, "FAILED_PRECONDITION") and "no bases" in err.message
    assert error(bases, backend, "unknown").code == 404


# -- FASTA ----------------------------------------------------------------------------------


def seeded_references(backend: Backend, assembly: str | None = None) -> list[dict[str, Any]]:
    """The references of the one reference set a test seeded (not a built-in public one)."""
    query = {"assemblyId": assembly} if assembly else {}
    found = backend.reference_sets.search(OWNER, {**query, "pageSize": 4096})["referenceSets"]
    sets = [s for s in found if s["id"] not in PUBLIC.sets]
    assert len(sets) == 1, sets
    return backend.references.search(OWNER, {"referenceSetId": sets[0]["id"]})["references"]


def write_fasta(path: Path, sequences: dict[str, str], width: int = 60) -> Path:
    with open(path, "w") as out:
        for name, sequence in sequences.items():
            out.write(f">{name} description\n")
            for i in range(0, len(sequence), width):
                out.write(sequence[i : i + width] + "\n")
    return path


@pytest.fixture
def fasta(tmp_path: Path) -> dict[str, str]:
    sequences = {"chrA": SEQUENCE.lower()[:700] + SEQUENCE[700:], "chrB": SEQUENCE[:333]}
    write_fasta(tmp_path / "genome.fa", sequences)
    return sequences


@pytest.fixture
def storage_backend(clock, tmp_path: Path) -> Backend:
    (tmp_path / "storage").mkdir()
    return Backend(clock=clock, storage_root=tmp_path / "storage")


def test_seed_fasta_gives_real_checksums_and_bases(storage_backend: Backend, fasta, tmp_path: Path) -> None:
    backend = storage_backend
    load_seed(
        backend,
        {"referenceSets": [{"key": "g", "assemblyId": "toy", "fasta": "genome.fa"}]},
        base_dir=tmp_path,
    )
    by_name = {r["name"]: r for r in seeded_references(backend, "toy")}
    assert sorted(by_name) == ["chrA", "chrB"]
    for name, sequence in fasta.items():
        ref = by_name[name]
        assert ref["length"] == str(len(sequence))
        assert ref["md5checksum"] == hashlib.md5(sequence.upper().encode()).hexdigest()
        assert read_all(backend, ref["id"], pageSize=128)[0] == sequence.upper()
    assert bases(backend, by_name["chrA"]["id"], start="695", end="705")["sequence"] == SEQUENCE[695:705]


def test_seed_fasta_with_listed_references(storage_backend: Backend, fasta, tmp_path: Path) -> None:
    backend = storage_backend
    entry = {"fasta": str(tmp_path / "genome.fa"), "references": [{"name": "chrB", "length": 333}]}
    load_seed(backend, {"referenceSets": [entry]}, base_dir=tmp_path)
    assert [r["name"] for r in seeded_references(backend)] == ["chrB"]
    for bad, words in [({"name": "chrZ"}, "not a sequence"), ({"name": "chrB", "length": 5}, "333 bases")]:
        with pytest.raises(SeedError) as info:
            load_seed(backend, {"referenceSets": [{**entry, "references": [bad]}]}, base_dir=tmp_path)
        assert words in str(info.value)


def test_seed_fasta_that_is_not_one(storage_backend: Backend, tmp_path: Path) -> None:
    (tmp_path / "bad.fa").write_text("this is not a fasta file\n")
    with pytest.raises(SeedError) as info:
        load_seed(storage_backend, {"referenceSets": [{"fasta": "bad.fa"}]}, base_dir=tmp_path)
    assert "referenceSets[0]" in str(info.value) and "FASTA" in str(info.value)
    with pytest.raises(SeedError) as info:
        load_seed(storage_backend, {"referenceSets": [{"fasta": "absent.fa"}]}, base_dir=tmp_path)
    assert "referenceSets[0].fasta" in str(info.value)
