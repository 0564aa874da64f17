"""The admin API under ``/_mock/``: reset, seed, state, clock, operations, requests, faults, principals.

Off the Genomics namespace so it never collides with the real API. Who may
call it: a request **without credentials**, or one whose bearer token belongs
to a superuser principal (``superuser: true`` in the token file). A request
carrying an API key, or a token of an ordinary principal, is refused with
403 — the admin API is for the test harness, not for the identities under
test. ``--no-admin`` / ``create_app(admin=False)`` turns it off entirely
(404); ``GET /_mock/health`` stays on either way, for CI waiters.

Errors use Google's envelope (``{"error": {"code", "message", "status"}}``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from mockserver.auth import identify
from mockserver.backend.clock import FakeClock, parse_rfc3339, rfc3339
from mockserver.errors import ApiError, failed_precondition, invalid_argument, permission_denied
from mockserver.faults import FaultInjector, FaultRuleError
from mockserver.rendering import error_response
from mockserver.seed import SeedError, add_principal, load_seed, parse_seed
from mockserver.snapshot import SnapshotError, restore, snapshot

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

REQUEST_LOG_SIZE = 1000


class RequestLog:
    """The last ``maxlen`` requests: method, path, operationId, principal, status (thread-safe)."""

    def __init__(self, maxlen: int = REQUEST_LOG_SIZE) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class MockControl:
    """Everything the admin API and the middleware's extras act on, for one app."""

    backend: Backend
    tokens: TokenRegistry | None = None
    faults: FaultInjector = field(default_factory=FaultInjector)
    requests: RequestLog = field(default_factory=RequestLog)
    admin: bool = True
    #: called after anything that may have changed state (the state file's saver listens)
    listeners: list[Callable[[], None]] = field(default_factory=list)
    #: what POST /_mock/reset returns to (None: empty); set after start-up seeding
    baseline: dict[str, Any] | None = None
    _base_tokens: dict[str, Any] | None = None
    _base_clock: datetime | None = None
    #: the clock the server started with: a system clock moved by /_mock/clock comes back on reset
    _base_clock_source: Any = None
    _base_mode: str = "background"

    def __post_init__(self) -> None:
        self.capture_baseline(empty=True)

    def capture_baseline(self, *, empty: bool = False) -> None:
        """Make the current state what reset returns to (start-up seeding calls this)."""
        self.baseline = None if empty else snapshot(self.backend, self.tokens)
        self._base_tokens = self.tokens.snapshot() if self.tokens is not None else None
        clock = self.backend.clock
        self._base_clock = clock.now() if isinstance(clock, FakeClock) else None
        self._base_clock_source = clock
        self._base_mode = self.backend.operations.mode

    def changed(self) -> None:
        for listener in self.listeners:
            listener()

    def reset(self) -> None:
        """Back to the start-up state: data, tokens, fake clock, operations mode; faults and log cleared."""
        with self.backend.lock:
            if self.baseline is not None:
                restore(self.backend, self.baseline, self.tokens)
            else:
                self.backend.reset()
                if self.tokens is not None and self._base_tokens is not None:
                    self.tokens.clear()
                    self.tokens.load(self._base_tokens)
            self.backend.clock = self._base_clock_source
            if self._base_clock is not None:
                self.backend.clock.set(self._base_clock)  # type: ignore[attr-defined]  # a FakeClock
            self.backend.operations.mode = self._base_mode
        self.faults.clear()
        self.requests.clear()
        self.changed()


async def _json_body(request: Request, *, allow_yaml: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    text = raw.decode("utf-8", errors="replace")
    if allow_yaml and "json" not in request.headers.get("content-type", "json"):
        try:
            return parse_seed(text)
        except SeedError as exc:
            raise invalid_argument(str(exc)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid_argument(f"request body is not valid JSON: {exc.msg}") from None


def _object_body(body: Any, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_argument(f"the {what} body must be a JSON object")
    return body


def build_admin_app(control: MockControl) -> Callable[[Scope, Receive, Send], Any]:
    """The ASGI app mounted at ``/_mock`` (paths below are relative to it)."""
    backend = control.backend

    async def reset(_request: Request) -> Response:
        control.reset()
        return JSONResponse({})

    async def seed(request: Request) -> Response:
        body = await _json_body(request, allow_yaml=True)
        try:
            counts = load_seed(backend, _object_body(body, "seed"), control.tokens)
        except SeedError as exc:
            raise invalid_argument(str(exc)) from None
        control.changed()
        return JSONResponse({"created": counts})

    async def state(request: Request) -> Response:
        if request.method == "GET":
            try:
                return JSONResponse(snapshot(backend, control.tokens))
            except SnapshotError as exc:
                raise ApiError("INTERNAL", f"cannot export the state: {exc}") from None
        body = await _json_body(request)
        try:
            restore(backend, body, control.tokens)
        except SnapshotError as exc:
            raise invalid_argument(f"state refused: {exc}") from None
        control.changed()
        return JSONResponse({})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = _object_body(await _json_body(request), "clock")
            _move_clock(backend, body)
            control.changed()
        current = backend.clock
        return JSONResponse({"time": rfc3339(current.now()), "fake": isinstance(current, FakeClock)})

    async def complete_operation(request: Request) -> Response:
        op_id = request.path_params["op_id"]
        name = op_id if op_id.startswith("operations/") else f"operations/{op_id}"
        try:
            result = backend.operations.complete(name)
        except RuntimeError as exc:
            raise failed_precondition(str(exc)) from None
        control.changed()
        return JSONResponse(result)

    async def operations_mode(request: Request) -> Response:
        from mockserver.backend.operations import MODES

        if request.method == "POST":
            body = _object_body(await _json_body(request), "operations")
            mode = body.get("mode")
            if set(body) != {"mode"} or mode not in MODES:
                raise invalid_argument(f"give {{\"mode\": one of {', '.join(MODES)}}}, got {body!r}")
            backend.operations.mode = mode
        return JSONResponse({"mode": backend.operations.mode})

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            control.requests.clear()
            return JSONResponse({})
        return JSONResponse({"requests": control.requests.entries()})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": control.faults.list()})
        if request.method == "DELETE":
            control.faults.clear()
            return JSONResponse({})
        body = await _json_body(request)
        rules = body.get("faults", body.get("rules")) if isinstance(body, dict) and (
            "faults" in body or "rules" in body) else body
        try:
            added = control.faults.add(rules)
        except FaultRuleError as exc:
            raise invalid_argument(f"fault rule rejected: {exc}") from None
        return JSONResponse({"faults": added})

    async def delete_fault(request: Request) -> Response:
        rule_id = request.path_params["rule_id"]
        if not control.faults.clear(rule_id):
            raise ApiError("NOT_FOUND", f"Fault rule {rule_id!r} not found")
        return JSONResponse({})

    async def principals(request: Request) -> Response:
        body = _object_body(await _json_body(request), "principal")
        unknown = set(body) - {"name", "member", "token", "roles", "projectId", "scopes"}
        if unknown:
            raise invalid_argument(f"unknown principal fields: {', '.join(sorted(unknown))}")
        try:
            result = add_principal(
                backend, control.tokens, name=body.get("name"), member=body.get("member"),
                token=body.get("token"), roles=body.get("roles") or [], project_id=body.get("projectId"),
                scopes=body.get("scopes"),
            )
        except SeedError as exc:
            raise invalid_argument(str(exc)) from None
        control.changed()
        return JSONResponse(result)

    async def index(_request: Request) -> Response:
        return JSONResponse({"endpoints": sorted({r.path for r in routes})})

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
        Route("/seed", seed, methods=["POST"]),
        Route("/state", state, methods=["GET", "PUT"]),
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/operations", operations_mode, methods=["GET", "POST"]),
        Route("/operations/{op_id:str}:complete", complete_operation, methods=["POST"]),
        Route("/requests", requests_log, methods=["GET", "DELETE"]),
        Route("/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route("/faults/{rule_id}", delete_fault, methods=["DELETE"]),
        Route("/principals", principals, methods=["POST"]),
    ]
    router = Router(routes)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["path"] != "/_mock" else "/_mock/"
        scope = {**scope, "path": path, "root_path": scope.get("root_path", "") + "/_mock"}
        try:
            _check_caller(scope, control)
            await _guarded(router, scope, receive, send)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)

    return app


async def _guarded(router: Router, scope: Scope, receive: Receive, send: Send) -> None:
    """Route, turning ApiError and Starlette's plain-text 404/405 into Google's envelope."""
    from starlette.exceptions import HTTPException

    try:
        await router(scope, receive, send)
    except HTTPException as exc:
        status = "NOT_FOUND" if exc.status_code == 404 else "UNIMPLEMENTED"
        raise ApiError(status, f"No such admin endpoint: {scope['method']} {scope['path']}",
                       http_code=exc.status_code) from None


def _check_caller(scope: Scope, control: MockControl) -> None:
    """Refuse API keys and tokens of ordinary principals (see module docstring)."""
    headers = Headers(scope=scope)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    has_token = "authorization" in headers or "access_token" in query or "oauth_token" in query
    if "key" in query and not has_token:
        raise permission_denied("The admin API does not accept API keys")
    if not has_token:
        return
    principal = identify(control.tokens, "strict", headers, query)  # unknown token: 401
    if not principal.superuser:
        raise permission_denied(
            f"The admin API is for the test harness; {principal.member} is not an admin principal"
        )


def _move_clock(backend: Backend, body: dict[str, Any]) -> None:
    """Set ({"time"}) or advance ({"seconds"}/{"days"}...) the clock; a system clock becomes fake."""
    units = ("days", "hours", "minutes", "seconds", "milliseconds")
    unknown = set(body) - {"time", *units}
    if unknown:
        names = ", ".join(sorted(unknown))
        raise invalid_argument(f"unknown clock fields: {names} (use time or {', '.join(units)})")
    if "time" in body and any(u in body for u in units):
        raise invalid_argument("give either time (to set the clock) or an amount to advance, not both")
    target: datetime | None = None
    step = timedelta()
    if "time" in body:
        try:
            target = parse_rfc3339(str(body["time"]))
        except ValueError:
            raise invalid_argument(f"time must be an RFC 3339 timestamp, got {body['time']!r}") from None
    else:
        for unit in units:
            if unit in body:
                value = body[unit]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise invalid_argument(f"{unit} must be a number, got {value!r}")
                step += timedelta(**{unit: value})
        if step < timedelta():
            raise invalid_argument("the clock only moves forward; give a positive amount")
    with backend.lock:
        if not isinstance(backend.clock, FakeClock):
            backend.clock = FakeClock(datetime.now(UTC))
        if target is not None:
            backend.clock.set(target)
        else:
            backend.clock.advance(step)


def document_app(build: Callable[[Scope], dict[str, Any]]) -> Callable[[Scope, Receive, Send], Any]:
    """A read-only JSON resource (GET/HEAD; anything else is a Google-style 405)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            refused = ApiError("UNIMPLEMENTED", f"{scope['path']} accepts GET only", http_code=405,
                               headers={"Allow": "GET, HEAD"})
            await error_response(refused)(scope, receive, send)
            return
        await JSONResponse(build(scope))(scope, receive, send)

    return app


def index_document(root_url: str, *, admin: bool, swagger_ui: bool) -> dict[str, Any]:
    """``GET /``: what this server is and where to go next (the URL the start-up line prints)."""
    from mockserver import __version__

    links = {
        "api": f"{root_url}v1/",
        "discovery": f"{root_url}$discovery/rest?version=v1",
        "openapi": f"{root_url}openapi.json",
        **({"swaggerUi": f"{root_url}ui/"} if swagger_ui else {}),
        "health": f"{root_url}_mock/health",
        **({"admin": f"{root_url}_mock/"} if admin else {}),
    }
    return {
        "service": "genomics-mock",
        "description": "A stateful mock of the Google Genomics v1 REST API",
        "version": __version__,
        "links": links,
        "docs": "README.md, docs/usage.md, docs/conformance.md and docs/permissions.md in the "
        "genomics-mock source tree",
    }


def health_app() -> Callable[[Scope, Receive, Send], Any]:
    started = time.time()
    return document_app(lambda _scope: {"status": "ok", "uptimeSeconds": round(time.time() - started, 3)})
