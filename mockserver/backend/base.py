"""What every resource component shares: its lock, clock and the steps each resource repeats.

A resource module declares what is particular to it and inherits the rest::

    class VariantSets(Component):
        kind = Kind("Variant set", "variantSetId", "genomics.variantSets", parent="datasets")
        updates = Updates("variantsets.patch", ("metadata", "name", "description"))

        def changes(self, record, body, fields): ...   # checked values of the masked fields
        def remove(self, record): ...                  # delete: drop it, and the call sets in it

    # in its own methods:
    record = self.require(variant_set_id)                     # the record, or its 404
    self.authorize(principal, "genomics.callSets.create", record)
    return self.page_of(SEARCH, query, [index], keep, page_size=..., page_token=...)

* :meth:`Component.get`, :meth:`Component.update` and :meth:`Component.delete`
  are the API's get, update/patch and delete: find, authorize, act;
* :meth:`Component.require` finds a visible record or raises the resource's
  unknown-id 404 (naming the field the caller used);
* :meth:`Component.authorize` checks a full permission name on the record's IAM
  resource (:meth:`Component.resource`: its parent's, up to the dataset); a caller
  holding nothing there gets the very 404 an unknown id gets, so existence
  never leaks. A child checks its parent's permission through the parent:
  ``datasets.authorize(principal, "genomics.variantSets.create", dataset)``;
* :meth:`Component.page_of` answers a declared list or search
  (:class:`~mockserver.backend.paging.Listing`) from sorted id indexes;
* state: a component is :class:`~mockserver.backend.tables.Stateful`. Its
  records live in the ``records`` table (what ``tables`` declares, by default
  JSON records keyed by id; a resource with more state declares more tables),
  every write to a table is journaled when the server persists its state, and
  :meth:`Component.after_restore` rebuilds the indexes from the tables.
"""

from __future__ import annotations

import copy
import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, ParamSpec, Protocol, TypeVar

from sortedcontainers import SortedList

from mockserver.backend.fieldmask import apply_mask, parse_update_mask
from mockserver.backend.paging import Listing, merged_after
from mockserver.backend.request_fields import request_body
from mockserver.backend.tables import Stateful, TableSpec, json_records
from mockserver.errors import ApiError, not_found

if TYPE_CHECKING:
    from mockserver.backend import Backend
    from mockserver.backend.clock import Clock
    from mockserver.backend.principals import Principal

P = ParamSpec("P")
R = TypeVar("R")


class Locked(Protocol):
    @property
    def lock(self) -> threading.RLock: ...


L = TypeVar("L", bound=Locked)


def synchronized(method: Callable[Concatenate[L, P], R]) -> Callable[Concatenate[L, P], R]:
    """Run a method under its object's (the backend's) re-entrant lock.

    Handlers run on one event loop, but tests and the admin API call the
    backend from other threads; one lock per backend makes every public
    operation atomic (no lost write, no torn read) at in-memory speed.
    """

    @functools.wraps(method)
    def wrapper(self: L, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Kind:
    """What a resource is, for the steps every resource shares.

    ``noun`` and ``id_field`` word the unknown-id 404 ("Variant set '7' not
    found (variantSetId)"); ``permissions`` prefixes the permissions of the
    standard methods (``genomics.variantSets`` + ``.get``/``.update``/``.delete``);
    ``parent`` is the backend attribute of the component whose records contain
    these ("datasets"): a record is visible while its parent is, and
    permissions are checked on the parent's IAM resource; ``public`` data has
    no existence to hide (a caller without access gets 403, never 404).
    """

    noun: str
    id_field: str
    permissions: str
    parent: str | None = None
    public: bool = False


@dataclass(frozen=True)
class Updates:
    """The standard update: the API method updateMask errors name ("variantsets.patch") and the
    fields it may change (no updateMask: all of them)."""

    method: str
    fields: tuple[str, ...]


class Component(Stateful):
    """One resource's state and rules (see module docstring).

    State: the ``records`` table (``_records``: id -> stored record) and
    ``_groups`` (group key -> the ids of the group's records in id order: a
    dataset's variant sets, a project's datasets), which lists and searches
    walk. A subclass with more state declares more :attr:`tables` and extends
    :meth:`reset` and :meth:`after_restore`.
    """

    #: what the resource is (every component holding records declares one)
    kind: ClassVar[Kind]
    #: None: the resource has no update method
    updates: ClassVar[Updates | None] = None
    #: the persistent state: API records keyed by id
    tables: ClassVar[tuple[TableSpec, ...]] = (TableSpec("records", json_records()),)
    derived: ClassVar[frozenset[str]] = frozenset({"backend", "lock", "feed", "_groups"})

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: the backend's lock (an attribute, not a property: every public method takes it)
        self.lock: threading.RLock = backend.lock
        self.feed = backend.changes
        self.reset()

    def reset(self) -> None:
        """Forget all state (containers replaced: microseconds)."""
        declared = any(spec.name == "records" for spec in self.tables)
        self._records: dict[str, Any] = self.table("records") if declared else {}
        self._groups: dict[str, SortedList] = {}

    def after_restore(self) -> None:
        """Rebuild the group indexes from the records (after a saved state was installed)."""
        groups: dict[str, list[str]] = {}
        for item_id, record in self._records.items():
            group = self.group_of(record)
            if group is not None:
                groups.setdefault(group, []).append(item_id)
        self._groups = {group: SortedList(ids) for group, ids in groups.items()}

    @property
    def clock(self) -> Clock:
        return self.backend.clock

    # -- storing ----------------------------------------------------------------------

    def parent_id(self, record: Any) -> str:
        """The id of the record's parent (see :attr:`parent`)."""
        return record["datasetId"]

    def group_of(self, record: Any) -> str | None:
        """The group a record is listed in: its parent by default (None: in no group)."""
        return self.parent_id(record) if self.kind.parent else None

    def add_record(self, record: Any) -> None:
        item_id = self.id_of(record)
        self._records[item_id] = record
        group = self.group_of(record)
        if group is not None:
            self._groups.setdefault(group, SortedList()).add(item_id)

    def drop_record(self, record: Any) -> None:
        item_id = self.id_of(record)
        del self._records[item_id]
        group = self.group_of(record)
        if group is not None:
            self._groups[group].discard(item_id)

    def stored(self, record: Any) -> None:
        """Journal ``record`` again after changing it in place."""
        self._records.touch(self.id_of(record))  # type: ignore[attr-defined]

    def groups(self, keys: Iterable[str]) -> list[SortedList | None]:
        """The id indexes of the groups ``keys`` (None for a group with no record)."""
        return [self._groups.get(key) for key in keys]

    # -- one record -------------------------------------------------------------------

    def _parent(self) -> Component:
        assert self.kind.parent is not None, f"{type(self).__name__} has no parent"
        return getattr(self.backend, self.kind.parent)

    def visible(self, record: Any) -> bool:
        """Whether a stored record shows at all: while its parent does (always without one)."""
        return self.kind.parent is None or self._parent().find(self.parent_id(record)) is not None

    def find(self, item_id: Any) -> Any | None:
        """The stored record when it exists and is visible; no permission check."""
        record = self._records.get(item_id) if isinstance(item_id, str) and item_id else None
        return record if record is not None and self.visible(record) else None

    def require(self, item_id: Any, *, field: str | None = None) -> Any:
        """The stored record (see :meth:`find`), or the unknown-id 404 naming ``field``."""
        record = self.find(item_id)
        if record is None:
            raise self.missing(item_id, field)
        return record

    def missing(self, item_id: Any, field: str | None = None) -> ApiError:
        """The unknown-id 404; also what a caller who may not see the record gets."""
        return not_found(f"{self.kind.noun} {item_id!r} not found ({field or self.kind.id_field})")

    def id_of(self, record: Any) -> str:
        return record["id"]

    def resource(self, record: Any) -> str:
        """The IAM resource permissions on ``record`` are checked on: its parent's, and a record
        without parent is its own, named like its permissions (genomics.datasets: datasets/<id>)."""
        if self.kind.parent is None:
            return f"{self.kind.permissions.removeprefix('genomics.')}/{self.id_of(record)}"
        parent = self._parent()
        return parent.resource(parent.require(self.parent_id(record)))

    def authorize(
        self,
        principal: Principal,
        permission: str,
        record: Any,
        *,
        field: str | None = None,
        hidden: ApiError | Callable[[], ApiError] | None = None,
    ) -> None:
        """403 or 404 unless ``principal`` holds ``permission`` (a full name) on the record's resource.

        The 404 for a caller holding nothing there is ``hidden``, by default
        this record's unknown-id error for ``field``.
        """
        if hidden is None and not self.kind.public:
            hidden = functools.partial(self.missing, self.id_of(record), field)
        self.backend.iam.authorize(principal, permission, self.resource(record), hidden=hidden)

    def require_all(
        self, principal: Principal, permission: str, item_ids: Iterable[Any], *, field: str
    ) -> list[Any]:
        """Every record named in ``field``: each must exist (404), then each must permit
        ``permission`` (403, or 404 when the caller holds nothing there)."""
        records = [self.require(item_id, field=field) for item_id in item_ids]
        for record in records:
            self.authorize(principal, permission, record, field=field)
        return records

    # -- the standard methods ---------------------------------------------------------

    def render(self, record: Any) -> dict[str, Any]:
        """A stored record as the API returns it."""
        return public(record)

    @synchronized
    def get(self, principal: Principal, item_id: str) -> dict[str, Any]:
        record = self.require(item_id)
        self.authorize(principal, f"{self.kind.permissions}.get", record, hidden=self._hidden(item_id))
        return self.render(record)

    @synchronized
    def update(
        self, principal: Principal, item_id: str, body: dict[str, Any] | None, update_mask: str | None = None
    ) -> dict[str, Any]:
        """Change the fields ``update_mask`` names (all of :attr:`updates` without one); every
        value is checked (:meth:`changes`) before anything changes."""
        record = self.require(item_id)
        self.authorize(principal, f"{self.kind.permissions}.update", record, hidden=self._hidden(item_id))
        if self.updates is None:
            raise NotImplementedError(f"{type(self).__name__} has no update")
        body = request_body(body)
        fields = parse_update_mask(update_mask, self.updates.fields, method=self.updates.method)
        self.apply_changes(record, self.changes(record, body, fields), fields)
        self.stored(record)
        return self.render(record)

    @synchronized
    def delete(self, principal: Principal, item_id: str) -> dict[str, Any]:
        record = self.require(item_id)
        self.authorize(principal, f"{self.kind.permissions}.delete", record, hidden=self._hidden(item_id))
        self.remove(record)
        return {}

    def changes(self, record: Any, body: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        """The checked new value of each field in ``fields`` (None or absent: clear it)."""
        return {field: body.get(field) for field in fields}

    def apply_changes(self, record: Any, values: dict[str, Any], fields: list[str]) -> None:
        apply_mask(record, copy.deepcopy(values), fields)

    def remove(self, record: Any) -> None:
        """What delete does to the record: drop it for good (extended where it holds others)."""
        self.drop_record(record)

    def _hidden(self, item_id: Any) -> Callable[[], ApiError] | None:
        """The 404 for a caller holding nothing on the record: the error of the id it named."""
        return None if self.kind.public else functools.partial(self.missing, item_id)

    # -- lists and searches -----------------------------------------------------------

    def page_of(
        self,
        listing: Listing,
        query: Mapping[str, Any],
        indexes: Iterable[Any],
        keep: Callable[[Any], bool] | None = None,
        *,
        page_size: Any,
        page_token: str | None,
        records: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One page of ``listing``: the records whose ids the sorted ``indexes`` hold, merged in
        id order, that ``keep`` accepts (all when None); ``query`` binds the page tokens.
        ``records`` maps the ids to records (default: the component's own)."""
        records = self._records if records is None else records
        indexes = [index for index in indexes if index]

        def stream(cursor: list[Any] | None) -> Iterator[Any]:
            for item_id in merged_after(indexes, cursor[0] if cursor else None):
                record = records[item_id]
                if keep is None or keep(record):
                    yield record

        return self.backend.pager.respond(
            listing, query, page_size=page_size, page_token=page_token, stream=stream, render=self.render
        )


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored record that callers may mutate freely.

    Records are JSON trees: their dicts and lists are copied and their immutable leaves
    shared, ~4x faster than ``copy.deepcopy`` (a GET renders one on every call); any other
    value is deep-copied."""
    return _copy_tree(record)


_LEAVES = (str, int, float, type(None))  # bool is an int


def _copy_tree(value: Any) -> Any:
    if type(value) is dict:
        return {key: _copy_tree(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy_tree(item) for item in value]
    if isinstance(value, _LEAVES):
        return value
    return copy.deepcopy(value)


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """Proto3 JSON: drop fields at their default (None, "", 0, False, [], {})."""
    return {k: v for k, v in record.items() if v not in (None, "", 0, False, [], {})}
