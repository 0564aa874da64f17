"""Server-generated ids: opaque, unique, URL-safe, never containing ``:`` or ``/``.

Colon-verb routing (``/v1/datasets/{id}:undelete``) breaks on ids holding a
colon, and ``{+resource}`` paths on ids holding a slash, so the alphabet is
letters, digits, ``-`` and ``_`` only (:func:`is_valid_id` is the rule).

Every id issued is remembered (the ``issued`` table, saved with the state) so
none is ever issued twice, not even after a restart.
"""

from __future__ import annotations

import base64
import os
import random

from mockserver.backend.tables import ChangeFeed, Stateful, TableSpec, flag, is_valid_id

__all__ = ["IdGenerator", "is_valid_id"]


class IdGenerator(Stateful):
    """Random ids; pass ``seed`` for a reproducible sequence in tests."""

    tables = (TableSpec("issued", flag),)
    derived = frozenset({"feed", "_rng"})

    def __init__(self, seed: int | None = None, feed: ChangeFeed | None = None) -> None:
        self._rng = random.Random(seed if seed is not None else int.from_bytes(os.urandom(16), "big"))
        self.feed = feed or ChangeFeed()
        self.reset()

    def reset(self) -> None:
        self._issued = self.table("issued")

    def new(self, prefix: str = "C") -> str:
        while True:
            raw = self._rng.getrandbits(96).to_bytes(12, "big")
            candidate = prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
            if candidate not in self._issued:
                self._issued[candidate] = True
                return candidate

    def new_numeric(self) -> str:
        """A decimal id like the real API's dataset ids (18-20 digits)."""
        while True:
            candidate = str(self._rng.randrange(10**17, 2**64))
            if candidate not in self._issued:
                self._issued[candidate] = True
                return candidate

    def issued(self) -> list[str]:
        """Every id issued or reserved so far, sorted."""
        return sorted(self._issued)

    def reserve(self, existing: str) -> None:
        """Mark an id (from seed data) as taken."""
        if existing not in self._issued:
            self._issued[existing] = True

    def clear(self) -> None:
        self.reset()
