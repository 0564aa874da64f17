"""operationId -> handler function, wrapped to render Google-style JSON.

``genomics.readgroupsets.coveragebuckets.list`` resolves to
``mockserver.handlers.readgroupsets.coveragebuckets_list``; a name that is a
Python keyword or builtin gets a trailing underscore (``list_``,
``import_``). An operation with no handler answers 501 UNIMPLEMENTED instead
of failing the whole app at start-up.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import keyword
from typing import Any

from starlette.responses import Response

from mockserver.errors import ApiError
from mockserver.handlers import Handler, standard
from mockserver.rendering import json_response


def handler_location(operation_id: str) -> tuple[str, str]:
    parts = operation_id.split(".")
    if len(parts) < 3 or parts[0] != "genomics":
        raise ValueError(f"operationId {operation_id!r} is not genomics.<resource>.<method>")
    name = "_".join(parts[2:])
    if keyword.iskeyword(name) or hasattr(builtins, name):
        name += "_"
    return f"mockserver.handlers.{parts[1]}", name


def find_handler(operation_id: str) -> Handler | None:
    """The handler function in its resource's module, else the standard method's, else None."""
    module_name, name = handler_location(operation_id)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        module = None
    found = getattr(module, name, None) if module is not None else None
    return found or standard(*operation_id.split(".")[1:3])


def resolve(operation_id: str) -> Handler:
    """The Connexion function resolver: a rendered handler, or a 501 stand-in."""
    handler = find_handler(operation_id)
    if handler is None:
        return _unimplemented(operation_id)
    return rendered(handler)


def rendered(handler: Handler) -> Handler:
    """Wrap a dict-returning handler so its result is JSON with prettyPrint/fields applied."""

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        return json_response(await handler(*args, **kwargs), partial=True)

    return wrapper


def _unimplemented(operation_id: str) -> Handler:
    async def unimplemented(**_kwargs: Any) -> Response:
        raise ApiError("UNIMPLEMENTED", f"{operation_id} is not implemented by genomics-mock yet")

    return unimplemented
