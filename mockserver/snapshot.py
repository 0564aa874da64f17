"""The whole state as one versioned JSON document, and back: data only, never code.

Used by the state file (:mod:`mockserver.persistence`), ``GET/PUT /_mock/state``,
the reset baseline and seed roll-back. The document is the tables of every
:class:`~mockserver.backend.tables.Stateful` the server has, by their plain
names (version 2)::

    {"format": "genomics-mock-state", "version": 2, "generator": "...", "savedAt": "...",
     "state": {"server": {"settings": {...}}, "ids": {"issued": {...}}, "iam": {...},
               "tokens": {"tokens": {...}, "apiKeys": {...}},
               "datasets": {"records": {"<id>": {...}}, "deleted": {...}}, ...}}

(a state file also says which journal segment follows it: ``"journal": N``).
The names form a fixed registry — ``Backend.participants()`` plus ``tokens``
— and each table's values are checked and built by its declared ``load``
function, so a document can name nothing else: an unknown name, a value of the
wrong shape or a document of another format is refused *as a whole* with a
message naming its JSON pointer, before anything is changed. Version 1
documents (what releases before the journal wrote) are upgraded on load by
:mod:`mockserver.state_v1`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from mockserver.backend.clock import rfc3339
from mockserver.backend.tables import ChangeFeed, RecordError, Stateful, TableSpec
from mockserver.rendering import as_doubles
from mockserver.state_v1 import UpgradeError, upgrade

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

FORMAT = "genomics-mock-state"
VERSION = 2
#: top-level members a document may have
HEADER_FIELDS = frozenset({"format", "version", "generator", "savedAt", "journal", "state"})
#: entries encoded per lock hold while a state file is written (a few milliseconds each)
CHUNK = 2000

#: participant name -> table name -> key -> stored value
Decoded = dict[str, dict[str, dict[str, Any]]]


class SnapshotError(ValueError):
    """A document that is not a state this server can load (the message says where and why)."""


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) to ``parts``."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def registry(backend: Backend, tokens: TokenRegistry | None = None) -> dict[str, Stateful]:
    """Every name a document may use, and what it restores into."""
    named = {name: part for name, part in backend.participants().items() if part.tables}
    if tokens is not None:
        named["tokens"] = tokens
    return named


# -- writing --------------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    """JSON bytes of stored data; integers wider than 64 bits (which orjson refuses) are written
    as doubles, as responses show them (``rendering.as_doubles``)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return orjson.dumps(as_doubles(value))


def header(**extra: Any) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "generator": f"genomics-mock {_package_version()}",
        "savedAt": rfc3339(datetime.now(UTC)),
        **extra,
    }


def stream(backend: Backend, tokens: TokenRegistry | None = None, *,
           lock: AbstractContextManager[Any] | None = None, **extra: Any) -> Iterator[bytes]:
    """The document in pieces of :data:`CHUNK` entries, each made under ``lock`` (the backend
    lock unless given).

    A consistent cut only when nothing changes the state meanwhile: hold the backend lock
    around the whole iteration (:func:`snapshot_bytes`), or iterate a process's own copy —
    the compaction child of :mod:`mockserver.persistence` passes a no-op ``lock``, since the
    lock it inherited from ``fork`` is held by a thread that does not exist there.
    """
    hold = backend.lock if lock is None else lock
    yield orjson.dumps(header(**extra))[:-1] + b',"state":{'
    for n, (name, participant) in enumerate(registry(backend, tokens).items()):
        yield (b"," if n else b"") + orjson.dumps(name) + b":{"
        with hold:
            tables = participant.state_tables()
        for t, spec in enumerate(participant.tables):
            table = tables[spec.name]
            yield (b"," if t else b"") + orjson.dumps(spec.name) + b":{"
            with hold:
                keys = tuple(table)  # a tuple of strings: the collector stops tracking it
            written = False
            for start in range(0, len(keys), CHUNK):
                with hold:
                    dump = spec.dump
                    chunk = keys[start : start + CHUNK]
                    data = encode({k: dump(table[k]) for k in chunk if k in table})
                if len(data) > 2:
                    yield (b"," if written else b"") + data[1:-1]
                    written = True
            yield b"}"
        yield b"}"
    yield b"}}"


def snapshot_bytes(backend: Backend, tokens: TokenRegistry | None = None) -> bytes:
    """The whole state, consistent (the backend lock is held throughout), as JSON bytes."""
    with backend.lock:
        return b"".join(stream(backend, tokens))


def snapshot(backend: Backend, tokens: TokenRegistry | None = None) -> dict[str, Any]:
    """The whole state as a fresh JSON-able dict (nothing in it is shared with the backend)."""
    return orjson.loads(snapshot_bytes(backend, tokens))


@functools.cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("genomics-mock")
    except PackageNotFoundError:
        return "unknown"


# -- reading --------------------------------------------------------------------------------


def parse(data: bytes | str) -> Any:
    """JSON text -> value; a syntax error is a :class:`SnapshotError` naming the byte offset."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"not JSON at offset {exc.pos}: {exc.msg}") from None


def check_header(document: Any) -> Mapping[str, Any]:
    """The document's top level, upgraded to this version; :class:`SnapshotError` otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(f'not a genomics-mock state document (expected "format": "{FORMAT}")')
    version = document.get("version")
    if version == 1:
        try:
            return {"format": FORMAT, "version": VERSION, "state": upgrade(document)}
        except UpgradeError as exc:
            raise SnapshotError(f"version 1 document: {exc}") from None
    if type(version) is not int or version < 1:
        raise SnapshotError(f"/version: {version!r} is not a state format version")
    if version > VERSION:
        raise SnapshotError(
            f"/version: state version {version} was written by a newer genomics-mock "
            f"(this server reads versions 1 to {VERSION})"
        )
    unknown = set(document) - HEADER_FIELDS
    if unknown:
        raise SnapshotError(f"{pointer(sorted(unknown)[0])}: not part of a state document")
    for name in ("generator", "savedAt"):
        if name in document and not isinstance(document[name], str):
            raise SnapshotError(f"/{name}: must be a string")
    if not isinstance(document.get("state"), dict):
        raise SnapshotError("/state: missing, or not an object")
    return document


def decode(document: Any, names: Mapping[str, Stateful]) -> Decoded:
    """Check a whole document against ``names`` (see :func:`registry`) and build every stored value.

    Raises :class:`SnapshotError` naming the first problem's JSON pointer; nothing outside
    the returned value is touched.
    """
    state = check_header(document)["state"]
    decoded: Decoded = {}
    for name, tables in state.items():
        participant = names.get(name)
        if participant is None:
            raise SnapshotError(f"{pointer('state', name)}: this server keeps no state named {name!r} "
                                f"(it keeps {', '.join(names)})")
        decoded[name] = decode_tables(participant, tables, ("state", name))
    return decoded


def decode_tables(participant: Stateful, tables: Any, where: tuple[Any, ...]) -> dict[str, dict[str, Any]]:
    if not isinstance(tables, dict):
        raise SnapshotError(f"{pointer(*where)}: must be an object of tables")
    specs = {spec.name: spec for spec in participant.tables}
    out: dict[str, dict[str, Any]] = {}
    for table_name, values in tables.items():
        spec = specs.get(table_name)
        if spec is None:
            known = ", ".join(specs)
            raise SnapshotError(f"{pointer(*where, table_name)}: no such table (there are {known})")
        if not isinstance(values, dict):
            raise SnapshotError(f"{pointer(*where, table_name)}: must be an object keyed by id")
        load = spec.load
        try:
            out[table_name] = {key: load(key, value) for key, value in values.items()}
        except RecordError:  # find which one (a million rows load fastest without a loop of ours)
            for key, value in values.items():
                try:
                    load(key, value)
                except RecordError as exc:
                    where_exactly = pointer(*where, table_name, key, *exc.path)
                    raise SnapshotError(f"{where_exactly}: {exc.message}") from None
            raise
    return out


def table_spec(names: Mapping[str, Stateful], participant: Any, table: Any) -> TableSpec:
    """The spec of ``participant``'s table ``table``, or :class:`SnapshotError`."""
    owner = names.get(participant) if isinstance(participant, str) else None
    spec = next((s for s in owner.tables if s.name == table), None) if owner is not None else None
    if spec is None:
        raise SnapshotError(f"{pointer(participant, table)}: no such table")
    return spec


def decode_value(names: Mapping[str, Stateful], participant: Any, table: Any, key: Any, value: Any) -> Any:
    """One stored value (a journal's put), checked like a document's."""
    spec = table_spec(names, participant, table)
    if not isinstance(key, str):
        raise SnapshotError(f"{pointer(participant, table)}: keys are strings")
    try:
        return spec.load(key, value)
    except RecordError as exc:
        raise SnapshotError(f"{pointer(participant, table, key, *exc.path)}: {exc.message}") from None


# -- installing -----------------------------------------------------------------------------


@contextmanager
def muted(*feeds: ChangeFeed) -> Iterator[None]:
    """Nothing reported while installing (the caller journals the replacement as one entry)."""
    saved = [feed.listener for feed in feeds]
    for feed in feeds:
        feed.listener = None
    try:
        yield
    finally:
        for feed, listener in zip(feeds, saved, strict=True):
            feed.listener = listener


def install(backend: Backend, decoded: Decoded, tokens: TokenRegistry | None = None) -> None:
    """Replace the state with decoded tables: every participant is emptied and filled, then
    rebuilds its indexes. Tokens are replaced only when ``decoded`` holds them."""
    names = registry(backend, tokens if tokens is not None and "tokens" in decoded else None)
    feeds = [backend.changes] + ([tokens.feed] if tokens is not None else [])
    with backend.lock, muted(*feeds):
        for name, participant in names.items():
            participant.install(decoded.get(name, {}))
        for participant in names.values():
            participant.after_restore()


def restore(backend: Backend, document: Any, tokens: TokenRegistry | None = None) -> None:
    """Replace the backend's state (and the tokens', when the document holds them) with
    ``document`` (a dict, or JSON bytes), all checked before anything changes; the journal,
    when one listens, records the replacement as one entry."""
    if isinstance(document, (bytes, str)):
        raw = document.encode() if isinstance(document, str) else document
        document = parse(raw)
    else:
        raw = None
    decoded = decode(document, registry(backend, tokens))
    with backend.lock:
        listener = backend.changes.listener
        if listener is not None:
            listener.replaced(raw if raw is not None else orjson.dumps(document))
        install(backend, decoded, tokens)


def empty_document(tokens: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A document of an empty state (holding ``tokens``, a token-file mapping, when given)."""
    state: dict[str, Any] = {}
    if tokens is not None:
        state["tokens"] = {section: dict(tokens.get(section) or {}) for section in ("tokens", "apiKeys")}
    return {**header(), "state": state}
