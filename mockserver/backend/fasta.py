"""Reference bases from FASTA files (pysam ``FastaFile``, indexed by a ``.fai`` next to the file).

A reference set may be given a FASTA file (a seed's ``fasta:``, see :mod:`mockserver.seed`):
its references then have their real checksums (the MD5 of the upper-cased sequence, read
in chunks so a chromosome never sits in memory whole) and ``references.bases.list`` reads
their bases from the file. pysam writes the ``.fai`` index when the file has none, so the
file lives under the storage root (the seed copies a local file there first).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pysam

from mockserver.errors import invalid_argument

#: bases read at a time while checksumming
CHUNK = 4_000_000


def open_fasta(path: Path, uri: str) -> pysam.FastaFile:
    try:
        return pysam.FastaFile(str(path))
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise invalid_argument(f"fasta: {uri} is not a readable FASTA file ({reason})") from None


def fasta_contigs(path: Path, uri: str) -> list[tuple[str, int, str]]:
    """``(name, length, md5)`` of every sequence of a FASTA file, in file order."""
    with open_fasta(path, uri) as fasta:
        contigs = []
        for name, length in zip(fasta.references, fasta.lengths, strict=True):
            digest = hashlib.md5()
            for offset in range(0, length, CHUNK):
                digest.update(fasta.fetch(name, offset, min(length, offset + CHUNK)).upper().encode("ascii"))
            contigs.append((name, length, digest.hexdigest()))
        return contigs


def fasta_bases(path: Path, uri: str, contig: str, start: int, end: int) -> str:
    """Bases ``[start, end)`` of one sequence, upper case."""
    with open_fasta(path, uri) as fasta:
        return fasta.fetch(contig, start, end).upper()
