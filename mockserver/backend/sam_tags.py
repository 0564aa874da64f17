"""SAM header tags <-> Genomics API fields: one table, read by import and by export.

Import turns each ``@RG`` line into a ``ReadGroup`` and the first file's
``@PG`` lines into its ``programs``; export writes them back. Both walk the
tables below, so a tag added here is imported and exported alike. ``@RG``
tags without a field of their own are kept in ``ReadGroup.info`` (one value
each) and written back when they are two letters long, as SAM tags are.
"""

from __future__ import annotations

from typing import Any

#: @RG tag -> ReadGroup field, as a path into the JSON object
READ_GROUP_TAGS: dict[str, tuple[str, ...]] = {
    "ID": ("name",),
    "SM": ("sampleId",),
    "DS": ("description",),
    "LB": ("experiment", "libraryId"),
    "PU": ("experiment", "platformUnit"),
    "CN": ("experiment", "sequencingCenter"),
    "PL": ("experiment", "instrumentModel"),
    "PI": ("predictedInsertSize",),
}
#: @PG tag -> Program field
PROGRAM_TAGS: dict[str, str] = {
    "ID": "id",
    "PN": "name",
    "CL": "commandLine",
    "PP": "prevProgramId",
    "VN": "version",
}
#: tags whose field is an integer (a value that is not one reads as 0, i.e. unset)
INTEGER_TAGS = frozenset({"PI"})


def read_group_fields(tags: dict[str, Any]) -> dict[str, Any]:
    """The ReadGroup fields of one ``@RG`` line, at proto3 defaults where a tag is absent."""
    fields: dict[str, Any] = {}
    for tag, path in READ_GROUP_TAGS.items():
        value = _integer(tags.get(tag)) if tag in INTEGER_TAGS else str(tags.get(tag, ""))
        holder = fields
        for name in path[:-1]:
            holder = holder.setdefault(name, {})
        holder[path[-1]] = value
    fields["info"] = {key: [str(value)] for key, value in tags.items() if key not in READ_GROUP_TAGS}
    return fields


def read_group_tags(group: dict[str, Any]) -> dict[str, Any]:
    """The ``@RG`` tags of a ReadGroup (unset fields left out; ``ID`` first)."""
    tags: dict[str, Any] = {}
    for tag, path in READ_GROUP_TAGS.items():
        value: Any = group
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if value:
            tags[tag] = value
    for key, values in group.get("info", {}).items():
        if len(key) == 2 and values:
            tags[key] = values[0]
    return tags


def program_fields(tags: dict[str, Any]) -> dict[str, str]:
    """The Program fields of one ``@PG`` line."""
    return {field: str(tags.get(tag, "")) for tag, field in PROGRAM_TAGS.items()}


def program_tags(program: dict[str, Any]) -> dict[str, Any]:
    """The ``@PG`` tags of a Program (unset fields left out)."""
    return {tag: program[field] for tag, field in PROGRAM_TAGS.items() if program.get(field)}


def _integer(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0
