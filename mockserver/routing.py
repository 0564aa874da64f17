"""Route table built from the OpenAPI document, consulted before Connexion.

Connexion routes with one Starlette route per (path, method) in document
order, matching ``{param}`` with ``[^/]+``: ``POST /v1/datasets/1:undelete``
routes right, but ``GET /v1/datasets/1:undelete`` would reach ``datasets.get``
with the id ``1:undelete`` (Connexion 3.3, measured), and its 405 ``Allow``
header is wrong for paths sharing a prefix. Server ids never contain ``:`` or ``/``, so this
table matches parameters with ``[^/:]+``: a colon-verb path matches only its
own template, a wrong method gets 405 with the methods the path really
allows, and each request learns its operation (id, accepted scopes, the
schema of its response, which ``fields=`` selectors are checked against)
before any handler runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
_PARAM = re.compile(r"\{([^}]+)\}")


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
    """Outcome of a lookup: an operation, or the methods the path allows (empty: unknown path)."""

    operation: Operation | None
    allowed: list[str]


class RouteTable:
    def __init__(self, spec: dict[str, Any]) -> None:
        self._routes: list[tuple[re.Pattern[str], str, dict[str, Operation]]] = []
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
            pattern = "".join(
                "[^/:]+" if i % 2 else re.escape(part) for i, part in enumerate(_PARAM.split(template))
            )
            self._routes.append((re.compile(f"^{pattern}$"), template, ops))

    def match(self, method: str, path: str) -> Match:
        allowed: list[str] = []
        for regex, _template, ops in self._routes:
            if regex.match(path):
                if method in ops:
                    return Match(ops[method], [])
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
