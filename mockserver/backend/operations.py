"""Long-running operations: the records behind ``operations/<id>`` and the runner.

Import and export hand the runner a :class:`Job` in two halves:

* ``prepare()`` — the slow part (reading or writing files), run **without** the
  backend lock so the server keeps answering other requests meanwhile;
* ``commit(payload)`` — the state change, run **under** the lock, all or
  nothing, only if the operation is still RUNNING (a cancelled or reset
  operation never commits).

Either half raises :class:`~mockserver.errors.ApiError` to fail the operation
with that ``google.rpc.Status``; any other exception becomes ``INTERNAL``.

Modes (``backend.operations.mode``; survives ``reset``):

* ``"background"`` (default) — a worker thread runs the job;
* ``"immediate"`` — the job runs inside the request, which returns the done operation;
* ``"manual"`` — the operation stays RUNNING until :meth:`Operations.complete`
  (tests and the admin API drive it).

``operations.list`` filters (all joined with ``AND``; ``projectId`` required)::

    projectId = p1 AND createTime >= 1546300800 AND status = RUNNING AND labels.env = prod
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sortedcontainers import SortedDict

from mockserver.backend.base import Component, Kind, compact, public, synchronized
from mockserver.backend.clock import parse_rfc3339, rfc3339
from mockserver.backend.paging import Listing
from mockserver.backend.principals import Principal
from mockserver.backend.storage import scrub
from mockserver.backend.tables import TableSpec, fail, integer, is_valid_id, json_object, text
from mockserver.errors import RPC_CODE, ApiError, invalid_argument

METADATA_TYPE = "type.googleapis.com/google.genomics.v1.OperationMetadata"
EMPTY_TYPE = "type.googleapis.com/google.protobuf.Empty"
LIST = Listing("operations.list", "operations", key=lambda entry: [entry.seq])
MODES = ("background", "immediate", "manual")
STATUSES = ("RUNNING", "SUCCESS", "FAILURE", "CANCELED")


@dataclass
class Job:
    """The work of one operation (see module docstring)."""

    prepare: Callable[[], Any]
    commit: Callable[[Any], dict[str, Any] | None]
    #: event descriptions recorded when the job starts and when it commits
    started: str = "Started"
    finished: str = "Finished"


@dataclass
class _Entry:
    record: dict[str, Any]
    job: Job | None
    seq: int
    generation: int
    future: Future | None = None
    done_event: threading.Event = field(default_factory=threading.Event)


def _saved(entry: _Entry) -> dict[str, Any]:
    """The saved form of an operation: its record and its place in creation order."""
    return {"seq": entry.seq, "operation": entry.record}


def _load(key: str, value: Any) -> _Entry:
    """A saved operation (its job died with the process that started it: see after_restore)."""
    if type(value) is not dict or set(value) != {"seq", "operation"}:
        fail("must be an object with seq and operation")
    seq = integer(value["seq"], "seq", low=1)
    record = json_object(value["operation"], "operation")
    if not is_valid_id(key) or record.get("name") != f"operations/{key}":
        fail("name must be operations/<the key>", "operation", "name")
    if type(record.get("done")) is not bool:
        fail("must be true or false", "operation", "done")
    metadata = json_object(record.get("metadata"), "operation", "metadata")
    text(metadata.get("projectId"), "operation", "metadata", "projectId")
    try:
        parse_rfc3339(text(metadata.get("createTime"), "operation", "metadata", "createTime") or "")
    except ValueError:
        fail("must be an RFC 3339 timestamp", "operation", "metadata", "createTime")
    if type(metadata.get("events", [])) is not list:
        fail("must be a list", "operation", "metadata", "events")
    return _Entry(record, None, seq, 0)


class Operations(Component):
    kind = Kind("Operation", "name", "genomics.operations")
    tables = (TableSpec("records", _load, _saved),)
    derived = Component.derived | {"_by_project", "_executor"}

    def __init__(self, backend: Any, *, mode: str = "background") -> None:
        self.mode = mode
        self._executor: ThreadPoolExecutor | None = None
        self._generation = 0
        super().__init__(backend)

    def reset(self) -> None:
        self._generation += 1
        self._records: dict[str, _Entry] = self.table("records")
        #: projectId -> seq -> operation id (creation order)
        self._by_project: dict[str, SortedDict] = {}
        self._seq = 0

    # -- used by import/export --------------------------------------------------------

    @synchronized
    def start(
        self,
        project_id: str,
        request: dict[str, Any],
        job: Job,
        *,
        labels: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record a RUNNING operation for ``job`` and run it according to :attr:`mode`."""
        if self.mode not in MODES:
            raise ValueError(f"unknown operations mode {self.mode!r}")
        op_id = self.backend.ids.new("E")
        now = rfc3339(self.clock.now())
        metadata = compact(
            {
                "@type": METADATA_TYPE,
                "projectId": project_id,
                "createTime": now,
                "request": request,
                "events": [],
                "labels": dict(labels or {}),
            }
        )
        metadata.setdefault("events", [])
        record = {"name": f"operations/{op_id}", "metadata": metadata, "done": False}
        self._seq += 1
        entry = _Entry(record, job, self._seq, self._generation)
        self._records[op_id] = entry
        self._by_project.setdefault(project_id, SortedDict())[self._seq] = op_id
        if self.mode == "immediate":
            self._run(entry)
        elif self.mode == "background":
            entry.future = self._pool().submit(self._run, entry)
        return self.render(entry)

    def complete(self, name: str) -> dict[str, Any]:
        """Run a pending (manual-mode) operation to its end now; returns its final state."""
        with self.backend.lock:
            entry = self.require(name)
        if entry.record["done"] or entry.future is not None:
            self.wait(name)
        else:
            self._run(entry)
        with self.backend.lock:
            return self.render(entry)

    def wait(self, name: str, timeout: float | None = 30.0) -> dict[str, Any]:
        """Block until the operation is done (background mode); returns its final state."""
        with self.backend.lock:
            entry = self.require(name)
        if entry.job is not None and entry.future is None and not entry.record["done"]:
            raise RuntimeError(f"{name} is waiting for complete() (manual mode)")
        if not entry.done_event.wait(timeout) and not entry.record["done"]:
            raise TimeoutError(f"{name} still running after {timeout}s")
        with self.backend.lock:
            return self.render(entry)

    def running(self) -> bool:
        """Whether any operation is still RUNNING (a background one may change state any moment)."""
        with self.backend.lock:
            return any(not entry.record["done"] for entry in self._records.values())

    def after_restore(self) -> None:
        """Operations saved while running lost their job: they end ABORTED, as after a crash."""
        for op_id, entry in self._records.items():
            entry.generation = self._generation
            project = entry.record["metadata"]["projectId"]
            self._by_project.setdefault(project, SortedDict())[entry.seq] = op_id
            self._seq = max(self._seq, entry.seq)
            if not entry.record.get("done"):
                entry.record["done"] = True
                entry.record["error"] = {
                    "code": RPC_CODE["ABORTED"],
                    "message": "The server restarted before this operation finished",
                }
            entry.done_event.set()

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- API methods ------------------------------------------------------------------

    @synchronized
    def list(
        self, principal: Principal, filter: str | None,
        page_size: int | None = None, page_token: str | None = None,
    ) -> dict[str, Any]:
        query = parse_filter(filter)
        project_id = query["projectId"]
        self.backend.iam.authorize(principal, "genomics.operations.list", f"projects/{project_id}")
        index = self._by_project.get(project_id, SortedDict())

        def stream(cursor: list[Any] | None) -> Iterator[_Entry]:
            start = cursor[0] if cursor else None
            for seq in index.irange(minimum=start, inclusive=(False, False)):
                entry = self._records[index[seq]]
                if _matches(entry.record, query):
                    yield entry

        return self.backend.pager.respond(
            LIST,
            {"filter": query},
            page_size=page_size,
            page_token=page_token,
            stream=stream,
            render=self.render,
        )

    @synchronized
    def cancel(self, principal: Principal, name: str) -> dict[str, Any]:
        entry = self.require(name)
        self.authorize(principal, "genomics.operations.cancel", entry, hidden=self._hidden(name))
        if not entry.record["done"]:
            self._event(entry, "Cancelled by request")
            self._finish(entry, error={"code": RPC_CODE["CANCELLED"], "message": "Operation cancelled"})
        return {}

    # -- internals --------------------------------------------------------------------

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genomics-operation")
        return self._executor

    def find(self, name: Any) -> _Entry | None:
        """The operation named ``operations/<id>`` (or just ``<id>``); a malformed name is a 400."""
        prefixed = isinstance(name, str) and name.startswith("operations/")
        op_id = name[len("operations/") :] if prefixed else name
        if not isinstance(op_id, str) or not op_id or "/" in op_id:
            raise invalid_argument(f"name: {name!r} is not an operation name (operations/<id>)")
        return self._records.get(op_id)

    def id_of(self, entry: _Entry) -> str:
        return entry.record["name"]

    def stored(self, entry: _Entry) -> None:
        """Journal an operation again after changing it in place (its key is the bare id)."""
        self._records.touch(entry.record["name"].removeprefix("operations/"))  # type: ignore[attr-defined]

    def resource(self, entry: _Entry) -> str:
        """Operations are checked on their project."""
        return f"projects/{entry.record['metadata']['projectId']}"

    def render(self, entry: _Entry) -> dict[str, Any]:
        return public(compact(dict(entry.record)))

    def _event(self, entry: _Entry, description: str) -> None:
        now = rfc3339(self.clock.now())
        entry.record["metadata"].setdefault("events", []).append(
            {"description": description, "startTime": now, "endTime": now}
        )

    def _live(self, entry: _Entry) -> bool:
        return entry.generation == self._generation and not entry.record["done"]

    def _run(self, entry: _Entry) -> None:
        job = entry.job
        assert job is not None
        with self.backend.lock:
            if not self._live(entry):
                entry.done_event.set()
                return
            entry.record["metadata"]["startTime"] = rfc3339(self.clock.now())
            self._event(entry, job.started)
            self.stored(entry)
        try:
            payload = job.prepare()
            with self.backend.lock:
                if not self._live(entry):
                    return
                response = job.commit(payload)
                self._event(entry, job.finished)
                self._finish(entry, response=response or {"@type": EMPTY_TYPE})
        except ApiError as err:
            with self.backend.lock:
                if self._live(entry):
                    self._event(entry, f"Failed: {err.message}")
                    self._finish(entry, error=err.rpc_status())
        except Exception as exc:  # noqa: BLE001 - an operation must end, never crash the server
            with self.backend.lock:
                if self._live(entry):
                    message = f"internal error: {scrub(str(exc))}"  # never a server path
                    self._finish(entry, error={"code": RPC_CODE["INTERNAL"], "message": message})
        finally:
            entry.done_event.set()

    def _finish(
        self, entry: _Entry, *, response: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> None:
        entry.record["done"] = True
        entry.record["metadata"]["endTime"] = rfc3339(self.clock.now())
        if error is not None:
            entry.record["error"] = error
        else:
            entry.record["response"] = response
        entry.job = None
        self.stored(entry)
        entry.done_event.set()


# -- filter -------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"""^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[^\s=<>]+)?)\s*(>=|<=|=)\s*("[^"]*"|'[^']*'|[^\s"']+)\s*$"""
)
_AND = re.compile(r"\s+AND\s+")


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_filter(text: str | None) -> dict[str, Any]:
    """Parse an ``operations.list`` filter into a JSON-able query (400 naming ``filter``)."""
    if not text or not text.strip():
        raise invalid_argument("filter is required and must name the project: projectId = <projectId>")
    query: dict[str, Any] = {"labels": {}}
    for clause in _AND.split(text.strip()):
        match = _CLAUSE.match(clause)
        if not match or not match.group(3):
            raise invalid_argument(f"filter: cannot parse {clause.strip()!r}")
        key, op, raw = match.group(1), match.group(2), _unquote(match.group(3))
        if key == "projectId" and op == "=":
            if "projectId" in query:
                raise invalid_argument("filter: projectId given twice")
            query["projectId"] = raw
        elif key == "createTime" and op in (">=", "<="):
            try:
                seconds = int(raw)
            except ValueError:
                raise invalid_argument(
                    f"filter: createTime must be compared with epoch seconds, got {raw!r}"
                ) from None
            query["createTimeMin" if op == ">=" else "createTimeMax"] = seconds
        elif key == "status" and op == "=":
            if raw not in STATUSES:
                raise invalid_argument(f"filter: status must be one of {', '.join(STATUSES)}, got {raw!r}")
            if "status" in query:
                raise invalid_argument("filter: only one status may be given")
            query["status"] = raw
        elif key.startswith("labels.") and op == "=" and len(key) > len("labels."):
            query["labels"][key[len("labels.") :]] = raw
        else:
            raise invalid_argument(f"filter: unsupported condition {clause.strip()!r}")
    if not query.get("projectId"):
        raise invalid_argument("filter must name the project: projectId = <projectId>")
    if not query["labels"]:
        del query["labels"]
    return query


def status_of(record: dict[str, Any]) -> str:
    if not record.get("done"):
        return "RUNNING"
    error = record.get("error")
    if not error:
        return "SUCCESS"
    return "CANCELED" if error.get("code") == RPC_CODE["CANCELLED"] else "FAILURE"


def _matches(record: dict[str, Any], query: dict[str, Any]) -> bool:
    metadata = record["metadata"]
    created: datetime = parse_rfc3339(metadata["createTime"])
    seconds = created.timestamp()
    if "createTimeMin" in query and seconds < query["createTimeMin"]:
        return False
    if "createTimeMax" in query and seconds > query["createTimeMax"]:
        return False
    if "status" in query and status_of(record) != query["status"]:
        return False
    labels = metadata.get("labels", {})
    for key, value in query.get("labels", {}).items():
        if key not in labels or (value != "*" and labels[key] != value):
            return False
    return True
