"""The state file behind ``genomics-mock serve --state FILE``.

Saving is atomic: the snapshot is written to a temporary file in the same
directory, flushed and ``fsync``-ed, then ``os.replace``-d over the state
file (and the directory is synced), so a ``kill -9`` at any moment leaves
either the previous or the new complete state, never a torn one.

When to save (measured on the 2-core dev machine under load, see
docs/usage.md): 100 datasets + 1,000 annotations save in ~0.1 s, + 10,000 in
~0.85 s, + 100,000 in ~6.7 s (27 MB), the snapshot part holding the backend
lock. Saving on every write would cap write throughput at the save rate, so a
:class:`PeriodicSaver` thread saves at most every ``interval`` seconds
(default 1 s; never more often than 4x the last save's duration) when
something changed, and once more on shutdown after requests have drained. A
crash loses at most the last interval's writes; the file on disk is always a
complete, loadable state.

A file that is not JSON, not a genomics-mock state, or of another version is
refused with :class:`StateFileError` and never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mockserver.snapshot import SnapshotError, restore, snapshot

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

log = logging.getLogger("genomics_mock")


class StateFileError(Exception):
    """A state file that cannot be used (the message says which and why)."""


def read_document(path: str | Path) -> dict[str, Any] | None:
    """The parsed state document, or None when the file does not exist."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateFileError(f"cannot read state file {path}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(
            f"state file {path} is corrupt (not JSON: {exc.msg} at line {exc.lineno}); "
            "refusing to start so it is not overwritten"
        ) from None


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete temp files a killed save left next to the state file (they are never the state)."""
    path = Path(path)
    removed = []
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
            removed.append(stale)
        except OSError:
            continue
    return removed


def load(path: str | Path, backend: Backend, tokens: TokenRegistry | None = None) -> bool:
    """Load the state file into ``backend``; False when there is no file yet."""
    for stale in remove_stale_temp_files(path):
        log.info("genomics-mock: removed %s, left by an interrupted save", stale)
    document = read_document(path)
    if document is None:
        return False
    try:
        restore(backend, document, tokens)
    except SnapshotError as exc:
        raise StateFileError(f"state file {path} refused: {exc}; it was left untouched") from None
    return True


def write_atomic(path: str | Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` all at once (temp file + fsync + rename + dir fsync)."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(path: str | Path, backend: Backend, tokens: TokenRegistry | None = None) -> None:
    document = snapshot(backend, tokens)
    write_atomic(path, json.dumps(document, separators=(",", ":")).encode("utf-8"))


class PeriodicSaver:
    """Saves the backend to ``path`` at most every ``interval`` seconds while it changes."""

    def __init__(
        self,
        path: str | Path,
        backend: Backend,
        tokens: TokenRegistry | None = None,
        *,
        interval: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.backend = backend
        self.tokens = tokens
        self.interval = interval
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._save_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.saves = 0
        self.last_save_seconds = 0.0

    def mark_dirty(self) -> None:
        """Called after every request that may have changed state (and by the admin API)."""
        self._dirty.set()

    def start(self) -> PeriodicSaver:
        self._thread = threading.Thread(target=self._loop, name="genomics-mock-saver", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self._dirty.wait(timeout=0.2) and not self._stop.is_set():
                try:
                    self.save_now()
                except Exception:  # noqa: BLE001 - keep serving; the next tick retries
                    log.exception("genomics-mock: saving state to %s failed", self.path)
                    self._dirty.set()
                # a big state takes seconds to snapshot (under the backend lock): keep saving
                # to at most ~20% of the time so requests are not starved
                self._stop.wait(max(self.interval, 4 * self.last_save_seconds))

    def save_now(self) -> None:
        with self._save_lock:
            self._dirty.clear()
            started = time.perf_counter()
            save(self.path, self.backend, self.tokens)
            self.last_save_seconds = time.perf_counter() - started
            self.saves += 1
            if self.backend.operations.running():
                self._dirty.set()  # a background operation will change state without a request

    def stop(self, *, final_save: bool = True) -> None:
        self._stop.set()
        self._dirty.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        if final_save:
            self.save_now()
