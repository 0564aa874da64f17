"""The per-request context handlers read: which backend, which caller.

The app's outermost middleware sets these for each request (several apps may
live in one process — each test server has its own backend), so handlers stay
plain functions: ``backend().datasets.get(principal(), datasetId)``.
"""

from __future__ import annotations

from contextvars import ContextVar

from mockserver.backend import Backend
from mockserver.backend.principals import DEFAULT_OWNER, Principal

current_backend: ContextVar[Backend] = ContextVar("genomics_mock_backend")
current_principal: ContextVar[Principal] = ContextVar("genomics_mock_principal", default=DEFAULT_OWNER)


def backend() -> Backend:
    return current_backend.get()


def principal() -> Principal:
    return current_principal.get()
