"""Thin HTTP handlers: arguments in, one backend call, dict out. No rules live here.

The standard methods of a resource (create, get, patch or update, delete,
search) have no handler function of their own: :func:`standard` calls the
component's method of that name with the caller and, in this order, the id
from the path, the body and ``updateMask`` (:data:`ARGUMENTS`). Every other
operation has a function in ``<resource>.py``, named after the operationId's
method (see :mod:`mockserver.resolver`).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from mockserver.context import backend, principal

Handler = Callable[..., Awaitable[Any]]
ID = "<id>"  # stands for the path parameter naming the record

#: resource (as operationIds spell it) -> (backend component, path parameter naming one record)
RESOURCES: dict[str, tuple[str, str | None]] = {
    "datasets": ("datasets", "datasetId"),
    "annotationsets": ("annotation_sets", "annotationSetId"),
    "annotations": ("annotations", "annotationId"),
    "variantsets": ("variant_sets", "variantSetId"),
    "callsets": ("call_sets", "callSetId"),
    "variants": ("variants", "variantId"),
    "readgroupsets": ("read_group_sets", "readGroupSetId"),
    "reads": ("reads", None),
    "referencesets": ("reference_sets", "referenceSetId"),
    "references": ("references", "referenceId"),
}
#: standard method -> the request values passed after the caller
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "create": ("body",),
    "get": (ID,),
    "patch": (ID, "body", "updateMask"),
    "update": (ID, "body", "updateMask"),
    "delete": (ID,),
    "search": ("body",),
}


def standard(resource: str, method: str) -> Handler | None:
    """The handler of a standard method, None for any other operation."""
    if resource not in RESOURCES or method not in ARGUMENTS:
        return None
    component, id_parameter = RESOURCES[resource]
    if id_parameter is None and ID in ARGUMENTS[method]:
        return None  # a resource without ids of its own (reads) has no get, update or delete
    names = [name if name != ID else id_parameter or "" for name in ARGUMENTS[method]]

    async def handler(**params: Any) -> Any:
        call = getattr(getattr(backend(), component), method)
        return call(principal(), *(params.get(name) for name in names))

    # Connexion passes the parameters a handler's signature names (all of them, and Google's
    # eleven standard query parameters with their defaults, to a bare **params: 15% slower)
    handler.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None) for name in names]
    )
    handler.__name__ = handler.__qualname__ = method
    handler.__doc__ = f"genomics.{resource}.{method}: {component}.{method}({', '.join(names)})"
    return handler
