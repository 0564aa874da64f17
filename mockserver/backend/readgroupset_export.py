"""Read group set export: one coordinate-sorted BAM file per ``readgroupsets.export`` operation.

The file gets ``@SQ`` lines for every reference of the set (sorted by name,
the order reads are stored in), ``@RG`` lines from its read groups and the
programs of its first read group (tags mapped by :mod:`.sam_tags`), then the
reads of the requested references. It is written to a temporary name and
renamed into place, and never overwrites an existing object.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mockserver.backend import bam
from mockserver.backend.reads import UNMAPPED, SetReads
from mockserver.backend.sam_tags import program_tags, read_group_tags
from mockserver.errors import failed_precondition, invalid_argument


def write_export(path: Path, uri: str, record: dict[str, Any], reads: SetReads, names: list[str]) -> None:
    if path.exists():
        raise failed_precondition(f"exportUri: {uri} already exists; export never overwrites an object")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        references = [(n, lengths[n]) for n in sorted(lengths)]  # every reference, whatever the filter
        bam.write_bam(partial, references, read_groups, programs, lines())
        if path.exists():
            raise failed_precondition(f"exportUri: {uri} already exists; export never overwrites an object")
        os.replace(partial, path)
    except (OSError, ValueError) as exc:
        raise invalid_argument(f"exportUri: could not write {uri} ({exc})") from None
    finally:
        partial.unlink(missing_ok=True)
