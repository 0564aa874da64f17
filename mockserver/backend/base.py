"""What every resource component shares: the backend's lock, clock, ids, pager, IAM."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from mockserver.backend import Backend
    from mockserver.backend.clock import Clock

P = ParamSpec("P")
R = TypeVar("R")


def synchronized(method: Callable[P, R]) -> Callable[P, R]:
    """Run a component method under the backend's re-entrant lock.

    Handlers run on one event loop, but tests and the admin API call the
    backend from other threads; one lock per backend makes every public
    operation atomic (no lost write, no torn read) at in-memory speed.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        self = args[0]
        with self.backend.lock:  # type: ignore[attr-defined]  # args[0] is the component (self)
            return method(*args, **kwargs)

    return wrapper


class Component:
    """One resource's state and rules. Subclasses implement ``reset``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    @property
    def clock(self) -> Clock:
        return self.backend.clock


def public(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored record that callers may mutate freely."""
    return copy.deepcopy(record)


def compact(record: dict[str, Any]) -> dict[str, Any]:
    """Proto3 JSON: drop fields at their default (None, "", 0, False, [], {})."""
    return {k: v for k, v in record.items() if v not in (None, "", 0, False, [], {})}
