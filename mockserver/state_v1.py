"""Reading version 1 state documents (written before the journal) as version 2.

Version 1 wrote each component's attributes in a tagged JSON (``$sortedlist``,
``$tuple``, ``$bytes``, shared objects as ``$id``/``$ref``, records as
``$slots``/``$object`` naming a class, sorted lists naming their key
function). Here those tags are read as *data*: a class or key-function name
is a string matched against the few names version 1 could write, never
imported or called; any other name refuses the whole document with its JSON
pointer. The attributes that version 2 keeps as tables are then picked out
(indexes are rebuilt on install, as for any document).
"""

from __future__ import annotations

import base64
import binascii
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mockserver.backend.clock import rfc3339

#: the record classes version 1 wrote, with the field order of their ``$slots`` rows
SLOT_CLASSES = {
    "mockserver.backend.annotation_index:AnnotationRecord": (
        "id", "set_id", "ref_name", "ref_id", "start", "end", "extra",
    ),
    "mockserver.backend.annotation_index:SetIndex": ("primary", "secondary"),
    "mockserver.backend.annotation_index:Bucket": ("short", "long"),
    "mockserver.backend.annotation_index:Tier": ("items", "max_len"),
}
OBJECT_CLASSES = frozenset({
    "mockserver.backend.operations:_Entry",
    "mockserver.backend.reads:SetReads",
    "mockserver.backend.reads:ReferenceSlice",
    "mockserver.backend.coverage_index:CoverageIndex",
    "mockserver.backend.coverage_index:RefCoverage",
    "mockserver.backend.references:Lookup",
})
SORT_KEYS = frozenset({"mockserver.backend.annotation_index:_position"})
ARRAY_TYPES = frozenset("HIqQ")


class UpgradeError(ValueError):
    """Raised with the JSON pointer of what version 1 could not have written."""


@dataclass
class Obj:
    """A version 1 record: its class name (a string) and its fields."""

    cls: str
    fields: dict[str, Any]


def _pointer(where: tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in where)


def _fail(where: tuple[Any, ...], message: str) -> Exception:
    return UpgradeError(f"{_pointer(where)}: {message}")


class _Reader:
    """Tagged JSON -> plain Python values and :class:`Obj` s (see module docstring)."""

    def __init__(self) -> None:
        self.shared: dict[Any, Any] = {}

    def read(self, value: Any, where: tuple[Any, ...]) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [self.read(v, (*where, i)) for i, v in enumerate(value)]
        if not isinstance(value, dict):
            raise _fail(where, "not a JSON value")
        if not any(isinstance(k, str) and k.startswith("$") for k in value):
            return {k: self.read(v, (*where, k)) for k, v in value.items()}
        if "$ref" in value:
            if value["$ref"] not in self.shared:
                raise _fail(where, f"dangling reference {value['$ref']!r}")
            return self.shared[value["$ref"]]
        if "$id" in value:
            body = {k: v for k, v in value.items() if k != "$id"}
            result = self.read(body.get("$value", body), where)
            self.shared[value["$id"]] = result
            return result
        return self._tagged(value, where)

    def _tagged(self, value: dict[str, Any], where: tuple[Any, ...]) -> Any:
        read = self.read
        try:
            if "$datetime" in value:
                return datetime.fromisoformat(value["$datetime"])
            if "$bytes" in value:
                return base64.b64decode(value["$bytes"], validate=True)
            if "$float" in value:
                return float(value["$float"])
            if "$array" in value:
                if value["$array"] not in ARRAY_TYPES:
                    raise _fail(where, f"array type {value['$array']!r} was never written")
                return array(value["$array"], base64.b64decode(value["data"], validate=True)).tolist()
            if "$sortedkeylist" in value:
                if value.get("key") not in SORT_KEYS:
                    raise _fail((*where, "key"), f"{value.get('key')!r} is not a sort key version 1 wrote")
                return read(value["$sortedkeylist"], (*where, "$sortedkeylist"))
            for tag in ("$sortedlist", "$tuple", "$set", "$frozenset"):
                if tag in value:
                    items = read(value[tag], (*where, tag))
                    return tuple(items) if tag == "$tuple" else items
            for tag in ("$sorteddict", "$dict"):
                if tag in value:
                    pairs = read(value[tag], (*where, tag))
                    return {(k if not isinstance(k, list) else tuple(k)): v for k, v in pairs}
            if "$slots" in value:
                names = SLOT_CLASSES.get(value["$slots"])
                if names is None:
                    raise _fail((*where, "$slots"),
                                f"{value['$slots']!r} is not a record type version 1 wrote")
                row = read(value.get("v"), (*where, "v"))
                if not isinstance(row, list) or len(row) != len(names):
                    raise _fail((*where, "v"), "does not match the record's fields")
                return Obj(value["$slots"], dict(zip(names, row, strict=True)))
            if "$object" in value:
                if value["$object"] not in OBJECT_CLASSES:
                    raise _fail((*where, "$object"),
                                f"{value['$object']!r} is not a record type version 1 wrote")
                fields = read(value.get("fields"), (*where, "fields"))
                if not isinstance(fields, dict):
                    raise _fail((*where, "fields"), "must be an object")
                return Obj(value["$object"], fields)
        except UpgradeError:
            raise
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise _fail(where, f"malformed {sorted(value)[0]} value ({exc})") from None
        raise _fail(where, f"unknown tag {sorted(value)[0]!r}")


# -- per component: version 1 attributes -> version 2 tables -----------------------------------


def _records(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"records": attrs["_records"]}


def _datasets(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"records": attrs["_records"], "deleted": {k: rfc3339(v) for k, v in attrs["_deleted_at"].items()}}


def _annotations(attrs: dict[str, Any]) -> dict[str, Any]:
    def row(record: Obj) -> list[Any]:
        f = record.fields
        return [f["set_id"], f["ref_name"], f["ref_id"], f["start"], f["end"], f["extra"]]

    return {
        "records": {key: row(record) for key, record in attrs["_records"].items()},
        "batches": {f"{set_id}/{request_id}": response
                    for (set_id, request_id), response in attrs["_batches"].items()},
    }


def _references(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"records": attrs["_records"], "bases": attrs["_bases"],
            "placeholders": dict.fromkeys(attrs["_placeholder"], True)}


def _reads(attrs: dict[str, Any]) -> dict[str, Any]:
    def saved(reads: Obj) -> dict[str, Any]:
        f = reads.fields
        return {"lengths": f["coverage"].fields["lengths"], "groups": f["read_groups"],
                "lines": [line.decode() for line in f["lines"]]}

    return {"records": {key: saved(reads) for key, reads in attrs["_records"].items()}}


def _operations(attrs: dict[str, Any]) -> dict[str, Any]:
    return {"records": {key: {"seq": e.fields["seq"], "operation": e.fields["record"]}
                        for key, e in attrs["_records"].items()}}


COMPONENTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "operations": _operations,
    "datasets": _datasets,
    "reference_sets": _records,
    "references": _references,
    "annotation_sets": _records,
    "annotations": _annotations,
    "variant_sets": _records,
    "call_sets": _records,
    "read_group_sets": _records,
    "reads": _reads,
    "coverage": lambda _attrs: {},
}


def upgrade(document: dict[str, Any]) -> dict[str, Any]:
    """The ``state`` of a version 1 document in version 2 terms (the caller checks every value of
    it); :class:`UpgradeError` names what version 1 could not have written."""
    try:
        components = document.get("components")
        if not isinstance(components, dict):
            raise _fail(("components",), "missing, or not an object")
        reader = _Reader()
        state: dict[str, Any] = {}
        for name, attrs in components.items():
            where = ("components", name)
            migrate = COMPONENTS.get(name)
            if migrate is None:
                raise _fail(where, "not a component version 1 wrote")
            values = reader.read(attrs, where)
            try:
                tables = migrate(values)
            except (KeyError, TypeError, AttributeError, ValueError, UnicodeError) as exc:
                raise _fail(where, f"not a version 1 {name} state ({type(exc).__name__}: {exc})") from None
            if tables:
                state[name] = tables
        settings = {k: v for k, v in (("clock", document.get("clock")),
                                      ("pageTokenSecret", document.get("pageTokenSecret"))) if v is not None}
        state["server"] = {"settings": settings}
        ids = document.get("ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _fail(("ids",), "must be a list of ids")
        state["ids"] = {"issued": dict.fromkeys(ids, True)}
        iam = document.get("iam") or {}
        if not isinstance(iam, dict):
            raise _fail(("iam",), "must be an object")
        projects = iam.get("projects") or {}
        if not isinstance(projects, dict) or not all(isinstance(p, dict) for p in projects.values()):
            raise _fail(("iam", "projects"), "must map project ids to {bindings}")
        state["iam"] = {
            "projects": {p: entry.get("bindings") or [] for p, entry in projects.items()},
            "groups": iam.get("groups") or {},
            "policies": iam.get("policies") or {},
        }
        if document.get("tokens") is not None:
            state["tokens"] = document["tokens"]
    except RecursionError:
        raise UpgradeError("nested too deeply") from None
    return state
