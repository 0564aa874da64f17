"""Read group set export: one coordinate-sorted BAM file per ``readgroupsets.export`` operation.

The file gets ``@SQ`` lines for every reference of the set (sorted by name,
the order reads are stored in), ``@RG`` lines from its read groups and the
programs of its first read group (tags mapped by :mod:`.sam_tags`), then the
reads of the requested references. :meth:`Storage.write` checks the destination
again when the operation runs (a folder swapped for a symbolic link since the
request is refused), writes a temporary file in the folder it checked and links
it into place, never overwriting an existing object.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from mockserver.backend import bam
from mockserver.backend.reads import UNMAPPED, SetReads
from mockserver.backend.sam_tags import program_tags, read_group_tags
from mockserver.backend.storage import Storage
from mockserver.errors import invalid_argument


def write_export(
    storage: Storage, uri: str, record: dict[str, Any], reads: SetReads, names: list[str]
) -> None:
    lengths = reads.coverage.lengths
    wanted = set(names)
    mapped = [n for n in sorted(lengths) if not wanted or n in wanted]
    with_unmapped = not wanted or UNMAPPED in wanted

    def lines():
        for name in mapped:
            ref = reads.references.get(name)
            if ref is not None:
                yield from reads.lines[ref.lo : ref.hi]
        if with_unmapped:
            yield from reads.lines[reads.unmapped_lo :]

    groups = record.get("readGroups", [])
    read_groups = [read_group_tags(group) for group in groups if group.get("name")]
    first = groups[0] if groups else {}
    programs = [program_tags(p) for p in first.get("programs", []) if p.get("id")]
    references = [(n, lengths[n]) for n in sorted(lengths)]  # every reference, whatever the filter

    def write(handle: BinaryIO) -> None:
        try:
            bam.write_bam(handle, references, read_groups, programs, lines())
        except (OSError, ValueError) as exc:
            raise invalid_argument(f"exportUri: could not write {uri} ({storage.describe(exc)})") from None

    storage.write(uri, write, field="exportUri")
