"""The whole backend as one versioned JSON document, and back.

Used by the state file (:mod:`mockserver.persistence`) and ``GET/PUT
/_mock/state``. Components need little code of their own: each component's
instance ``__dict__`` (minus the backend reference and the attributes it
declares ``transient``) is written with a small *tagged JSON* encoder that knows the
containers the backend uses (``SortedList``/``SortedDict``/``SortedKeyList``,
sets, tuples, ``array``, ``bytes``, ``datetime``) and the backend's own record
classes (dataclasses and ``__slots__`` classes under ``mockserver.backend``;
no other class is ever instantiated from a document, so a state file cannot
run code the way a pickle can).

Shared objects stay shared: an object reached twice (an annotation record
held by the record table *and* by its interval index) is written once with
``{"$id": n, ...}`` and referenced as ``{"$ref": n}``, so identity-based
index operations still work after a restore.

Document shape::

    {"format": "genomics-mock-state", "version": 1, "savedAt": "...",
     "clock": "<RFC 3339>"|null, "ids": [...], "pageTokenSecret": "<b64>",
     "iam": {...}, "tokens": {...}|null, "components": {"datasets": {...}, ...}}
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import importlib
import threading
from array import array
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sortedcontainers import SortedDict, SortedKeyList, SortedList

from mockserver.backend.clock import FakeClock, parse_rfc3339, rfc3339
from mockserver.backend.operations import Job

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

FORMAT = "genomics-mock-state"
VERSION = 1
#: modules whose classes a document may name
ALLOWED_MODULE_PREFIX = "mockserver.backend."
#: per component attribute names that are configuration or runtime machinery, not state
RUNTIME_TYPES: tuple[type, ...] = (Future, type(threading.Event()), type(threading.Lock()), Job)


class SnapshotError(ValueError):
    """A document that is not a genomics-mock state (the message says what is wrong)."""


# -- encoding -------------------------------------------------------------------------------


ATOM_TYPES = frozenset({type(None), bool, int, float, str})
LEAF_TYPES = ATOM_TYPES | {datetime, bytes, array}
PLAIN_TYPES = frozenset({type(None), bool, int, str})  # written as they are (floats may be NaN)


def _is_atom(value: Any) -> bool:
    return type(value) in ATOM_TYPES


class _Encoder:
    def __init__(self) -> None:
        self._seen: dict[int, int] = {}  # id(obj) -> times reached
        self._ids: dict[int, int] = {}  # id(obj) -> document id (shared objects only)
        self._keep: list[Any] = []

    # pass 1: count how often each mutable object is reached
    def count(self, value: Any) -> None:
        stack = [value]
        while stack:
            item = stack.pop()
            if type(item) in LEAF_TYPES:
                continue
            key = id(item)
            self._seen[key] = self._seen.get(key, 0) + 1
            if self._seen[key] > 1:
                continue
            self._keep.append(item)
            stack.extend(_children(item))

    # pass 2: write
    def encode(self, value: Any) -> Any:
        kind = type(value)
        if kind in ATOM_TYPES:
            if kind is float and value != value:
                return {"$float": "nan"}
            return value
        if isinstance(value, datetime):
            return {"$datetime": value.isoformat()}
        if isinstance(value, bytes):
            return {"$bytes": base64.b64encode(value).decode("ascii")}
        if isinstance(value, array):
            return {"$array": value.typecode, "data": base64.b64encode(value.tobytes()).decode("ascii")}
        key = id(value)
        if key in self._ids:
            return {"$ref": self._ids[key]}
        body = self._encode_container(value)
        if self._seen.get(key, 0) > 1:
            self._ids[key] = len(self._ids) + 1
            body = {"$id": self._ids[key], **body} if isinstance(body, dict) and _tagged(body) else {
                "$id": self._ids[key],
                "$value": body,
            }
        return body

    def _encode_container(self, value: Any) -> Any:
        if isinstance(value, SortedKeyList):
            return {"$sortedkeylist": [self.encode(v) for v in value], "key": _function_name(value.key)}
        if isinstance(value, SortedList):
            return {"$sortedlist": [self.encode(v) for v in value]}
        if isinstance(value, SortedDict):
            return {"$sorteddict": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("$") for k in value):
                return {k: self.encode(v) for k, v in value.items()}
            return {"$dict": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        if isinstance(value, list):
            return [self.encode(v) for v in value]
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v) for v in value]}
        if isinstance(value, (set, frozenset)):
            tag = "$frozenset" if isinstance(value, frozenset) else "$set"
            return {tag: [self.encode(v) for v in _stable(value)]}
        cls: Any = type(value)
        if not cls.__module__.startswith(ALLOWED_MODULE_PREFIX):
            raise SnapshotError(f"cannot snapshot a {cls.__module__}.{cls.__qualname__}")
        if _is_slots_record(cls):  # compact form for the many small records (annotations)
            encode, names = self.encode, _field_names(cls) or ()
            fields = [getattr(value, n, None) for n in names]
            return {"$slots": _class_name(cls), "v": [
                f if type(f) in PLAIN_TYPES else encode(f) for f in fields
            ]}
        return {"$object": f"{cls.__module__}:{cls.__qualname__}", "fields": {
            name: self.encode(field) for name, field in _fields(value).items()
        }}


@functools.cache
def _class_name(cls: Any) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


@functools.cache
def _is_slots_record(cls: Any) -> bool:
    """A plain ``__slots__`` class (not a dataclass) whose every field is plain data."""
    return not dataclasses.is_dataclass(cls) and "__slots__" in vars(cls) and "__dict__" not in vars(cls)


def _tagged(body: dict[str, Any]) -> bool:
    return any(k.startswith("$") for k in body)


def _stable(values: Any) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _function_name(func: Callable[..., Any]) -> str:
    module, name = getattr(func, "__module__", ""), getattr(func, "__qualname__", "")
    if not module.startswith(ALLOWED_MODULE_PREFIX) or "<" in name:
        raise SnapshotError(f"cannot snapshot a sorted list keyed by {func!r}")
    return f"{module}:{name}"


@functools.cache
def _field_names(cls: Any) -> tuple[str, ...] | None:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    if hasattr(cls, "__slots__"):
        return tuple(n for c in cls.__mro__ for n in getattr(c, "__slots__", ()))
    return None


_MISSING = object()


def _fields(obj: Any) -> dict[str, Any]:
    """An object's state; runtime machinery (futures, events, jobs) is left out."""
    kind: Any = type(obj)
    names = _field_names(kind)
    out = {}
    for name in names if names is not None else list(vars(obj)):
        value = getattr(obj, name, _MISSING)
        if type(value) in LEAF_TYPES:
            out[name] = value
        elif value is _MISSING or isinstance(value, RUNTIME_TYPES) or callable(value):
            continue
        else:
            out[name] = value
    return out


def _children(item: Any) -> list[Any]:
    if isinstance(item, (dict, SortedDict)):
        return [*item.keys(), *item.values()]
    if isinstance(item, (list, tuple, set, frozenset, SortedList)):
        return list(item)
    if type(item).__module__.startswith(ALLOWED_MODULE_PREFIX):
        return list(_fields(item).values())
    return []


# -- decoding -------------------------------------------------------------------------------


class _Decoder:
    def __init__(self) -> None:
        self._objects: dict[int, Any] = {}

    def decode(self, value: Any) -> Any:
        if _is_atom(value):
            return value
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            raise SnapshotError(f"unexpected value {value!r}")
        if "$ref" in value:
            try:
                return self._objects[value["$ref"]]
            except (KeyError, TypeError):
                raise SnapshotError(f"dangling reference {value['$ref']!r}") from None
        if "$id" in value:
            ident = value["$id"]
            rest = {k: v for k, v in value.items() if k != "$id"}
            if "$value" in rest:
                rest = rest["$value"]
            return self._decode_shared(ident, rest)
        return self._decode_plain(value)

    def _decode_shared(self, ident: int, body: Any) -> Any:
        # containers are created empty and registered first, so inner $refs can resolve
        if isinstance(body, list):
            out: list[Any] = []
            self._objects[ident] = out
            out.extend(self.decode(v) for v in body)
            return out
        if isinstance(body, dict) and not _tagged(body):
            plain: dict[str, Any] = {}
            self._objects[ident] = plain
            plain.update((k, self.decode(v)) for k, v in body.items())
            return plain
        result = self._decode_plain(body)
        self._objects[ident] = result
        return result

    def _decode_plain(self, value: dict[str, Any]) -> Any:
        if not _tagged(value):
            return {k: self.decode(v) for k, v in value.items()}
        if "$float" in value:
            return float(value["$float"])
        if "$datetime" in value:
            return datetime.fromisoformat(value["$datetime"])
        if "$bytes" in value:
            return base64.b64decode(value["$bytes"])
        if "$array" in value:
            out = array(value["$array"])
            out.frombytes(base64.b64decode(value["data"]))
            return out
        if "$sortedkeylist" in value:
            return SortedKeyList((self.decode(v) for v in value["$sortedkeylist"]), key=_lookup(value["key"]))
        if "$sortedlist" in value:
            return SortedList(self.decode(v) for v in value["$sortedlist"])
        if "$sorteddict" in value:
            return SortedDict((self.decode(k), self.decode(v)) for k, v in value["$sorteddict"])
        if "$dict" in value:
            return {self.decode(k): self.decode(v) for k, v in value["$dict"]}
        if "$tuple" in value:
            return tuple(self.decode(v) for v in value["$tuple"])
        if "$set" in value:
            return {self.decode(v) for v in value["$set"]}
        if "$frozenset" in value:
            return frozenset(self.decode(v) for v in value["$frozenset"])
        if "$slots" in value:
            cls = _lookup(value["$slots"])
            names = _field_names(cls) if isinstance(cls, type) else None
            values = value.get("v")
            if not names or not isinstance(values, list) or len(values) != len(names):
                raise SnapshotError(f"{value['$slots']!r} record does not match this version's fields")
            obj = cls.__new__(cls)
            for name, field in zip(names, values, strict=True):
                object.__setattr__(obj, name, self.decode(field))
            return obj
        if "$object" in value:
            cls = _lookup(value["$object"])
            obj = cls.__new__(cls)
            for name, field in value.get("fields", {}).items():
                object.__setattr__(obj, name, self.decode(field))
            _fill_runtime_fields(obj)
            return obj
        raise SnapshotError(f"unknown tag in {sorted(value)}")


def _lookup(qualified: Any) -> Any:
    if not isinstance(qualified, str) or ":" not in qualified:
        raise SnapshotError(f"bad class or function name {qualified!r}")
    module_name, _, name = qualified.partition(":")
    if not module_name.startswith(ALLOWED_MODULE_PREFIX):
        raise SnapshotError(f"{qualified!r} is outside {ALLOWED_MODULE_PREFIX}*")
    try:
        target: Any = importlib.import_module(module_name)
        for part in name.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError):
        raise SnapshotError(f"{qualified!r} does not exist in this version of genomics-mock") from None
    return target


def _fill_runtime_fields(obj: Any) -> None:
    """Dataclass fields left out on save (an operation's job, future, done event) get fresh values."""
    if not dataclasses.is_dataclass(obj):
        return
    for f in dataclasses.fields(obj):
        if hasattr(obj, f.name):
            continue
        if f.default_factory is not dataclasses.MISSING:
            object.__setattr__(obj, f.name, f.default_factory())
        elif f.default is not dataclasses.MISSING:
            object.__setattr__(obj, f.name, f.default)
        else:
            object.__setattr__(obj, f.name, None)


# -- whole backend --------------------------------------------------------------------------


def _component_names(backend: Backend) -> dict[str, Any]:
    return {name: comp for name, comp in vars(backend).items() if comp in backend.components}


def _component_state(name: str, component: Any) -> dict[str, Any]:
    skip = {"backend"} | component.transient
    return {k: v for k, v in vars(component).items() if k not in skip}


def snapshot(backend: Backend, tokens: TokenRegistry | None = None) -> dict[str, Any]:
    """The backend's whole state (and the token registry's, when given) as a JSON-able dict."""
    with backend.lock:
        states = {name: _component_state(name, comp) for name, comp in _component_names(backend).items()}
        encoder = _Encoder()
        encoder.count(states)
        components = {name: encoder.encode(state) for name, state in states.items()}
        clock = backend.clock.now() if isinstance(backend.clock, FakeClock) else None
        return {
            "format": FORMAT,
            "version": VERSION,
            "generator": f"genomics-mock {_package_version()}",
            "savedAt": rfc3339(datetime.now(UTC)),
            "clock": rfc3339(clock) if clock else None,
            "ids": backend.ids.issued(),
            "pageTokenSecret": base64.b64encode(backend.pager.tokens.secret).decode("ascii"),
            "iam": backend.iam.snapshot(),
            "tokens": tokens.snapshot() if tokens is not None else None,
            "components": components,
        }


@functools.cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genomics-mock")
    except PackageNotFoundError:
        return "unknown"


def check_document(document: Any) -> None:
    """Raise :class:`SnapshotError` unless ``document`` is a state this version can load."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(f"not a genomics-mock state document (expected \"format\": \"{FORMAT}\")")
    version = document.get("version")
    if version != VERSION:
        raise SnapshotError(
            f"state version {version!r} is not supported (this server reads version {VERSION})"
        )
    if not isinstance(document.get("components"), dict):
        raise SnapshotError("state document has no components object")


def restore(backend: Backend, document: Any, tokens: TokenRegistry | None = None) -> None:
    """Replace the backend's state with ``document`` (all decoded before anything changes)."""
    check_document(document)
    names = _component_names(backend)
    unknown = set(document["components"]) - set(names)
    if unknown:
        raise SnapshotError(f"state names components this server lacks: {', '.join(sorted(unknown))}")
    try:
        decoder = _Decoder()
        states = {name: decoder.decode(state) for name, state in document["components"].items()}
        for name, state in states.items():
            if not isinstance(state, dict):
                raise SnapshotError(f"components.{name} must be an object")
            expected = set(_component_state(name, names[name]))
            if set(state) != expected:
                raise SnapshotError(
                    f"components.{name} holds {sorted(state)}, this server keeps {sorted(expected)}: "
                    "the state was written by another genomics-mock version"
                )
        from mockserver.backend.policies import check_config

        check_config(document.get("iam") or {})  # validate before touching anything
        scratch_tokens = None
        if tokens is not None and document.get("tokens") is not None:
            from mockserver.auth import TokenRegistry

            scratch_tokens = TokenRegistry().load(document["tokens"])
        clock = parse_rfc3339(document["clock"]) if document.get("clock") else None
    except SnapshotError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed content is a refusal, not a crash
        raise SnapshotError(f"state document is malformed: {exc}") from None
    with backend.lock:
        backend.reset()
        for name, state in states.items():
            component = names[name]
            for key, value in state.items():
                setattr(component, key, value)
            component.after_restore()
        backend.iam.restore(document.get("iam") or {})
        backend.ids.clear()
        for ident in document.get("ids") or ():
            backend.ids.reserve(ident)
        secret = document.get("pageTokenSecret")
        if secret:
            backend.pager.tokens.secret = base64.b64decode(secret)
        if clock is not None and isinstance(backend.clock, FakeClock):
            backend.clock.set(clock)
        if scratch_tokens is not None and tokens is not None:
            tokens.clear()
            tokens.load(scratch_tokens.snapshot())
