"""Persistent state as named tables of plain JSON records, and the one hook that journals writes.

Everything a server must remember is held in :class:`Table` s: dicts from a
string key to a stored value, each declared by a :class:`TableSpec` that says
how a value is written as JSON (``dump``) and how JSON is checked and turned
back into a value (``load``). A :class:`Stateful` object (every component, IAM,
the id generator, the server settings, the token registry) declares its specs
in ``tables`` and rebuilds everything else — sorted indexes, caches — from its
tables in :meth:`Stateful.after_restore`.

A table reports each write (``table[key] = value``, ``del table[key]``,
``table.pop(key)``) to its owner's :class:`ChangeFeed`; a record changed in
place is reported again with :meth:`Table.touch`. Nothing listens unless the
server runs with ``--state`` (then the journal does, see
``mockserver.persistence``), so in-memory use pays one attribute check per
write. The bulk dict methods that would bypass the report (``update``,
``setdefault``, ``clear`` …) are refused.

``load`` functions are the only way a state document becomes live objects:
they check shapes and types and build values from a fixed set of record
types, so a document can never name code to run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, Protocol

#: how deep a JSON value in a stored record may nest: a request body may nest 100 levels, and a
#: record holds one a few levels down (an operation's metadata.request)
MAX_DEPTH = 120
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def is_valid_id(value: str) -> bool:
    """Whether ``value`` can be a server id: non-empty, without ``:`` or ``/`` (see
    :mod:`mockserver.backend.ids`, which re-exports this)."""
    return bool(value) and ":" not in value and "/" not in value


class RecordError(ValueError):
    """A stored value that does not have its table's shape; ``path`` locates it inside the value."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class ChangeListener(Protocol):
    """What a journal implements to hear about every write (see module docstring)."""

    def put(self, table: Table, key: str, value: Any) -> None: ...

    def delete(self, table: Table, key: str) -> None: ...

    def reset(self) -> None:
        """The backend was emptied (``Backend.reset``)."""
        ...

    def replaced(self, document: bytes) -> None:
        """The whole state was replaced by a state document (JSON bytes)."""
        ...


class ChangeFeed:
    """Where the tables of one backend (or one token registry) report their writes."""

    __slots__ = ("listener",)

    def __init__(self) -> None:
        self.listener: ChangeListener | None = None


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class TableSpec:
    """One table of a :class:`Stateful`: its name in the state document and its codec.

    ``load(key, json)`` checks a JSON value and returns what the table stores
    (raising :class:`RecordError`); ``dump(stored)`` is its JSON form (the
    stored value itself for tables of JSON records).
    """

    name: str
    load: Callable[[str, Any], Any]
    dump: Callable[[Any], Any] = _same


class Table(dict[str, Any]):
    """A dict whose writes are reported to its owner's feed (see module docstring)."""

    __slots__ = ("owner", "spec")

    def __init__(self, owner: Stateful, spec: TableSpec) -> None:
        super().__init__()
        self.owner = owner
        self.spec = spec

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        listener = self.owner.feed.listener
        if listener is not None:
            listener.put(self, key, value)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        listener = self.owner.feed.listener
        if listener is not None:
            listener.delete(self, key)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        if key not in self:
            if default:
                return default[0]
            raise KeyError(key)
        value = dict.pop(self, key)
        listener = self.owner.feed.listener
        if listener is not None:
            listener.delete(self, key)
        return value

    def touch(self, key: str) -> None:
        """Report again the value under ``key``, changed in place."""
        listener = self.owner.feed.listener
        if listener is not None:
            listener.put(self, key, dict.__getitem__(self, key))

    def clear(self) -> None:
        """Remove every entry (each removal is reported)."""
        for key in list(self):
            del self[key]

    def fill(self, values: dict[str, Any]) -> None:
        """Load decoded values without reporting them (installing a saved state)."""
        dict.update(self, values)

    def _refuse(self, *_args: Any, **_kwargs: Any) -> NoReturn:
        raise TypeError("a Table is written with table[key] = value, del table[key], pop, clear or touch")

    update = setdefault = popitem = __ior__ = _refuse  # type: ignore[assignment]


class Stateful:
    """An object whose persistent state is the tables it declares (see module docstring)."""

    #: the tables this object's state consists of
    tables: ClassVar[tuple[TableSpec, ...]] = ()
    #: its other attributes that hold more than a plain value: indexes and caches that
    #: :meth:`after_restore` rebuilds from the tables, or runtime machinery; nothing else may
    #: hold state (a test checks every participant), or it would be lost on restart
    derived: ClassVar[frozenset[str]] = frozenset()
    #: where its tables report writes
    feed: ChangeFeed

    def table(self, name: str) -> Table:
        """A new, empty table ``name`` (one of :attr:`tables`), replacing the previous one."""
        spec = next((s for s in self.tables if s.name == name), None)
        if spec is None:
            raise KeyError(f"{type(self).__name__} declares no table {name!r}")
        created = Table(self, spec)
        if "_state_tables" not in vars(self):
            self._state_tables: dict[str, Table] = {}
        self._state_tables[name] = created
        return created

    def state_tables(self) -> dict[str, Table]:
        """The current table of each declared name."""
        return dict(getattr(self, "_state_tables", {}))

    def reset(self) -> None:
        """Forget all state: every table is replaced by an empty one (subclasses add their indexes)."""
        for spec in self.tables:
            self.table(spec.name)

    def install(self, decoded: dict[str, dict[str, Any]]) -> None:
        """Replace the state with decoded tables (name -> key -> stored value); nothing is reported.

        :meth:`after_restore` is called separately, once every object of the backend has its
        tables, since some indexes read other objects' tables.
        """
        self.reset()
        tables = self.state_tables()
        for name, values in decoded.items():
            tables[name].fill(values)

    def after_restore(self) -> None:
        """Rebuild what is derived from the tables (indexes, caches) after :meth:`install`."""


# -- checking JSON values ----------------------------------------------------------------------


def fail(message: str, *path: str | int) -> NoReturn:
    raise RecordError(message, *path)


def check_json(value: Any, *path: str | int) -> None:
    """Raise :class:`RecordError` unless ``value`` is plain JSON a response can render: objects
    with string keys, finite numbers, 64-bit integers, strings of Unicode scalar values."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        kind = type(item)
        if kind is str:
            _check_text(item, where)
        elif kind is dict:
            if len(where) - len(path) >= MAX_DEPTH:
                fail(f"nested deeper than {MAX_DEPTH} levels", *where)
            for key, inner in item.items():
                if type(key) is not str:
                    fail("object keys must be strings", *where)
                _check_text(key, where)
                stack.append((inner, (*where, key)))
        elif kind is list:
            if len(where) - len(path) >= MAX_DEPTH:
                fail(f"nested deeper than {MAX_DEPTH} levels", *where)
            stack.extend((inner, (*where, i)) for i, inner in enumerate(item))
        elif kind is int:
            if not _INT_MIN <= item <= _INT_MAX:
                fail("integer out of the 64-bit range", *where)
        elif kind is float:
            if not math.isfinite(item):
                fail("numbers must be finite", *where)
        elif item is not None and kind is not bool:
            fail(f"not a JSON value ({kind.__name__})", *where)


def _check_text(text: str, where: tuple[str | int, ...]) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            fail("strings must not hold lone surrogates", *where)


def text(value: Any, *path: str | int, optional: bool = False) -> str | None:
    """A non-empty string (or, with ``optional``, None)."""
    if value is None and optional:
        return None
    if type(value) is not str or not value:
        fail("must be a non-empty string", *path)
    _check_text(value, path)
    return value


def integer(value: Any, *path: str | int, low: int = 0, high: int = 2**63 - 1) -> int:
    if type(value) is not int or not low <= value <= high:
        fail(f"must be an integer from {low} to {high}", *path)
    return value


def json_object(value: Any, *path: str | int) -> dict[str, Any]:
    if type(value) is not dict:
        fail("must be an object", *path)
    check_json(value, *path)
    return value


def json_records(
    *required: str, key_field: str = "id", check: Callable[[dict[str, Any]], None] | None = None
) -> Callable[[str, Any], dict[str, Any]]:
    """The ``load`` of a table of API records: a JSON object whose ``key_field`` is its key (a
    server id) and whose ``required`` fields are non-empty strings; ``check`` adds rules."""

    def load(key: str, value: Any) -> dict[str, Any]:
        record = json_object(value)
        if record.get(key_field) != key or not is_valid_id(key):
            fail(f"{key_field} must equal the record's key, an id without ':' or '/'", key_field)
        for field in required:
            text(record.get(field), field)
        if check is not None:
            check(record)
        return record

    return load


def string_list(value: Any, *path: str | int) -> list[str]:
    if type(value) is not list:
        fail("must be a list of strings", *path)
    for i, item in enumerate(value):
        text(item, *path, i)
    return value


def flag(key: str, value: Any) -> bool:
    """The ``load`` of a set stored as a table: every value is ``true``."""
    if value is not True:
        fail("must be true")
    return True
