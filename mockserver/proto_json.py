"""Proto3 JSON input, read the way Google's front end reads it: one normalizing step before validation.

Google parses a request body with the proto3 JSON mapping, which accepts more
than the canonical form its responses use. The mock's validators and backend
see the canonical form only, because every JSON body is first rewritten here
(:func:`normalize`, called by the body validator in :mod:`mockserver.validation`):

* ``null`` for a message field means "not set" (the default): the key is dropped
  — except inside free-form values (``info``, ``metadata``: a
  ``google.protobuf.Value`` may be ``null``);
* a field may be named in lowerCamelCase or by its original proto name
  (``projectId`` or ``project_id``); naming the same field both ways is a 400;
* int32/uint32 and double/float fields take a number or a decimal string
  (``"pageSize": "10"``); int64/uint64 take a string or a number (the canonical
  form is the string: a number becomes one); an integral JSON number (``10.0``,
  ``1e3``) counts as the integer. Integer text must be plain decimal digits (the
  mock accepts no exponent in a string, where proto3 would); a string that is not
  a number is left as it is, so the validator reports the field's type;
* an enum takes its name or its number (``"type": 1`` is ``GENERIC``); numbers
  are positions in the document's ``enum`` list, which follows the proto
  declaration, where every Genomics enum numbers its values 0, 1, 2, …;
* unknown fields are left alone: the validator still rejects them (400).

Everything is derived from the OpenAPI document's body schemas, compiled once
per schema; nothing here is written per operation. Output is not affected.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from mockserver.errors import invalid_argument

_INTEGER_TEXT = re.compile(r"-?[0-9]+")
_NUMBER_TEXT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_UPPER = re.compile(r"([A-Z])")


def proto_name(json_name: str) -> str:
    """The original (snake_case) proto field name of a lowerCamelCase JSON name."""
    return _UPPER.sub(lambda m: "_" + m.group(1).lower(), json_name)


@dataclass
class Node:
    """How one schema position is normalized: ``kind`` is object, array, map, int, int64,
    number, enum or opaque (left alone)."""

    kind: str
    fields: dict[str, Node] = field(default_factory=dict)
    #: original proto name -> JSON name, where they differ
    aliases: dict[str, str] = field(default_factory=dict)
    item: Node | None = None
    enum: tuple[str, ...] = ()
    #: for an object: JSON field name -> the exact types of a value that field already holds in
    #: canonical form (``_walk`` returns it unchanged), :data:`ANY_VALUE` for any but ``null``;
    #: filled by :func:`compile_schema` once the fields are known (see :func:`canonical_types`)
    canonical: dict[str, tuple[type, ...]] = field(default_factory=dict)


OPAQUE = Node("opaque")
#: :attr:`Node.canonical`'s mark for a field that keeps every value but ``null``
ANY_VALUE: tuple[type, ...] = ()
_compiled: dict[int, tuple[dict[str, Any], Node]] = {}


def compile_schema(schema: Any, seen: dict[int, Node] | None = None) -> Node:
    """The normalizer of a (resolved) JSON schema."""
    if not isinstance(schema, dict):
        return OPAQUE
    seen = {} if seen is None else seen
    if id(schema) in seen:
        return seen[id(schema)]
    if len(schema.get("allOf") or ()) == 1:
        return compile_schema(schema["allOf"][0], seen)
    kind, fmt = schema.get("type"), schema.get("format")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and extra:
            node = Node("map")
            seen[id(schema)] = node
            node.item = compile_schema(extra, seen)
            return node
        node = Node("object") if properties else OPAQUE
        seen[id(schema)] = node
        for name, sub in properties.items():
            node.fields[name] = compile_schema(sub, seen)
            original = proto_name(name)
            if original != name:
                node.aliases[original] = name
        node.canonical = {
            name: kept for name, sub in node.fields.items()
            if name not in node.aliases and (kept := canonical_types(sub)) is not None
        }
        return node
    if kind == "array":
        return Node("array", item=compile_schema(schema.get("items"), seen))
    if kind == "integer":
        return Node("int")
    if kind == "number":
        return Node("number")
    if kind == "string" and fmt in ("int64", "uint64"):
        return Node("int64")
    if kind == "string" and schema.get("enum"):
        return Node("enum", enum=tuple(schema["enum"]))
    return OPAQUE


def canonical_types(node: Node) -> tuple[type, ...] | None:
    """The exact types of a value :func:`_walk` hands back unchanged at ``node`` whatever it is
    (:data:`ANY_VALUE`: all), None when only a walk can tell; lets an object skip the walk
    of a field already in canonical form, the usual case (a body sent by a client library)."""
    if node.kind == "opaque":
        return ANY_VALUE
    if node.kind in ("array", "map") and (node.item is None or node.item.kind == "opaque"):
        return ANY_VALUE
    if node.kind in ("int64", "enum"):
        return (str,)
    if node.kind == "int":
        return (int,)  # exactly int: a bool is not an integer here
    if node.kind == "number":
        return (int, float)
    return None


def normalizer(schema: dict[str, Any]) -> Node:
    """The compiled normalizer of a body schema (cached: once per schema)."""
    hit = _compiled.get(id(schema))
    if hit is None or hit[0] is not schema:  # guard against id() reuse
        hit = (schema, compile_schema(schema))
        _compiled[id(schema)] = hit
    return hit[1]


def normalize(schema: dict[str, Any], body: Any) -> tuple[Any, bool]:
    """``body`` in canonical form for ``schema``, and whether anything changed."""
    try:
        out = _walk(normalizer(schema), body)
    except _GivenTwice as twice:
        where = ".".join(reversed(twice.path))
        raise invalid_argument(
            f"Invalid JSON payload received: {where} is given twice (as '{twice.path[0]}' and "
            f"'{twice.alias}')",
            field=where,
        ) from None
    return out, out is not body


class _GivenTwice(Exception):
    """A field named both ways; ``path`` collects the enclosing fields, innermost first."""

    def __init__(self, name: str, alias: str) -> None:
        self.path = [name]
        self.alias = alias


#: marks a field dropped (null: not set)
_DROP = object()


def _walk(node: Node, value: Any) -> Any:
    """The canonical form of ``value`` (the very object when nothing changed: the common case
    costs a walk and no copy)."""
    kind = node.kind
    if kind == "object":
        return _object(node, value) if isinstance(value, dict) else value
    if kind in ("array", "map"):
        item = node.item
        if item is None or item.kind == "opaque":
            return value
        if kind == "array" and isinstance(value, list):
            items = [_walk(item, element) for element in value]
            return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
        if kind == "map" and isinstance(value, dict):
            entries = {key: _walk(item, element) for key, element in value.items()}
            return entries if any(entries[k] is not value[k] for k in value) else value
        return value
    if kind == "int":
        return _integer(value, value)
    if kind == "int64":
        if isinstance(value, str):
            return value
        number = _integer(value, None)
        return str(number) if number is not None else value
    if kind == "number":
        return _number(value)
    if kind == "enum":
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return node.enum[value] if is_int and 0 <= value < len(node.enum) else value
    return value


def _object(node: Node, value: dict[str, Any]) -> dict[str, Any]:
    fields, aliases, canonical = node.fields, node.aliases, node.canonical
    out: dict[str, Any] | None = None  # made at the first change, from the items before it
    for index, (key, item) in enumerate(value.items()):
        kept = canonical.get(key)
        if kept is not None and item is not None and (kept is ANY_VALUE or type(item) in kept):
            if out is not None:  # already canonical: what the walk below would keep
                out[key] = item
            continue
        name = aliases.get(key, key)
        if name is not key and name in value:
            raise _GivenTwice(name, key)
        sub = fields.get(name)
        if sub is None:  # not a field: the validator rejects it
            new = item
        elif item is None:  # null: the field's default (unset)
            new = _DROP
        elif sub.kind == "opaque":
            new = item
        else:
            try:
                new = _walk(sub, item)
            except _GivenTwice as twice:
                twice.path.append(name)
                raise
        if out is None:
            if new is item and name is key:
                continue
            out = dict(islice(value.items(), index))
        if new is not _DROP:
            out[name] = new
    return value if out is None else out


def _integer(value: Any, otherwise: Any) -> Any:
    """An integer given as a number, an integral float or decimal text; ``otherwise`` if not one."""
    if isinstance(value, bool):
        return otherwise
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        return int(value)
    return otherwise


def _number(value: Any) -> Any:
    """A double given as a number or as finite decimal text."""
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        number = float(value)
        return number if math.isfinite(number) else value
    return value
