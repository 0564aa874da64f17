"""Google's public reference sets, built into every server: GRCh38, GRCh37, hg19, hs37d5, GRCh37lite.

Google Genomics served these to every caller, and client code hard-codes their
ids (``EMud_c37lKPXTQ`` is GRCh38 in codelabs and in GATK's reference source),
so the mock knows them without a seed: an annotation set can name GRCh38 from
the first request on. Seeds and BAM imports add more reference sets beside them.

They are built once per process (:data:`PUBLIC`) and shared by every server and
every reset: a reset costs nothing for them and a saved state holds none of them
(they are not user state). The records here are never mutated; the components
hand out copies.

What is Google's and what is the mock's choice:

* the reference set ids, assemblies, reference names of GRCh37 (``1`` … ``22``,
  ``X``, ``Y``, ``MT``), hg19 (``chr1`` … ``chr22``, ``chrX``, ``chrY``, ``chrM``),
  hs37d5 and GRCh37lite (as GRCh37), and the primary chromosome lengths are the
  public facts; so is chromosome 1 of GRCh38, ``ELT13vHD8KjUEQ``;
* GRCh38's reference names are the mock's choice: UCSC style (``chr1`` …
  ``chrM``), as Google's GRCh38 variant data names them;
* only the primary chromosomes are built in (no unplaced contigs, no hs37d5
  decoy), with ``ncbiTaxonId`` 9606;
* every other reference id is the mock's: ``E`` + 13 URL-safe characters derived
  from the set id and the name (stable across versions, never equal to a
  generated id, which is longer);
* ``md5checksum``: without the sequences the mock cannot compute the real
  checksums, so each reference carries the placeholder checksum the mock gives
  any reference known only by name and length (see :mod:`.references`), and each
  set the checksum of those (the real rule applied to placeholders). Like every
  placeholder, they are never compared with a BAM header's real ``M5``.
"""

from __future__ import annotations

import base64
import hashlib
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, cast

PLACEHOLDER_PREFIX = "genomics-mock-placeholder"
HUMAN = 9606
#: the ids client code hard-codes most
GRCH38 = "EMud_c37lKPXTQ"
GRCH37 = "EOSsjdnTicvzwAE"
HG19 = "EMWV_ZfLxrDY-wE"

_GRCH38_LENGTHS = (
    248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973, 145138636,
    138394717, 133797422, 135086622, 133275309, 114364328, 107043718, 101991189, 90338345,
    83257441, 80373285, 58617616, 64444167, 46709983, 50818468,
)  # fmt: skip
_GRCH37_LENGTHS = (
    249250621, 243199373, 198022430, 191154276, 180915260, 171115067, 159138663, 146364022,
    141213431, 135534747, 135006516, 133851895, 115169878, 107349540, 102531392, 90354753,
    81195210, 78077248, 59128983, 63025520, 48129895, 51304566,
)  # fmt: skip


def placeholder_md5(name: str, length: int) -> str:
    """The stable stand-in checksum of a reference whose sequence is unknown."""
    return hashlib.md5(f"{PLACEHOLDER_PREFIX}:{name}:{length}".encode()).hexdigest()


def reference_set_md5(reference_md5s: Any) -> str:
    """Order-independent set checksum: MD5 of the sorted, concatenated reference checksums."""
    return hashlib.md5("".join(sorted(reference_md5s)).encode("ascii")).hexdigest()


def _chromosomes(
    autosomes: tuple[int, ...], x: int, y: int, mito: tuple[str, int], prefix: str
) -> list[tuple[str, int]]:
    named = [(f"{prefix}{i}", length) for i, length in enumerate(autosomes, start=1)]
    return [*named, (f"{prefix}X", x), (f"{prefix}Y", y), mito]


_GRCH37 = _chromosomes(_GRCH37_LENGTHS, 155270560, 59373566, ("MT", 16569), "")

#: (id, assemblyId, description, sourceAccessions, [(name, length)], {name: Google's reference id})
_SETS: tuple[tuple[str, str, str, tuple[str, ...], list[tuple[str, int]], dict[str, str]], ...] = (
    (
        GRCH38, "GRCh38", "GRCh38 primary chromosomes (UCSC names)", ("GCA_000001405.15",),
        _chromosomes(_GRCH38_LENGTHS, 156040895, 57227415, ("chrM", 16569), "chr"),
        {"chr1": "ELT13vHD8KjUEQ"},
    ),
    (GRCH37, "GRCh37", "GRCh37 primary chromosomes (NCBI names)", ("GCA_000001405.1",),
     _GRCH37, {}),
    (
        HG19, "hg19", "UCSC hg19 primary chromosomes", (),
        _chromosomes(_GRCH37_LENGTHS, 155270560, 59373566, ("chrM", 16571), "chr"), {},
    ),
    ("EOSt9JOVhp3jkwE", "hs37d5", "1000 Genomes hs37d5 primary chromosomes (no decoy)", (), _GRCH37, {}),
    ("EJjur6DxjIa6KQ", "GRCh37lite", "GRCh37lite primary chromosomes", (), _GRCH37, {}),
)  # fmt: skip


def reference_id(set_id: str, name: str) -> str:
    """The mock's id of a built-in reference Google's id is not known for (see module docstring)."""
    digest = hashlib.sha256(f"{set_id}/{name}".encode()).digest()
    return "E" + base64.urlsafe_b64encode(digest).decode("ascii")[:13]


def chained(own: dict[str, Any], built_in: Mapping[str, Any]) -> ChainMap[str, Any]:
    """A component's records, then the built-in ones: what its searches look ids up in
    (read only; the built-in mapping is never written through it)."""
    return ChainMap(own, cast(dict[str, Any], built_in))


@dataclass(frozen=True)
class Catalogue:
    """The built-in reference sets and references, read-only."""

    #: reference set id -> ReferenceSet record
    sets: Mapping[str, dict[str, Any]]
    #: reference id -> Reference record
    references: Mapping[str, dict[str, Any]]
    #: reference set id -> {reference name: reference id}
    names: Mapping[str, Mapping[str, str]]

    @classmethod
    def build(cls) -> Catalogue:
        sets: dict[str, dict[str, Any]] = {}
        references: dict[str, dict[str, Any]] = {}
        names: dict[str, Mapping[str, str]] = {}
        for set_id, assembly, description, accessions, chromosomes, known_ids in _SETS:
            by_name: dict[str, str] = {}
            for name, length in chromosomes:
                ref_id = known_ids.get(name) or reference_id(set_id, name)
                references[ref_id] = {
                    "id": ref_id,
                    "name": name,
                    "length": str(length),
                    "md5checksum": placeholder_md5(name, length),
                    "ncbiTaxonId": HUMAN,
                }
                by_name[name] = ref_id
            record: dict[str, Any] = {
                "id": set_id,
                "referenceIds": list(by_name.values()),
                "md5checksum": reference_set_md5(references[r]["md5checksum"] for r in by_name.values()),
                "assemblyId": assembly,
                "description": description,
                "ncbiTaxonId": HUMAN,
            }
            if accessions:
                record["sourceAccessions"] = list(accessions)
            sets[set_id] = record
            names[set_id] = MappingProxyType(by_name)
        return cls(MappingProxyType(sets), MappingProxyType(references), MappingProxyType(names))


#: the one catalogue every server shares
PUBLIC = Catalogue.build()
