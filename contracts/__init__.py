"""Contract suites: property-based conformance checks for any Genomics v1 server.

The suites speak only HTTP (a base URL and bearer tokens) and never import
the mock's backend, so they test the mock, a re-implementation or a proxy
alike. Run them with ``genomics-mock conformance --base-url URL`` or
``pytest --pyargs contracts --contracts-base-url URL``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Check", "Context", "SkipCheck", "Suite", "Target"]


def __getattr__(name: str) -> Any:
    # lazy: ``genomics-mock serve`` imports contracts.runner's argument table only
    if name in __all__:
        from contracts import core

        return getattr(core, name)
    raise AttributeError(name)
