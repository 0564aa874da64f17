"""Server-generated ids: opaque, unique, URL-safe, never containing ``:`` or ``/``.

Colon-verb routing (``/v1/datasets/{id}:undelete``) breaks on ids holding a
colon, and ``{+resource}`` paths on ids holding a slash, so the alphabet is
letters, digits, ``-`` and ``_`` only.
"""

from __future__ import annotations

import base64
import os
import random


class IdGenerator:
    """Random ids; pass ``seed`` for a reproducible sequence in tests."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed if seed is not None else int.from_bytes(os.urandom(16), "big"))
        self._issued: set[str] = set()

    def new(self, prefix: str = "C") -> str:
        while True:
            raw = self._rng.getrandbits(96).to_bytes(12, "big")
            candidate = prefix + base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def new_numeric(self) -> str:
        """A decimal id like the real API's dataset ids (18-20 digits)."""
        while True:
            candidate = str(self._rng.randrange(10**17, 2**64))
            if candidate not in self._issued:
                self._issued.add(candidate)
                return candidate

    def issued(self) -> list[str]:
        """Every id issued or reserved so far, sorted (saved with the state)."""
        return sorted(self._issued)

    def reserve(self, existing: str) -> None:
        """Mark an id (from seed data or a loaded snapshot) as taken."""
        self._issued.add(existing)

    def clear(self) -> None:
        self._issued.clear()


def is_valid_id(value: str) -> bool:
    return bool(value) and ":" not in value and "/" not in value
