"""Contract suites: property-based conformance checks for any Genomics v1 server.

The suites speak only HTTP (a base URL and bearer tokens) and never import
the mock's backend, so they test the mock, a re-implementation or a proxy
alike. Run them with ``genomics-mock conformance --base-url URL`` or
``pytest --pyargs contracts --contracts-base-url URL``.
"""

from contracts.core import Check, Context, SkipCheck, Suite, Target

__all__ = ["Check", "Context", "SkipCheck", "Suite", "Target"]
