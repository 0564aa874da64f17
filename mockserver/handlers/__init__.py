"""Thin HTTP handlers: arguments in, one backend call, dict out.

Each module serves one resource; functions are named after the operationId's
method (see :mod:`mockserver.resolver`). No rules live here.
"""
