"""Injectable clocks: every timestamp and time window in the backend reads one.

Tests swap :class:`SystemClock` for a :class:`FakeClock` and move it with
``advance(days=8)`` instead of sleeping. A fake clock tells its listeners
(the backend's settings, saved with the state) whenever it moves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Real wall-clock time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to (thread-safe)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = _utc(start or datetime(2026, 1, 1, tzinfo=UTC))
        self._lock = threading.Lock()
        #: called with the new time after every move
        self.listeners: list[Callable[[datetime], None]] = []

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = now = _utc(when)
        self._moved(now)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` or by ``timedelta(**kwargs)``; returns the new time."""
        step = delta if delta is not None else timedelta(**kwargs)
        with self._lock:
            self._now = now = self._now + step
        self._moved(now)
        return now

    def _moved(self, now: datetime) -> None:
        for listener in self.listeners:
            listener(now)


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def rfc3339(when: datetime) -> str:
    """RFC 3339 UTC with a ``Z`` suffix, as Google's JSON mapping writes timestamps."""
    text = _utc(when).isoformat(timespec="microseconds").replace("+00:00", "Z")
    # Google drops trailing zero groups of fractional seconds; keep millis at least.
    head, _, frac = text[:-1].partition(".")
    frac = frac.rstrip("0")
    if not frac:
        return head + "Z"
    width = 3 if len(frac) <= 3 else 6
    return f"{head}.{frac.ljust(width, '0')}Z"


def parse_rfc3339(text: str) -> datetime:
    return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def epoch_millis(when: datetime) -> int:
    return int(_utc(when).timestamp() * 1000)
