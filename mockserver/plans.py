"""Per-operation request plans: Connexion's request handling, built once per operation.

For every request Connexion routes the path again in each of its middlewares (a Starlette
router per layer, ~30 regex matches), builds a new URI parser and new validators, and
decorates the handler anew (``inspect.signature`` included) — most of an in-process GET
(profiled: ~75% of 0.2 ms). :class:`GenomicsMiddleware` already knows the operation and its
path parameters (:class:`~mockserver.routing.RouteTable`), so for each operation a
:class:`Plan` holds what Connexion would build, made once at start-up from Connexion's own
operation object (same document, same resolver), and answers the request with the same
steps, in Connexion's order, through Connexion's public classes and functions:

1. query and path parameters: Connexion's URI parser (coercion) and our
   :class:`~mockserver.validation.GoogleParameterValidator` (the validator Connexion is given);
2. ``Content-Type``: Connexion's :class:`RequestValidationOperation` checks (the header read
   without its per-call overhead, the verdict kept per media type);
3. the body: the body validator of the same validator map (:data:`mockserver.validation.VALIDATORS`),
   through its ``wrap_receive``, as Connexion's validation middleware calls it; the handler then
   gets the body that validator parsed (:func:`mockserver.compat.received_body`: the value
   Connexion's re-read of the replayed bytes would give) instead of a second parse;
4. the handler's arguments: what Connexion's ``get_arguments`` computes, compiled for the
   names the handler's signature asks for (read once), with Connexion's own value conversion
   (:func:`mockserver.compat.parameter_value`; a test compares the two on generated requests);
5. any exception: :func:`mockserver.error_handlers.as_api_error`, the mapping Connexion's
   error handlers use.

So validity and every error message come from one set of rules; ``create_app(fast_path=False)``
sends every request through Connexion's chain instead, and the HTTP test-suites run on both.
An operation whose shape a plan does not reproduce (non-JSON bodies, non-string path
parameters, a handler asking for Connexion's context or a synchronous one) has no plan: its
requests take Connexion's chain. No response is cached.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

from connexion.decorators.parameter import sanitized, unwrap_decorators
from connexion.lifecycle import ConnexionRequest
from connexion.middleware.request_validation import RequestValidationOperation
from connexion.operations import AbstractOperation
from connexion.spec import Specification
from connexion.utils import (
    inspect_function_arguments,
    is_json_mimetype,
    is_null,
    is_nullable,
    split_content_type,
)
from connexion.validators import VALIDATOR_MAP
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.compat import UNKNOWN, parameter_value, received_body
from mockserver.error_handlers import as_api_error
from mockserver.rendering import error_response
from mockserver.routing import HTTP_METHODS

#: Connexion's keyword for the request context (a plan does not provide it)
CONTEXT_ARGUMENT = "context_"
#: Connexion's parameter-name sanitizer (three regular expressions), memoized
sanitize = functools.cache(sanitized)
#: how many media types a plan keeps its per-type verdicts for
MEDIA_TYPES_KEPT = 8
#: what Connexion passes for a parameter the request leaves out (no default in the document)
_ABSENT = object()


async def _not_called(_scope: Scope, _receive: Receive, _send: Send) -> None:
    raise AssertionError("a plan answers the request itself")


class Plan:
    """Answers the requests of one operation (see the module docstring for the steps)."""

    def __init__(self, operation: AbstractOperation, validator_map: dict[str, Any], strict: bool) -> None:
        self.operation = operation
        self.function: Callable[..., Awaitable[Any]] = operation.function
        self.arguments, self.has_kwargs = inspect_function_arguments(unwrap_decorators(self.function))
        self.uri_parser = operation.uri_parser_class(operation.parameters, operation.body_definition())
        self.validators = {**VALIDATOR_MAP, **validator_map}  # as RequestValidationOperation merges them
        self.content = RequestValidationOperation(
            _not_called, operation=operation, strict_validation=strict, validator_map=validator_map
        )
        self.strict = strict
        self.parameters = self.validators["parameter"](
            operation.parameters, uri_parser=self.uri_parser, strict_validation=strict,
            security_query_params=self.content.security_query_params,
        )
        self.body_required = bool(operation.request_body.get("required", False))
        self._bodies: dict[str, tuple[dict[str, Any], bool, Any]] = {}
        self._accepted: set[str] = set()
        #: (name, handler keyword, definition) of the path parameters
        self.path_arguments = [
            (p["name"], sanitize(p["name"]), p) for p in operation.parameters if p["in"] == "path"
        ]
        #: (name, handler keyword, definition, default) of the query parameters the handler takes
        self.query_arguments = [
            (p["name"], sanitize(p["name"]), p, _query_default(p))
            for p in operation.parameters if p["in"] == "query" and self.takes(p["name"])
        ]
        body_name = sanitize(operation.body_name(""))
        #: the handler's keyword for the body, or None when it takes none
        wanted = operation.is_request_body_defined and self.takes(body_name)
        self.body_argument = body_name if wanted else None

    def takes(self, name: str) -> bool:
        """Whether Connexion passes ``name`` to the handler (named in its signature, or ``**kwargs``)."""
        return self.has_kwargs or sanitize(name) in self.arguments

    @staticmethod
    def unsupported(operation: AbstractOperation) -> str | None:
        """Why a plan would not reproduce Connexion's handling of ``operation`` (None: it would)."""
        arguments, _ = inspect_function_arguments(unwrap_decorators(operation.function))
        parameters = operation.parameters
        path = [p for p in parameters if p["in"] == "path"]
        checks = {
            "a synchronous handler (Connexion runs it in a thread)": not inspect.iscoroutinefunction(
                operation.function
            ),
            "the handler takes Connexion's context": CONTEXT_ARGUMENT in arguments,
            "a body that is not JSON, or of several media types": len(operation.consumes) > 1
            or not all(is_json_mimetype(mime) for mime in operation.consumes),
            "header or cookie parameters": any(p["in"] not in ("query", "path") for p in parameters),
            "object parameters": any(p.get("schema", {}).get("type") == "object" for p in parameters),
            "path parameters that are not plain strings": not all(
                p.get("schema", {}).get("type") == "string" and not is_nullable(p)
                and sanitize(p["name"]) == p["name"] for p in path
            ),
        }
        return next((reason for reason, found in checks.items() if found), None)

    def arguments_for(
        self, path_params: dict[str, Any], query_params: dict[str, Any], body: Any, mime_type: str
    ) -> dict[str, Any]:
        """The keyword arguments Connexion's ``get_arguments`` gives the handler, for parameters
        already coerced by the URI parser and a body already read (``mime_type``: the request's)."""
        kwargs = {}
        for name, keyword, definition in self.path_arguments:
            if name in path_params:
                kwargs[keyword] = parameter_value(path_params[name], definition)
        for name, keyword, definition, default in self.query_arguments:
            value = query_params.get(name, _ABSENT)
            if value is _ABSENT:
                if default is _ABSENT:
                    continue
                value = copy.deepcopy(default)
            kwargs[keyword] = parameter_value(value, definition)
        if self.body_argument is not None:
            schema, nullable, _ = self._body(mime_type)
            if nullable and is_null(body):
                body = None
            elif body is None:
                body = copy.deepcopy(schema.get("default", {}))
            kwargs[self.body_argument] = body
        return kwargs

    def _body(self, mime_type: str) -> tuple[dict[str, Any], bool, Any]:
        """(body schema, nullable, body validator class or None) for a media type, as Connexion
        derives them; kept for the first few media types seen (a client can vary the case)."""
        found = self._bodies.get(mime_type)
        if found is None:
            found = (
                self.operation.body_schema(mime_type),
                is_nullable(self.operation.body_definition(mime_type)),
                self.validators["body"].get(mime_type),
            )
            if len(self._bodies) < MEDIA_TYPES_KEPT:
                self._bodies[mime_type] = found
        return found

    async def answer(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, list[str]], path: dict[str, str]
    ) -> int:
        """Answer one request and return the status answered (for the request log: no wrapper
        around ``send`` to read it); ``query`` is its query string parsed (``parse_qs``, blank
        values kept) and ``path`` its path parameters (:class:`~mockserver.routing.RouteTable`)."""
        current = [receive]  # the body validator replaces the channel; the request reads the new one

        async def read() -> Any:
            return await current[0]()

        request = PlannedRequest.of(scope, read, uri_parser=self.uri_parser, query=query, path=path)
        try:
            response = await self._respond(request, scope, current)
        except Exception as exc:  # noqa: BLE001 - every failure becomes Google's envelope, as in Connexion
            response = error_response(as_api_error(request, exc))
        await response(scope, receive, send)
        return response.status_code

    def media_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str]:
        """(media type, charset) of a request, as ``RequestValidationOperation.extract_content_type``
        reads them (its ``typing`` look-ups on every call cost more than the rest of it)."""
        mime_type, encoding = split_content_type(content_type(headers))
        if mime_type is None:
            mime_type = self.operation.consumes[0] if self.operation.consumes else "application/octet-stream"
        return mime_type, encoding or "utf-8"

    def check_media_type(self, mime_type: str) -> None:
        """Connexion's ``validate_mime_type``, its verdict kept per media type."""
        if mime_type not in self._accepted:
            self.content.validate_mime_type(mime_type)  # raises for a type the operation does not take
            if len(self._accepted) < MEDIA_TYPES_KEPT:
                self._accepted.add(mime_type)

    async def _respond(self, request: ConnexionRequest, scope: Scope, current: list[Receive]) -> Response:
        self.parameters.validate_request(request)
        mime_type, encoding = self.media_type(scope["headers"])
        self.check_media_type(mime_type)
        schema, nullable, validator_class = self._body(mime_type)
        body = UNKNOWN
        if schema:
            if validator_class is not None:
                validator = validator_class(
                    schema=schema, required=self.body_required, nullable=nullable, encoding=encoding,
                    strict_validation=self.strict, uri_parser=self.uri_parser,
                )
                current[0], _ = await validator.wrap_receive(current[0], scope=scope)
                body = received_body(validator)
        body_type = ""
        if self.body_argument is None:
            body = None
        else:
            header = request.content_type
            if body is UNKNOWN or not reads_json(header):  # what get_body would do is not known
                body = await request.get_body()
            body_type = mimetype(header)
        arguments = self.arguments_for(request.path_params, request.query_params, body, body_type)
        response = await self.function(**arguments)
        if not isinstance(response, Response):
            raise TypeError(f"{self.operation.operation_id}: a handler must return a Response")
        return response


class PlannedRequest(ConnexionRequest):
    """Connexion's request with its parameters resolved from what the middleware already knows.

    The query is the middleware's ``parse_qs`` of the query string (what Starlette's
    ``QueryParams`` computes: ``parse_qsl`` with blank values kept), resolved by Connexion's
    URI parser on first use; the path parameters are the route table's, which Connexion's
    parser hands back unchanged for plain string parameters (the only ones a plan takes).
    Built with :meth:`of`.
    """

    raw_query: dict[str, list[str]]
    resolved_path: dict[str, str]
    raw_headers: list[tuple[bytes, bytes]]
    resolved_query: dict[str, Any] | None = None
    read_content_type: str | None = None

    @classmethod
    def of(
        cls, scope: Scope, receive: Receive, *, uri_parser: Any, query: dict[str, list[str]],
        path: dict[str, str],
    ) -> PlannedRequest:
        """The request, wrapped the way Connexion wraps Starlette's (``from_starlette_request``:
        its constructor probes for the wrapped request through ``__getattr__`` first, ~1.5 us)."""
        wrapped = cls.from_starlette_request(StarletteRequest(scope, receive), uri_parser)
        request = cast(PlannedRequest, wrapped)
        request.raw_query = query
        request.resolved_path = path
        request.raw_headers = scope["headers"]
        return request

    @property
    def content_type(self) -> str:
        """Connexion's reading of the header, once (a body request reads it twice): Starlette's
        ``Headers.get``, the first header named exactly ``content-type`` (ASGI names are lower case)."""
        if self.read_content_type is None:
            self.read_content_type = "application/octet-stream"
            for key, value in self.raw_headers:
                if key == b"content-type":
                    self.read_content_type = value.decode("latin-1")
                    break
        return self.read_content_type

    @property
    def query_params(self) -> dict[str, Any]:
        if self.resolved_query is None:
            self.resolved_query = self.uri_parser.resolve_query(self.raw_query) if self.raw_query else {}
        return self.resolved_query

    @property
    def path_params(self) -> dict[str, str]:
        return self.resolved_path


def content_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The first ``Content-Type`` of ASGI headers, as ``connexion.utils.extract_content_type``
    finds it (names compared case-insensitively, the value decoded as latin-1)."""
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.decode("latin-1")
    return None


@functools.lru_cache(maxsize=64)
def reads_json(content_type: str) -> bool:
    """Whether ``ConnexionRequest.get_body`` parses a body of this ``Content-Type`` as JSON
    (False too when its check fails on the value: the plan then lets it fail the same way)."""
    try:
        return is_json_mimetype(content_type)
    except ValueError:
        return False


@functools.lru_cache(maxsize=64)
def mimetype(content_type: str) -> str:
    """``ConnexionRequest.mimetype`` for a request of this ``Content-Type`` (its parse, kept)."""
    scope = {"type": "http", "headers": [(b"content-type", content_type.encode("latin-1"))]}
    return str(ConnexionRequest(scope).mimetype)


def _query_default(definition: dict[str, Any]) -> Any:
    """A query parameter's default as Connexion reads it (``default`` beside or in its schema)."""
    if "default" in definition:
        return definition["default"]
    schema = definition.get("schema", {})
    return schema.get("default", _ABSENT)


def build_plans(
    document: dict[str, Any], resolver: Any, validator_map: dict[str, Any], *, uri_parser_class: Any,
    strict: bool = True,
) -> dict[str, Plan]:
    """operationId -> plan, for the operations of ``document`` a plan supports (the document,
    resolver, validators and URI parser are what ``add_api`` was given)."""
    specification = Specification.load(document)
    plans = {}
    for path, item in specification["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = specification.operation_cls.from_spec(
                specification, path=path, method=method, resolver=resolver, uri_parser_class=uri_parser_class
            )
            if Plan.unsupported(operation) is None:
                plans[operation.operation_id] = Plan(operation, validator_map, strict)
    return plans
