"""The outermost ASGI layer: per-request context, routing facts, identity.

Runs before Connexion for every request:

1. binds this app's backend to the request (several apps may share a process);
2. serves the generated discovery document;
3. for ``/v1/...``: looks the request up in the :class:`RouteTable` (Google
   404/405 with a correct ``Allow`` before Connexion's router can misroute a
   colon verb), checks a ``fields=`` selector against the operation's
   response, identifies the caller, checks the token's scopes against the
   operation's, and binds the principal and output options; then hands the request to the
   operation's compiled plan (:mod:`mockserver.plans`), or to Connexion when it has none;
4. turns any :class:`ApiError` raised here into Google's error body.

A request with a body must say what it sends (``Content-Type``); a chunked one is
read whole (within the limits :class:`mockserver.request_body.RequestLimits` set in
front of every middleware) and handed on with its length.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from mockserver import compat, context, request_body
from mockserver.backend import Backend
from mockserver.backend.principals import Principal
from mockserver.errors import ApiError
from mockserver.plans import Plan
from mockserver.rendering import check_selection, error_response, json_response, parse_fields
from mockserver.request_options import current_options, options_from_query, reset_options, set_options
from mockserver.routing import Operation, RouteTable

log = logging.getLogger("genomics_mock")

DISCOVERY_PATHS = ("/$discovery/rest", "/discovery/v1/apis/genomics/v1/rest")

#: identify(headers, query, operation) -> Principal; raises ApiError 401/403
Authenticator = Callable[[Headers, dict[str, list[str]], Operation], Principal]


class GenomicsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        backend: Backend,
        routes: RouteTable,
        authenticate: Authenticator,
        discovery: Callable[[str], dict[str, Any]],
        extra_routes: dict[str, ASGIApp] | None = None,
        control: Any = None,
        plans: Mapping[str, Plan] | None = None,
    ) -> None:
        self.app = app
        self.backend = backend
        self.routes = routes
        self.authenticate = authenticate
        self.discovery = discovery
        #: path prefix -> ASGI app served before Connexion (admin API, health, "/" index)
        self.extra_routes = extra_routes or {}
        #: (prefix, what a path below it starts with, app); "/" matches itself only
        self._prefixes = [(prefix, prefix.rstrip("/") + "/" if prefix != "/" else "", app)
                          for prefix, app in self.extra_routes.items()]
        #: mockserver.admin.MockControl: request log, fault rules (optional)
        self.control = control
        #: operationId -> mockserver.plans.Plan: answers that operation's requests instead of
        #: Connexion's chain (same rules; operations without one take the chain)
        self.plans = plans or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        backend_token = context.current_backend.set(self.backend)
        raw_query = scope.get("query_string", b"")
        query = parse_qs(raw_query.decode("latin-1"), keep_blank_values=True) if raw_query else {}
        options_token = set_options(options_from_query(query))
        control = self.control
        logged = control is not None and not scope["path"].startswith(("/_mock", "/ui"))
        status = [0]
        recording = _recording_status(send, status) if logged else send
        try:
            await self._dispatch(scope, receive, recording, query, status, send)
        except ApiError as exc:
            await error_response(exc)(scope, receive, recording)
        except Exception:  # noqa: BLE001 - Starlette's fallback would answer plain text
            log.exception("internal error on %s %s", scope["method"], scope["path"])
            failed = ApiError("INTERNAL", "Internal error (logged by the server)")
            with contextlib.suppress(Exception):  # the response may have started already
                await error_response(failed)(scope, receive, recording)
        finally:
            reset_options(options_token)
            context.current_backend.reset(backend_token)
            if logged:
                _log_request(control, scope, status[0])

    async def _dispatch(
        self, scope: Scope, receive: Receive, send: Send, query: dict[str, list[str]],
        status: list[int], plain_send: Send,
    ) -> None:
        """Answer through ``send`` (which writes the status into ``status[0]`` when the request is
        logged), except a plan: it returns its status, and answers through ``plain_send``."""
        path: str = scope["path"]
        for prefix, below, app in self._prefixes:
            if path == prefix or (below and path.startswith(below)):
                await app(scope, receive, send)
                return
        faults = self.control.faults if self.control is not None else None
        if faults and await self._inject_fault(scope, receive, send):
            return
        if path in DISCOVERY_PATHS and scope["method"] in ("GET", "HEAD"):
            await json_response(self.discovery(root_url(scope)))(scope, receive, send)
            return
        if not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        match = self.routes.match(scope["method"], path)
        if match.operation is None:
            if match.allowed:
                allow = ", ".join(match.allowed)
                raise ApiError(
                    "UNIMPLEMENTED",
                    f"Method {scope['method']} is not allowed on {path}; allowed: {allow}",
                    http_code=405,
                    headers={"Allow": allow},
                )
            raise ApiError("NOT_FOUND", f"No such method: {scope['method']} {path}")
        scope.setdefault("state", {})["genomics_operation"] = match.operation
        fields = current_options().fields
        if fields:
            check_selection(parse_fields(fields), match.operation.response)
        principal = self.authenticate(Headers(scope=scope), query, match.operation)
        length = request_body.declared_length(scope)
        if request_body.has_body(scope, length):
            if request_body.media_type(scope) is None:
                raise request_body.missing_content_type()
            scope, receive = await request_body.with_length(scope, receive, length)
        principal_token = context.current_principal.set(principal)
        scope["state"]["genomics_principal"] = principal.member
        plan = self.plans.get(match.operation.operation_id)
        try:
            if plan is None:
                await self.app(scope, receive, send)
            else:
                status[0] = await plan.answer(scope, receive, plain_send, query, match.path_params)
        finally:
            context.current_principal.reset(principal_token)

    async def _inject_fault(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Apply a matching fault rule (see mockserver.faults); True when it answered the request."""
        import asyncio

        path, method = scope["path"], scope["method"]
        operation_id = None
        if path.startswith("/v1/"):
            operation = self.routes.match(method, path).operation
            operation_id = operation.operation_id if operation is not None else None
        fault = self.control.faults.pick(method, path, operation_id)
        if fault is None:
            return False
        if operation_id is not None:
            scope.setdefault("state", {})["genomics_fault_operation"] = operation_id
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.error is not None:
            await error_response(fault.error)(scope, receive, send)
            return True
        if fault.drop:
            if not compat.drop_connection(send):
                raise ConnectionAbortedError("injected fault: connection dropped")
            return True
        return False


def _recording_status(send: Send, status: list[int]) -> Send:
    """``send``, also writing the response status into ``status[0]`` (for the request log)."""

    async def recording(message: Any) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        await send(message)

    return recording


def _log_request(control: Any, scope: Scope, status: int) -> None:
    state = scope.get("state") or {}
    operation = state.get("genomics_operation")
    control.requests.append(
        {
            "method": scope["method"],
            "path": scope["path"],
            "operationId": operation.operation_id if operation is not None
            else state.get("genomics_fault_operation"),
            "principal": state.get("genomics_principal"),
            "status": status or None,
        }
    )


def root_url(scope: Scope) -> str:
    host = Headers(scope=scope).get("host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}/"
