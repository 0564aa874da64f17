"""Command-line defaults taken from ``GENOMICS_MOCK_*`` environment variables (``cli`` and ``serve``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any


class FromEnv:
    """A default taken from environment variable ``var``; ``convert`` (else the option's type) runs
    after parsing. Not a ``str``, so argparse leaves it alone."""

    __slots__ = ("var", "text", "convert")

    def __init__(self, var: str, text: str, convert: Callable[[str], Any] | None = None) -> None:
        self.var, self.text, self.convert = var, text, convert

    def __repr__(self) -> str:
        return f"{self.var}={self.text!r}"


def env_default(
    env: Mapping[str, str], var: str, fallback: Any = None, convert: Callable[[str], Any] | None = None
) -> Any:
    """``FromEnv`` when ``var`` is set, else ``fallback`` (used as is)."""
    return FromEnv(var, env[var], convert) if var in env else fallback


def env_flag(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case, or empty: off)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("must be 1/true/yes/on or 0/false/no/off")
