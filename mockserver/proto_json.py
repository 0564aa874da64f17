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


OPAQUE = Node("opaque")
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


def normalizer(schema: dict[str, Any]) -> Node:
    """The compiled normalizer of a body schema (cached: once per schema)."""
    hit = _compiled.get(id(schema))
    if hit is None or hit[0] is not schema:  # guard against id() reuse
        hit = (schema, compile_schema(schema))
        _compiled[id(schema)] = hit
    return hit[1]


def normalize(schema: dict[str, Any], body: Any) -> tuple[Any, bool]:
    """``body`` in canonical form for ``schema``, and whether anything changed."""
    out = _walk(normalizer(schema), body, "")
    return out, out is not body


def _walk(node: Node, value: Any, path: str) -> Any:
    """The canonical form of ``value`` (the very object when nothing changed)."""
    kind = node.kind
    if kind == "object":
        return _object(node, value, path) if isinstance(value, dict) else value
    if kind == "array":
        if not isinstance(value, list) or node.item is None or node.item.kind == "opaque":
            return value
        items = [_walk(node.item, item, f"{path}[{i}]") for i, item in enumerate(value)]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if kind == "map":
        if not isinstance(value, dict) or node.item is None or node.item.kind == "opaque":
            return value
        entries = {key: _walk(node.item, item, f"{path}[{key!r}]") for key, item in value.items()}
        return entries if any(entries[k] is not value[k] for k in value) else value
    if kind == "int":
        return _integer(value, value)
    if kind == "int64":
        number = _integer(value, None)
        return str(number) if number is not None and not isinstance(value, str) else value
    if kind == "number":
        return _number(value)
    if kind == "enum":
        is_int = isinstance(value, int) and not isinstance(value, bool)
        return node.enum[value] if is_int and 0 <= value < len(node.enum) else value
    return value


def _object(node: Node, value: dict[str, Any], path: str) -> dict[str, Any]:
    for key in value:
        name = node.aliases.get(key)
        if name is not None and name in value:
            where = f"{path}.{name}" if path else name
            raise invalid_argument(
                f"Invalid JSON payload received: {where} is given twice (as '{name}' and '{key}')",
                field=where,
            )
    out: dict[str, Any] = {}
    changed = False
    for key, item in value.items():
        name = node.aliases.get(key, key)
        where = f"{path}.{name}" if path else name
        sub = node.fields.get(name)
        if item is None and sub is not None:  # null: the field's default (unset)
            changed = True
            continue
        new = _walk(sub, item, where) if sub is not None else item
        changed = changed or new is not item or name != key
        out[name] = new
    return out if changed else value


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
