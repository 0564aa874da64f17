"""Route table built from the OpenAPI document, consulted before Connexion.

Connexion routes with one Starlette route per (path, method) in document
order, matching ``{param}`` with ``[^/]+``: ``POST /v1/datasets/1:undelete``
routes right, but ``GET /v1/datasets/1:undelete`` would reach ``datasets.get``
with the id ``1:undelete`` (Connexion 3.3, measured), and its 405 ``Allow``
header is wrong for paths sharing a prefix. Server ids never contain ``:`` or
``/``, so this table matches parameters with ``[^/:]+``: a colon-verb path
matches only its own template, a wrong method gets 405 with the methods the
URL really answers, and each request learns its operation (id, accepted scopes,
the schema of its response, which ``fields=`` selectors are checked against)
before any handler runs.

``Allow`` unites every template matching the URL: ``GET /v1/annotations/search``
is annotations.get of the id ``search`` (a 404), so a 405 for ``PUT .../search``
lists GET too. A checker that reads one path item of the document (Schemathesis'
ST205) calls GET undocumented there; the header is right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_PARAM = re.compile(r"\{([^}]+)\}")
_SEGMENT_END = re.compile(r"[/:]")


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    #: the 200 response's JSON schema, references resolved (None: no body described)
    response: Any = field(default=None, compare=False, repr=False)


@dataclass
class Match:
    """Outcome of a lookup: an operation and its path parameters, or the methods the path
    allows (empty: unknown path)."""

    operation: Operation | None
    allowed: list[str]
    path_params: dict[str, str] = field(default_factory=dict)


#: (pattern, parameter names in order, method -> operation) of one path template
Route = tuple[re.Pattern[str], tuple[str, ...], dict[str, Operation]]


def collection(path: str) -> str | None:
    """``/v1/datasets/1:undelete`` -> ``datasets``: the literal segment after ``/v1/`` that
    every template starts with (None when there is none, or it holds a parameter)."""
    if not path.startswith("/v1/"):
        return None
    segment = _SEGMENT_END.split(path[4:], maxsplit=1)[0]
    return None if "{" in segment else segment


class RouteTable:
    """Templates in document order; a lookup tries only those of the path's collection
    (plus any template without one), in that order, so the answer is a full scan's."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._routes: list[Route] = []
        for template, item in spec.get("paths", {}).items():
            ops: dict[str, Operation] = {}
            for method in HTTP_METHODS:
                op = item.get(method)
                if isinstance(op, dict) and op.get("operationId"):
                    ops[method.upper()] = Operation(
                        operation_id=op["operationId"],
                        method=method.upper(),
                        template=template,
                        scopes=frozenset(op.get("x-scopes") or ()),
                        response=_response_schema(spec, op),
                    )
            parts = _PARAM.split(template)
            pattern = "".join("([^/:]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
            self._routes.append((re.compile(f"^{pattern}$"), tuple(parts[1::2]), ops))
        names = [collection(template) for template in spec.get("paths", {})]
        self._anywhere = [route for route, name in zip(self._routes, names, strict=True) if name is None]
        self._by_collection = {
            name: [route for route, other in zip(self._routes, names, strict=True) if other in (name, None)]
            for name in set(names) - {None}
        }
        #: (method, path) -> the scan's answer, for the templates without parameters (fixed paths
        #: such as ``/v1/annotations/search``: the same answer every time, worked out once)
        self._fixed = {
            (method, template): self._scan(method, template)
            for template in spec.get("paths", {}) if "{" not in template
            for method in (m.upper() for m in HTTP_METHODS)
        }

    def _candidates(self, path: str) -> list[Route]:
        name = collection(path)
        if name is None:
            return self._routes
        return self._by_collection.get(name, self._anywhere)

    def match(self, method: str, path: str) -> Match:
        fixed = self._fixed.get((method, path))
        if fixed is not None:
            return Match(fixed.operation, list(fixed.allowed), dict(fixed.path_params))
        return self._scan(method, path)

    def _scan(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        for regex, names, ops in self._candidates(path):
            found = regex.match(path)
            if found:
                if method in ops:
                    return Match(ops[method], [], dict(zip(names, found.groups(), strict=True)))
                allowed.extend(m for m in ops if m not in allowed)
        return Match(None, allowed)

    def operations(self) -> list[Operation]:
        return [op for _, _, ops in self._routes for op in ops.values()]


def _response_schema(spec: dict[str, Any], op: dict[str, Any]) -> Any:
    content = ((op.get("responses") or {}).get("200") or {}).get("content") or {}
    schema = (content.get("application/json") or {}).get("schema")
    return resolved(spec, schema, {}) if schema is not None else None


def resolved(spec: dict[str, Any], node: Any, done: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` replaced by its target (each target built once and shared;
    ``done`` maps a reference to its resolution, so a self-referencing schema ends)."""
    if isinstance(node, list):
        return [resolved(spec, item, done) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if ref not in done:
            target: Any = spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            done[ref] = {}
            done[ref].update(resolved(spec, target, done))
        return done[ref]
    return {key: resolved(spec, value, done) for key, value in node.items()}
