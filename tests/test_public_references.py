"""Google's public reference sets are built into every server, with their real ids."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.backend.public_references import (
    GRCH37,
    GRCH38,
    HG19,
    PUBLIC,
    placeholder_md5,
    reference_set_md5,
)
from mockserver.errors import ApiError
from mockserver.snapshot import restore, snapshot

OWNER = DEFAULT_OWNER
ASSEMBLIES = {
    "EMud_c37lKPXTQ": "GRCh38",
    "EOSsjdnTicvzwAE": "GRCh37",
    "EMWV_ZfLxrDY-wE": "hg19",
    "EOSt9JOVhp3jkwE": "hs37d5",
    "EJjur6DxjIa6KQ": "GRCh37lite",
}
NCBI_NAMES = [str(i) for i in range(1, 23)] + ["X", "Y", "MT"]
UCSC_NAMES = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]


def references_of(backend: Backend, set_id: str) -> dict[str, dict[str, Any]]:
    found = backend.references.search(OWNER, {"referenceSetId": set_id, "pageSize": 100})["references"]
    return {r["name"]: r for r in found}


def test_every_public_set_is_there_without_a_seed(backend: Backend) -> None:
    listed = backend.reference_sets.search(OWNER, {})["referenceSets"]
    assert {s["id"]: s["assemblyId"] for s in listed} == ASSEMBLIES
    for set_id in ASSEMBLIES:
        record = backend.reference_sets.get(OWNER, set_id)
        assert len(record["referenceIds"]) == 25 and record["ncbiTaxonId"] == 9606
        refs = references_of(backend, set_id)
        assert set(refs) == set(NCBI_NAMES if set_id not in (GRCH38, HG19) else UCSC_NAMES)
        assert sorted(r["id"] for r in refs.values()) == sorted(record["referenceIds"])


@pytest.mark.parametrize(
    ("set_id", "name", "length"),
    [
        (GRCH38, "chr1", 248956422),
        (GRCH38, "chrX", 156040895),
        (GRCH38, "chrM", 16569),
        (GRCH37, "1", 249250621),
        (GRCH37, "22", 51304566),
        (GRCH37, "MT", 16569),
        (HG19, "chrY", 59373566),
        (HG19, "chrM", 16571),  # hg19's mitochondrion is not GRCh37's
        ("EOSt9JOVhp3jkwE", "X", 155270560),
        ("EJjur6DxjIa6KQ", "10", 135534747),
    ],
)
def test_chromosome_lengths_are_the_assemblies(backend: Backend, set_id: str, name: str, length: int) -> None:
    reference = backend.reference_sets.reference_by_name(set_id, name)
    assert reference is not None and reference["length"] == str(length)
    # no sequence is known: the checksum is the mock's documented placeholder
    assert reference["md5checksum"] == placeholder_md5(name, length)


def test_known_ids_and_checksums(backend: Backend) -> None:
    assert backend.references.get(OWNER, "ELT13vHD8KjUEQ")["name"] == "chr1"  # Google's GRCh38 chr1
    for set_id in ASSEMBLIES:
        record = backend.reference_sets.get(OWNER, set_id)
        checksums = [backend.references.get(OWNER, r)["md5checksum"] for r in record["referenceIds"]]
        assert record["md5checksum"] == reference_set_md5(checksums)
    ids = [r for s in ASSEMBLIES for r in backend.reference_sets.get(OWNER, s)["referenceIds"]]
    assert len(set(ids)) == len(ids) and all(":" not in i and "/" not in i for i in ids)
    assert backend.references.bases(ids[0]) is None


def test_search_filters_reach_the_public_sets(backend: Backend) -> None:
    def found(**query: Any) -> set[str]:
        return {s["id"] for s in backend.reference_sets.search(OWNER, query).get("referenceSets", [])}

    assert found(assemblyId="grch38") == {GRCH38}
    assert found(assemblyId="GRCh37") == {GRCH37, "EJjur6DxjIa6KQ"}
    assert found(accessions=["GCA_000001405.15"]) == {GRCH38}
    chr1 = backend.references.get(OWNER, "ELT13vHD8KjUEQ")
    by_md5 = backend.references.search(OWNER, {"md5checksums": [chr1["md5checksum"]]})["references"]
    assert [r["id"] for r in by_md5] == ["ELT13vHD8KjUEQ"]
    paged, token = [], None
    while True:
        page = backend.references.search(OWNER, {"pageSize": 7, "pageToken": token})
        paged += [r["id"] for r in page["references"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert len(paged) == 125 and paged == sorted(paged)


def test_public_sets_survive_reset_and_stay_out_of_saved_state(backend: Backend) -> None:
    backend.reference_sets.create([{"name": "mine", "length": 5}])
    saved = json.dumps(snapshot(backend))
    assert GRCH38 not in saved and "ELT13vHD8KjUEQ" not in saved  # not user state
    backend.reset()
    assert {s["id"] for s in backend.reference_sets.search(OWNER, {})["referenceSets"]} == set(ASSEMBLIES)
    restored = Backend(clock=FakeClock())
    restore(restored, json.loads(saved))
    assert restored.reference_sets.get(OWNER, GRCH38) == backend.reference_sets.get(OWNER, GRCH38)
    assert len(restored.reference_sets.search(OWNER, {})["referenceSets"]) == 6


def test_callers_get_copies(backend: Backend) -> None:
    record = backend.reference_sets.get(OWNER, GRCH38)
    record["referenceIds"].clear()
    record["assemblyId"] = "changed"
    backend.references.get(OWNER, "ELT13vHD8KjUEQ")["length"] = "1"
    assert backend.reference_sets.get(OWNER, GRCH38)["assemblyId"] == "GRCh38"
    assert len(PUBLIC.sets[GRCH38]["referenceIds"]) == 25
    assert backend.references.get(OWNER, "ELT13vHD8KjUEQ")["length"] == "248956422"


def test_a_seed_cannot_take_a_public_id(backend: Backend) -> None:
    with pytest.raises(ApiError) as info:
        backend.reference_sets.load_seed([{"id": GRCH38, "references": [{"name": "x", "length": 1}]}])
    assert info.value.code == 400 and "already exists" in info.value.message
    with pytest.raises(ApiError):
        backend.reference_sets.create([{"id": "ELT13vHD8KjUEQ", "name": "x", "length": 1}])


def test_a_bam_header_of_a_public_assembly_finds_it(backend: Backend) -> None:
    header = [(r["name"], int(r["length"]), None) for r in references_of(backend, GRCH38).values()]
    assert backend.reference_sets.find_for_header(header) == GRCH38
    assert backend.reference_sets.find_for_header([("chr1", 248956422, None)]) == GRCH38
    assert backend.reference_sets.find_for_header([("chrM", 16571, None)]) == HG19


# -- what refers to reference sets must name an existing one ---------------------------------


def test_annotation_and_variant_sets_must_name_an_existing_reference_set(client, dataset) -> None:
    for path in ("/v1/annotationsets", "/v1/variantsets"):
        response = client.post(path, json={"datasetId": dataset["id"], "referenceSetId": "no-such-set"})
        error = response.json()["error"]
        assert response.status_code == 400 and "'no-such-set'" in error["message"]
        assert error["details"][0]["fieldViolations"][0]["field"] == "referenceSetId"
        made = client.post(path, json={"datasetId": dataset["id"], "referenceSetId": GRCH37})
        assert made.status_code == 200 and made.json()["referenceSetId"] == GRCH37
    assert client.post("/v1/variantsets", json={"datasetId": dataset["id"]}).status_code == 200  # optional


def test_the_admin_reset_keeps_them(client) -> None:
    assert client.post("/_mock/reset").status_code in (200, 204)
    listed = client.post("/v1/referencesets/search", json={}).json()["referenceSets"]
    assert {s["id"] for s in listed} == set(ASSEMBLIES)
    chromosome = client.get("/v1/references/ELT13vHD8KjUEQ").json()
    assert chromosome == {
        "id": "ELT13vHD8KjUEQ",
        "name": "chr1",
        "length": "248956422",
        "md5checksum": placeholder_md5("chr1", 248956422),
        "ncbiTaxonId": 9606,
    }
