"""``genomics-mock serve --state FILE``: every acknowledged write kept, at any size, without stalls.

On disk, next to each other::

    FILE               a full state document (mockserver.snapshot), replaced atomically;
                       its "journal": N names the first journal segment that follows it
    FILE.journal.N     the changes made since, as checksummed frames (mockserver.journal)
    FILE.journal.N+1   ...

Writing. Every write to a table of the backend (or the token registry) is
reported to the :class:`Store` (``backend.changes``), which encodes it at once
— ``["p", participant, table, key, value]``, ``["d", participant, table, key]``,
``["s", document]`` for a whole-state replacement, ``["r"]`` for a reset — and
a writer thread appends everything reported since its last turn as one frame
and fsyncs it every :data:`SYNC_INTERVAL` (group commit). A response is sent
before its frame is durable, so ``kill -9`` loses at most the last ~0.1 s of
acknowledged writes (nothing at all on a clean stop, which flushes). The
writer takes the backend lock only to swap its buffer: a frame always holds
whole operations.

Compaction. When the journal has grown past half the state file (or
``compact_interval`` seconds after the first change), the compactor thread
cuts: under the backend lock it frames what is pending for segment N, starts
segment N+1 and calls ``os.fork()``, and releases the lock at once. The child
process holds a copy-on-write image of the state at that instant and writes
it as the new state file saying ``"journal": N+1`` (``write_atomic``), then
exits, reporting its outcome through a pipe; the parent goes on serving and
journaling, and its thread waits, then deletes the segments before N+1. So the
state file is a consistent cut and segment N+1 holds exactly the changes made
after it. Requests wait only for the fork itself (it copies the page tables of
the heap: ~50-180 ms for a million annotations, see ARCHITECTURE.md) and
never compete with the encoding for the interpreter; the child runs at the
lowest CPU priority. The child takes no lock (the ones it inherited may be held by
threads that do not exist there), logs nothing and starts no thread; it dies
with the thread that forked it (``PR_SET_PDEATHSIG``), so a ``kill -9`` of the
server cannot leave a child that renames an old cut over a newer file. Two
cases give up the exact cut and rely on replay being idempotent (a put,
delete, reset or replacement applied again over a state that already has it
changes nothing): the pending frame cannot be written to segment N (it then
goes first into N+1), and a platform without ``os.fork``, where the thread
writes the file itself in chunks under short holds of the backend lock.

Start-up: the state file is read and checked whole (a version 1 file is
upgraded), the segments from N on are replayed over it in order, and the
result is installed; a torn last frame is dropped with one warning. A state
file or segment that is corrupt, of an unknown format or from a newer
release is refused (:class:`StateFileError`, naming the file and the
offset or JSON pointer) and left untouched.

Failures. When a write or fsync fails (disk full, permissions), the frames
stay in memory and are retried every turn (after cutting off any partial
write); ``health()`` reports ``degraded`` with the reason and the time of
the last durable write, and the server logs the episode once when it starts
and once when it ends. A compaction that fails (the child's error, or the
signal that killed it) leaves the old state file and every segment in place,
degrades health the same way and is retried after ``compact_interval``.

Why not SQLite: there is one writer, appends only and no queries; the
framing is a few dozen lines, a torn tail and corruption are told apart
with an exact offset for the message, and a segment boundary is a new file.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from mockserver.backend.clock import rfc3339
from mockserver.backend.tables import Stateful, Table
from mockserver.journal import (
    HEADER,
    JournalError,
    JournalFile,
    Segment,
    frame,
    read_segment,
    segment_path,
    segments,
    sync,
    sync_directory,
    write_all,
)
from mockserver.snapshot import (
    VERSION,
    Decoded,
    SnapshotError,
    decode,
    decode_value,
    empty_document,
    encode,
    install,
    parse,
    registry,
    stream,
    table_spec,
)

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

log = logging.getLogger("genomics_mock")

#: seconds between group commits
SYNC_INTERVAL = 0.05
#: a compaction is due once the journal holds this many bytes and half the state file's size
MIN_COMPACT_BYTES = 1 << 20
#: compaction runs in a forked child wherever the platform can fork
FORK = hasattr(os, "fork")
#: how much less CPU the compaction child claims than the server (nice(2) increment: the lowest)
COMPACTION_NICENESS = 19
#: prctl(2) option: the signal a process receives when the thread that forked it exits (Linux)
PR_SET_PDEATHSIG = 1


class StateFileError(Exception):
    """A state file or journal that cannot be used, or a final save that failed (the message says which)."""


class _Aborted(Exception):
    pass


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete temp files a killed compaction left next to the state file (they are never the state)."""
    removed = []
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
            removed.append(stale)
        except OSError:
            continue
    return removed


def write_atomic(path: str | Path, pieces: Iterable[bytes]) -> int:
    """Replace ``path`` with the concatenated ``pieces`` all at once (temp file + fsync + rename +
    directory fsync); returns the size. On any error the old file is intact and no temp file left."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    # named here rather than by tempfile, whose first use takes a module lock (unsafe after fork)
    tmp = directory / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    size = 0
    try:
        try:
            for piece in pieces:
                write_all(fd, piece)
                size += len(piece)
            sync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    sync_directory(directory)
    return size


def _death_signal() -> Callable[[], None]:
    """A function that asks the kernel to SIGKILL this process when the thread that forked it
    exits (made before forking: loading a library in a forked child can deadlock); a no-op
    where there is no prctl."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return lambda: None
    prctl.restype = ctypes.c_int

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return arm


@dataclass
class _Problem:
    reason: str
    since: float


class Store:
    """The state file and journal of one server (see module docstring)."""

    def __init__(
        self,
        path: str | Path,
        backend: Backend,
        tokens: TokenRegistry | None = None,
        *,
        compact_interval: float = 60.0,
        sync_interval: float = SYNC_INTERVAL,
    ) -> None:
        self.path = Path(path)
        self.backend = backend
        self.tokens = tokens
        self.compact_interval = compact_interval
        self.sync_interval = sync_interval
        self._names: dict[Stateful, str] = {}
        self._pending: list[bytes] = []
        self._unsynced: list[bytes] = []
        self._journal: JournalFile | None = None
        self._io = threading.Lock()  # one journal write (or segment switch) at a time
        self._compact_lock = threading.Lock()
        self._child: int | None = None  # the compaction process while it runs
        self._child_lock = threading.Lock()  # a pid is signalled only before it is reaped
        self._arm_death_signal = _death_signal() if FORK else None
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._threads: list[threading.Thread] = []
        self._problems: dict[str, _Problem] = {}
        self._last_durable: float | None = None
        self._snapshot_bytes = 0
        self._last_compaction = time.monotonic()
        self._needs_compaction = True
        self._resume: Segment | None = None
        #: what load() read: the state file and the journal frames replayed over it
        self._loaded: tuple[bytes | None, list[bytes]] = (None, [])
        self._stale: list[Path] = []
        self._generation = 1
        self.compactions = 0
        self.compacting = False
        self.last_compaction: dict[str, Any] | None = None

    # -- start-up ---------------------------------------------------------------------

    def load(self) -> bool:
        """Load the state file and replay its journal into the backend; False when there is
        neither (a fresh start). Raises :class:`StateFileError`; nothing on disk is changed then.

        The cyclic garbage collector is paused meanwhile: a million records are millions of new
        objects, which would trigger a full collection again and again (5x the load time). What
        was loaded is then frozen (``gc.freeze``): it lives as long as the server, and a full
        collection walking it would stop every request for seconds."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self._load()
        finally:
            gc.freeze()
            if enabled:
                gc.enable()

    def _load(self) -> bool:
        for stale in remove_stale_temp_files(self.path):
            log.info("genomics-mock: removed %s, left by an interrupted save", stale)
        names = registry(self.backend, self.tokens)
        decoded: Decoded = {}
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = None
        except OSError as exc:
            raise StateFileError(f"cannot read state file {self.path}: {exc.strerror or exc}") from None
        first = 1
        if data is not None:
            try:
                document = parse(data)
                version = document.get("version") if isinstance(document, dict) else None
                decoded = decode(document, names)
            except SnapshotError as exc:
                raise StateFileError(
                    f"state file {self.path} refused: {exc}; it was left untouched"
                ) from None
            first = document.get("journal", 1)
            if type(first) is not int or first < 1:
                raise StateFileError(f"state file {self.path} refused: /journal: must be a positive integer")
            self._snapshot_bytes = len(data)
            self._needs_compaction = version != VERSION
        found = segments(self.path)
        following = [g for g in found if g >= first]
        if data is None and following and following[0] != 1:
            raise StateFileError(
                f"journal {found[following[0]]} follows a state file {self.path} that does not exist; "
                "refusing to start without it"
            )
        if following and following != list(range(following[0], following[0] + len(following))):
            raise StateFileError(f"journal segments of {self.path} are missing: found {following}")
        for generation in following:
            decoded = self._replay(found[generation], generation, generation == following[-1], decoded, names)
        if data is not None or following:
            install(self.backend, decoded, self.tokens)
        self._loaded = (data, self._loaded[1])
        self._generation = following[-1] if following else first
        self._stale = [found[g] for g in found if g < first]
        return data is not None or bool(following)

    def _replay(
        self, path: Path, generation: int, last: bool, decoded: Decoded, names: dict[str, Stateful]
    ) -> Decoded:
        try:
            segment = read_segment(path, generation, last=last)
        except JournalError as exc:
            raise StateFileError(f"{exc}; it was left untouched") from None
        except OSError as exc:
            raise StateFileError(f"cannot read journal {path}: {exc.strerror or exc}") from None
        for offset, payload in segment.payloads:
            self._loaded[1].append(payload)
            try:
                decoded = _apply(decoded, parse(payload), names)
            except SnapshotError as exc:
                raise StateFileError(
                    f"journal {path} refused at offset {offset}: {exc}; it was left untouched"
                ) from None
        if segment.torn_at is not None:
            log.warning("genomics-mock: journal %s ends in a torn record at offset %d (the process "
                        "was killed while writing it); dropped it", path, segment.torn_at)
        if last:
            self._resume = segment
        return decoded

    def restore_loaded(self) -> None:
        """Put back the state :meth:`load` found, from what it read (the reset baseline of a server
        started from its files: a copy of a large state at start-up would cost seconds and as
        much memory). Journaled as that state file followed by those frames' entries."""
        data, payloads = self._loaded
        names = registry(self.backend, self.tokens)
        document = data if data is not None else encode(empty_document())
        decoded = decode(parse(document), names)
        for payload in payloads:
            decoded = _apply(decoded, parse(payload), names)
        with self.backend.lock:
            if self.backend.changes.listener is self:
                self.replaced(document)
                self._pending.extend(payload[1:-1] for payload in payloads if len(payload) > 2)
            install(self.backend, decoded, self.tokens)

    # -- running ----------------------------------------------------------------------

    def start(self) -> Store:
        """Listen to every change, write the first state file when needed, start the threads.

        Raises OSError when the state file or journal cannot be written at all.
        """
        names = registry(self.backend, self.tokens)
        self._names = {participant: name for name, participant in names.items()}
        for stale in self._stale:
            stale.unlink(missing_ok=True)
        if self._resume is not None:
            self._journal = JournalFile.reopen(self._resume)
        else:
            self._journal = JournalFile.create(segment_path(self.path, self._generation), self._generation)
        self.backend.changes.listener = self
        if self.tokens is not None:
            self.tokens.feed.listener = self
        self._last_durable = time.time()
        if self._needs_compaction:
            self.compact()
        for target, name in ((self._write_loop, "writer"), (self._compact_loop, "compactor")):
            thread = threading.Thread(target=target, name=f"genomics-mock-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    # the ChangeListener protocol (called under the backend lock)

    def put(self, table: Table, key: str, value: Any) -> None:
        self._record(["p", self._names[table.owner], table.spec.name, key, table.spec.dump(value)])

    def delete(self, table: Table, key: str) -> None:
        self._record(["d", self._names[table.owner], table.spec.name, key])

    def reset(self) -> None:
        self._record(["r"])

    def replaced(self, document: bytes) -> None:
        self._pending.append(b'["s",' + document + b"]")

    def _record(self, entry: list[Any]) -> None:
        try:
            self._pending.append(encode(entry))
        except TypeError as exc:  # a stored value that is not JSON (a lone surrogate)
            self._problem("journal", f"a change could not be encoded and is not saved: {exc}")

    def flush(self) -> bool:
        """Write and fsync everything reported so far; False when that failed (it is kept for later)."""
        with self._io:
            with self.backend.lock:
                batch, self._pending = self._pending, []
            if batch:
                self._unsynced.append(frame(batch))
            if not self._unsynced:
                return "journal" not in self._problems
            journal = self._journal
            assert journal is not None
            try:
                journal.append(self._unsynced)
            except OSError as exc:
                reason = f"writing the journal {journal.path.name} failed: {exc.strerror or exc}"
                self._problem("journal", reason)
                return False
            self._unsynced = []
            self._last_durable = time.time()
            self._solved("journal")
            return True

    def _write_loop(self) -> None:
        while not self._stop.wait(self.sync_interval):
            self.flush()

    def _compact_loop(self) -> None:
        while not self._stop.wait(0.2):
            if self._compaction_due():
                try:
                    self.compact()
                except _Aborted:
                    return
                except OSError as exc:
                    self._problem("snapshot", f"writing the state file {self.path.name} failed: "
                                              f"{exc.strerror or exc}")
                    self._last_compaction = time.monotonic()  # retried after an interval

    def _compaction_due(self) -> bool:
        journal = self._journal
        grown = journal.size - len(HEADER) if journal is not None else 0  # all of it replays at start
        if "journal" in self._problems:
            return False
        if grown <= 0:  # nothing new: only a failed compaction is retried
            return "snapshot" in self._problems and self._interval_passed()
        if grown >= max(MIN_COMPACT_BYTES, self._snapshot_bytes // 2):
            return True
        return self._interval_passed()

    def _interval_passed(self) -> bool:
        return time.monotonic() - self._last_compaction >= self.compact_interval

    def compact(self) -> None:
        """Cut (start segment N+1) and write the state file that N+1 follows, in a forked child
        (see module docstring). Raises OSError — the child's error, or the signal that killed
        it — when the file was not written; the old file and every segment are then kept."""
        with self._compact_lock:
            started, began = time.time(), time.perf_counter()
            generation, child = self._cut()
            self.compacting = True
            try:
                if child is None:  # no fork on this platform
                    size = write_atomic(self.path, stream(self.backend, self.tokens, journal=generation))
                else:
                    size = self._wait_for(*child)
            finally:
                self.compacting = False
            for number, path in segments(self.path).items():
                if number < generation:
                    path.unlink(missing_ok=True)
            self._snapshot_bytes = size
            self._last_compaction = time.monotonic()
            self.compactions += 1
            self.last_compaction = {"startedAt": rfc3339(datetime.fromtimestamp(started, UTC)),
                                    "seconds": round(time.perf_counter() - began, 3), "bytes": size}
            if child is not None:
                self.last_compaction["forkMs"] = round(child[2] * 1000, 1)
            self._solved("snapshot")

    def _cut(self) -> tuple[int, tuple[int, int, float] | None]:
        """Frame what is pending for segment N, start N+1 and fork, all under one hold of the
        backend lock; returns N+1 and (child pid, the pipe it reports through, seconds the
        fork took), or None for the child when the platform cannot fork."""
        with self._io:
            old = self._journal
            assert old is not None
            if self._unsynced:
                raise OSError("the journal is failing; not compacting")
            generation = old.generation + 1
            new = JournalFile.create(segment_path(self.path, generation), generation)
            child, failed = None, None
            with self.backend.lock:
                batch, self._pending = self._pending, []
                self._journal = new
                if FORK:
                    try:
                        child = self._fork(generation)
                    except OSError as exc:  # no process or pipe to be had: N+1 goes on regardless
                        failed = exc
            if batch:
                try:
                    old.append([frame(batch)])
                except OSError:
                    self._unsynced.append(frame(batch))  # written first into N+1 by the next flush
            old.close()
        if failed is not None:
            raise failed
        return generation, child

    def _fork(self, generation: int) -> tuple[int, int, float]:
        """(child pid, the pipe's end it reports to, seconds the fork took)."""
        read_end, write_end = os.pipe()
        try:
            forking, parent = time.perf_counter(), os.getpid()
            pid = os.fork()
            if pid == 0:
                self._compact_in_child(generation, write_end, parent)
        except BaseException:
            os.close(read_end)
            raise
        finally:  # (the child never gets here: it leaves through os._exit)
            os.close(write_end)
        return pid, read_end, time.perf_counter() - forking

    def _compact_in_child(self, generation: int, report: int, parent: int) -> NoReturn:
        """The forked child: write the state file from this process's copy of the state and
        exit, telling the parent "ok SIZE" or "ERRNO REASON" through ``report``. No lock (those
        inherited may be held by threads that do not exist here), no logging, no thread."""
        code, message = 1, "0 the compaction process failed"
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):  # not the server's handlers
                signal.signal(signum, signal.SIG_DFL)
            assert self._arm_death_signal is not None
            self._arm_death_signal()
            if os.getppid() != parent:  # the server died before that
                raise OSError(None, "the server exited")
            os.closerange(3, report)  # the server's sockets and files: closed here, not held open
            os.closerange(report + 1, os.sysconf("SC_OPEN_MAX"))
            gc.disable()  # a collection would touch (and so copy) every page of the heap
            os.nice(COMPACTION_NICENESS)  # the server's requests come first on a busy machine
            pieces = stream(self.backend, self.tokens, lock=contextlib.nullcontext(), journal=generation)
            size = write_atomic(self.path, pieces)
            code, message = 0, f"ok {size}"
        except OSError as exc:
            message = f"{exc.errno or 0} {exc.strerror or exc}"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
            message = f"0 {type(exc).__name__}: {exc}"
        finally:
            with contextlib.suppress(BaseException):  # one write: a pipe takes 4 KB at once
                os.write(report, message.encode("utf-8", "replace")[:4096])
            os._exit(code)

    def _wait_for(self, pid: int, report: int, _fork_seconds: float) -> int:
        """Reap the compaction child; its file's size, or OSError saying why there is none."""
        with self._child_lock:
            self._child = pid
        if self._abort.is_set():
            self._kill_child()
        try:
            with os.fdopen(report, "rb") as pipe:
                message = pipe.read().decode("utf-8", "replace")  # until the child exits
        finally:
            with self._child_lock:
                _, status = os.waitpid(pid, 0)
                self._child = None
        code = os.waitstatus_to_exitcode(status)
        head, _, reason = message.partition(" ")
        if code == 0 and head == "ok":
            return int(reason)
        remove_stale_temp_files(self.path)
        if self._abort.is_set():
            raise _Aborted()
        if code < 0:
            raise OSError(None, f"the compaction process was killed by {signal.Signals(-code).name}")
        number = int(head) if head.isdigit() else 0
        raise OSError(number or None, reason or f"the compaction process exited with status {code}")

    def _kill_child(self) -> None:
        with self._child_lock:
            if self._child is not None:
                os.kill(self._child, signal.SIGKILL)

    def close(self) -> None:
        """Stop the threads and make everything reported durable; StateFileError when that failed
        (what is on disk is then the state as of the last durable write)."""
        self._abort.set()
        self._stop.set()
        self._kill_child()
        for thread in self._threads:
            thread.join(timeout=60)
        ok = self.flush()
        self.backend.changes.listener = None
        if self.tokens is not None:
            self.tokens.feed.listener = None
        if self._journal is not None:
            self._journal.close()
        if not ok:
            problem = self._problems.get("journal")
            raise StateFileError(f"{problem.reason if problem else 'the journal could not be written'}; "
                                 f"the state on disk is as of {self._durable_text()}")

    # -- health -----------------------------------------------------------------------

    def _problem(self, kind: str, reason: str) -> None:
        if kind not in self._problems:
            log.error("genomics-mock: persistence failing: %s (changes are kept in memory and retried; "
                      "/_mock/health says degraded until it recovers)", reason)
            self._problems[kind] = _Problem(reason, time.time())
        else:
            self._problems[kind].reason = reason

    def _solved(self, kind: str) -> None:
        problem = self._problems.pop(kind, None)
        if problem is not None:
            log.warning("genomics-mock: persistence recovered after %.1f s (%s)",
                        time.time() - problem.since, kind)

    def _durable_text(self) -> str | None:
        return rfc3339(datetime.fromtimestamp(self._last_durable, UTC)) if self._last_durable else None

    def health(self) -> dict[str, Any]:
        """What ``/_mock/health`` shows: ``degraded`` with the reason while persistence fails."""
        journal = self._journal
        report: dict[str, Any] = {
            "status": "degraded" if self._problems else "ok",
            "lastDurableWrite": self._durable_text(),
            "journalBytes": journal.size if journal is not None else 0,
            "compactions": self.compactions,
            "compacting": self.compacting,
        }
        if self.last_compaction:
            report["lastCompaction"] = self.last_compaction
        if self._problems:
            first = min(self._problems.values(), key=lambda p: p.since)
            report["reason"] = "; ".join(p.reason for p in self._problems.values())
            report["since"] = rfc3339(datetime.fromtimestamp(first.since, UTC))
        return report


def _apply(decoded: Decoded, entries: Any, names: dict[str, Stateful]) -> Decoded:
    """Replay one frame's entries over decoded tables (each checked like a document's values)."""
    if not isinstance(entries, list):
        raise SnapshotError("a frame must hold a list of entries")
    for i, entry in enumerate(entries):
        op = entry[0] if isinstance(entry, list) and entry else None
        if op == "p" and len(entry) == 5:
            _, participant, table, key, value = entry
            stored = decode_value(names, participant, table, key, value)
            decoded.setdefault(participant, {}).setdefault(table, {})[key] = stored
        elif op == "d" and len(entry) == 4:
            _, participant, table, key = entry
            table_spec(names, participant, table)
            decoded.get(participant, {}).get(table, {}).pop(key, None)
        elif op == "s" and len(entry) == 2:
            replacement = decode(entry[1], names)
            if "tokens" not in replacement and "tokens" in decoded:
                replacement["tokens"] = decoded["tokens"]
            decoded = replacement
        elif op == "r" and len(entry) == 1:
            decoded = {"tokens": decoded["tokens"]} if "tokens" in decoded else {}
        else:
            raise SnapshotError(f"entry {i} is not a change this server writes")
    return decoded
