"""Server-wide values saved with the state: the fake clock's time and the page-token secret.

``clock`` is present while the backend runs on a :class:`~.clock.FakeClock`
(moved through ``/_mock/clock`` or by a test) and absent on the real clock; a
restored state with a ``clock`` runs on a fake clock at that time.
``pageTokenSecret`` keeps page tokens issued before a restart valid after it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mockserver.backend.clock import Clock, FakeClock, parse_rfc3339, rfc3339
from mockserver.backend.tables import Stateful, TableSpec, fail, text

if TYPE_CHECKING:
    from mockserver.backend import Backend


def _load(key: str, value: Any) -> Any:
    if key == "clock":
        try:
            return parse_rfc3339(text(value) or "")
        except ValueError:
            fail("must be an RFC 3339 timestamp")
    if key == "pageTokenSecret":
        try:
            secret = base64.b64decode(text(value) or "", validate=True)
        except binascii.Error:
            fail("must be base64")
        if len(secret) < 16:
            fail("must hold at least 16 bytes")
        return value
    fail("is not a setting (clock, pageTokenSecret)")


def _dump(value: Any) -> Any:
    return rfc3339(value) if isinstance(value, datetime) else value


class Settings(Stateful):
    """The ``settings`` table of one backend (see module docstring)."""

    tables = (TableSpec("settings", _load, _dump),)
    derived = frozenset({"backend", "feed"})

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.feed = backend.changes
        self.reset()

    def reset(self) -> None:
        self._values = self.table("settings")

    def record_clock(self, clock: Clock) -> None:
        """Called whenever the backend's clock is replaced or a fake clock moves."""
        if isinstance(clock, FakeClock):
            self._values["clock"] = clock.now()
        elif "clock" in self._values:
            del self._values["clock"]

    def record_secret(self) -> None:
        secret = base64.b64encode(self.backend.pager.tokens.secret).decode("ascii")
        if self._values.get("pageTokenSecret") != secret:
            self._values["pageTokenSecret"] = secret

    def after_restore(self) -> None:
        """Put the saved clock and secret into effect (a state without them keeps the current ones)."""
        backend = self.backend
        saved_time = self._values.get("clock")
        if saved_time is None:
            self.record_clock(backend.clock)
        elif isinstance(backend.clock, FakeClock):
            backend.clock.set(saved_time)
        else:
            backend.clock = FakeClock(saved_time)
        secret = self._values.get("pageTokenSecret")
        if secret is None:
            self.record_secret()
        else:
            backend.pager.tokens.secret = base64.b64decode(secret)
