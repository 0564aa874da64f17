"""The admin API under ``/_mock/``: reset, seed, state, clock, operations, requests, faults, principals.

Off the Genomics namespace so it never collides with the real API. Who may
call it (see :func:`_check_caller`):

* with ``--auth strict``, only a caller sending the bearer token of a superuser
  principal (``superuser: true`` in the token file) or the server's admin token
  (``--admin-token``); a request without credentials is 401 with
  ``WWW-Authenticate: Bearer realm="genomics-mock admin"``;
* with ``--auth open``, also a request without credentials (the convenience the
  pytest plugin relies on) — but ``GET /_mock/state`` then leaves out the bearer
  tokens, API keys and page-token secret, which only a superuser or the admin
  token may read;
* in both modes, a request carrying an API key or an ordinary principal's token
  is 403, and an unknown token is 401: the admin API is for the test harness,
  not for the identities under test.

``--no-admin`` / ``create_app(admin=False)`` turns it off entirely (404);
``GET /_mock/health`` stays on either way, for CI waiters. Every answer,
errors included, is JSON; errors use Google's envelope
(``{"error": {"code", "message", "status"}}``).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from mockserver import request_body
from mockserver.auth import credentials
from mockserver.backend.clock import FakeClock, parse_rfc3339, rfc3339
from mockserver.errors import ApiError, failed_precondition, invalid_argument, permission_denied
from mockserver.faults import FaultInjector, FaultRuleError
from mockserver.rendering import error_response
from mockserver.seed import SeedError, add_principal, load_seed, parse_seed
from mockserver.snapshot import SnapshotError, empty_document, restore, snapshot_bytes

if TYPE_CHECKING:
    from mockserver.auth import TokenRegistry
    from mockserver.backend import Backend

log = logging.getLogger("genomics_mock")

REQUEST_LOG_SIZE = 1000
#: media types a seed may be sent as besides JSON
YAML_MEDIA_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
#: the admin API's realm in WWW-Authenticate
ADMIN_REALM = 'Bearer realm="genomics-mock admin"'
#: the times POST /_mock/clock may set: the backend adds windows (7-day undelete) to "now", and
#: RFC 3339 timestamps end at year 9999
CLOCK_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))


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
    #: the server's auth mode: in ``strict`` the admin API needs a superuser or the admin token
    auth: str = "open"
    #: a bearer token that may call the admin API besides superusers' (``--admin-token``)
    admin_token: str | None = None
    #: a folder whose files seeds sent to ``POST /_mock/seed`` may name (``--seed-root``)
    seed_root: Path | None = None
    #: the state file's store (``mockserver.persistence.Store``) when the server has one: health asks it
    persistence: Any = None
    #: what POST /_mock/reset returns to: a state document, or what puts it back (a server started
    #: from its state file reads the file again); None: empty. Set after start-up loading
    baseline: bytes | Callable[[], None] | None = None
    _base_tokens: dict[str, Any] | None = None
    _base_clock: datetime | None = None
    #: the clock the server started with: a system clock moved by /_mock/clock comes back on reset
    _base_clock_source: Any = None
    _base_mode: str = "background"

    def __post_init__(self) -> None:
        self.capture_baseline(empty=True)

    def capture_baseline(
        self, *, empty: bool = False, restore_with: Callable[[], None] | None = None
    ) -> None:
        """Make the current state what reset returns to (start-up seeding calls this);
        ``restore_with`` puts it back, where that is cheaper than a copy of it."""
        if restore_with is not None:
            self.baseline = restore_with
        else:
            self.baseline = None if empty else snapshot_bytes(self.backend, self.tokens)
        self._base_tokens = self.tokens.snapshot() if self.tokens is not None else None
        clock = self.backend.clock
        self._base_clock = clock.now() if isinstance(clock, FakeClock) else None
        self._base_clock_source = clock
        self._base_mode = self.backend.operations.mode

    def reset(self) -> None:
        """Back to the start-up state: data, tokens, fake clock, operations mode; faults and log cleared."""
        with self.backend.lock:
            if callable(self.baseline):
                self.baseline()
                if self.tokens is not None and self._base_tokens is not None:
                    self.tokens.load(self._base_tokens)  # tokens given at start-up, as at start-up
            elif self.baseline is not None:
                restore(self.backend, self.baseline, self.tokens)
            elif self.tokens is None:
                self.backend.reset()
            else:
                restore(self.backend, empty_document(self._base_tokens), self.tokens)
            self.backend.clock = self._base_clock_source
            if self._base_clock is not None:
                self.backend.clock.set(self._base_clock)  # type: ignore[attr-defined]  # a FakeClock
            self.backend.operations.mode = self._base_mode
        self.faults.clear()
        self.requests.clear()


async def _json_body(
    request: Request, *, allow_yaml: bool = False, max_depth: int = request_body.MAX_DEPTH
) -> Any:
    """The request's JSON body (or YAML, for seeds), checked by :mod:`mockserver.request_body`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    kind = request_body.media_type(request.scope)
    if kind is None:
        raise request_body.missing_content_type()
    if allow_yaml and kind in YAML_MEDIA_TYPES:
        try:
            return parse_seed(raw.decode("utf-8"))  # checked like a JSON body (parse_config_text)
        except UnicodeDecodeError:
            raise invalid_argument("the seed is not UTF-8") from None
        except SeedError as exc:
            raise invalid_argument(str(exc)) from None
    if kind not in request_body.JSON_MEDIA_TYPES and not kind.endswith("+json"):
        accepted = ", ".join(request_body.JSON_MEDIA_TYPES + (YAML_MEDIA_TYPES if allow_yaml else ()))
        raise invalid_argument(f"Unsupported media type {kind}; send {accepted}")
    try:
        return request_body.decode_json(raw, max_depth=max_depth)
    except request_body.BodyError as exc:
        raise invalid_argument(f"request body is not valid JSON: {exc}") from None


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
            seed_body = _object_body(body, "seed")
            counts = load_seed(backend, seed_body, control.tokens, seed_root=control.seed_root)
        except SeedError as exc:
            raise invalid_argument(str(exc)) from None
        return JSONResponse({"created": counts})

    async def state(request: Request) -> Response:
        if request.method == "GET":
            data = snapshot_bytes(backend, control.tokens)
            if not request.scope["state"].get(PRIVILEGED):
                data = orjson.dumps(without_secrets(orjson.loads(data)))
            return Response(data, media_type="application/json")
        body = await _json_body(request, max_depth=request_body.STATE_MAX_DEPTH)
        try:
            restore(backend, body, control.tokens)
        except SnapshotError as exc:
            raise invalid_argument(f"state refused: {exc}") from None
        return JSONResponse({})

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = _object_body(await _json_body(request), "clock")
            _move_clock(backend, body)
        current = backend.clock
        return JSONResponse({"time": rfc3339(current.now()), "fake": isinstance(current, FakeClock)})

    async def complete_operation(request: Request) -> Response:
        op_id = request.path_params["op_id"]
        name = op_id if op_id.startswith("operations/") else f"operations/{op_id}"
        try:
            result = backend.operations.complete(name)
        except RuntimeError as exc:
            raise failed_precondition(str(exc)) from None
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
        scope = {**scope, "path": path, "root_path": scope.get("root_path", "") + "/_mock",
                 "state": dict(scope.get("state") or {})}
        started = [False]

        async def send_started(message: Any) -> None:
            started[0] = True
            await send(message)

        try:
            scope["state"][PRIVILEGED] = _check_caller(scope, control)
            await _guarded(router, scope, receive, send_started)
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
        except Exception:  # noqa: BLE001 - every answer under /_mock/ is the JSON envelope
            log.exception("internal error on %s %s", scope["method"], path)
            if not started[0]:
                failed = ApiError("INTERNAL", "Internal error in the admin API (logged by the server)")
                await error_response(failed)(scope, receive, send)

    return app


#: scope["state"] key: whether the admin caller sent a superuser token or the admin token
PRIVILEGED = "genomics_admin_privileged"


def without_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """A state document without what only a superuser may read: bearer tokens, API keys and the
    page-token secret (restoring it keeps the server's own, and the tokens)."""
    state = dict(document["state"])
    state.pop("tokens", None)
    server = state.get("server", {})
    state["server"] = {**server, "settings": {
        k: v for k, v in server.get("settings", {}).items() if k != "pageTokenSecret"}}
    return {**document, "state": state}


async def _guarded(router: Router, scope: Scope, receive: Receive, send: Send) -> None:
    """Route, turning ApiError and Starlette's plain-text 404/405 into Google's envelope."""
    from starlette.exceptions import HTTPException

    try:
        await router(scope, receive, send)
    except HTTPException as exc:
        status = "NOT_FOUND" if exc.status_code == 404 else "UNIMPLEMENTED"
        raise ApiError(status, f"No such admin endpoint: {scope['method']} {scope['path']}",
                       http_code=exc.status_code) from None


def _check_caller(scope: Scope, control: MockControl) -> bool:
    """Whether the caller is privileged (a superuser or the admin token); raises 401/403 for a
    caller the admin API refuses (see module docstring)."""
    headers = Headers(scope=scope)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    try:
        token, key = credentials(headers, query)
    except ApiError as exc:
        raise _admin_unauthenticated(exc.message, invalid=True) from None
    if token is not None:
        if control.admin_token and hmac.compare_digest(token.encode(), control.admin_token.encode()):
            return True
        principal = control.tokens.principal_for_token(token) if control.tokens is not None else None
        if principal is None:
            raise _admin_unauthenticated(
                "Request had invalid authentication credentials: the access token is not known to "
                "this server.", invalid=True,
            )
        if not principal.superuser:
            raise permission_denied(
                f"The admin API is for the test harness; {principal.member} is not an admin principal"
            )
        return True
    if key is not None:
        raise permission_denied("The admin API does not accept API keys")
    if control.auth == "strict":
        raise _admin_unauthenticated(
            "The admin API of a strict server needs the bearer token of a superuser or the admin "
            "token (--admin-token)."
        )
    return False


def _admin_unauthenticated(message: str, *, invalid: bool = False) -> ApiError:
    challenge = ADMIN_REALM + (', error="invalid_token"' if invalid else "")
    return ApiError("UNAUTHENTICATED", message, headers={"WWW-Authenticate": challenge})


def _move_clock(backend: Backend, body: dict[str, Any]) -> None:
    """Set ({"time"}) or advance ({"seconds"}/{"days"}...) the clock; a system clock becomes fake.
    A time outside :data:`CLOCK_RANGE`, or an advance that leaves it, is a 400."""
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
        if not isinstance(body["time"], str):
            raise invalid_argument(f"time must be an RFC 3339 timestamp string, got {body['time']!r}")
        try:
            target = parse_rfc3339(body["time"])
        except ValueError:
            raise invalid_argument(f"time must be an RFC 3339 timestamp, got {body['time']!r}") from None
    else:
        for unit in units:
            if unit in body:
                value = body[unit]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise invalid_argument(f"{unit} must be a number, got {value!r}")
                try:
                    step += timedelta(**{unit: value})
                except (OverflowError, ValueError):
                    raise invalid_argument(f"{unit}: {value!r} is out of range") from None
        if step < timedelta():
            raise invalid_argument("the clock only moves forward; give a positive amount")
    low, high = CLOCK_RANGE
    with backend.lock:
        now = backend.clock.now()
        if target is None:
            target = now + step if step <= high - now else high
        if not low <= target < high:
            raise invalid_argument(
                f"the clock must stay between {rfc3339(low)} and {rfc3339(high)} (exclusive)"
            )
        if not isinstance(backend.clock, FakeClock):
            backend.clock = FakeClock(now)
        backend.clock.set(target)


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


def health_app(control: MockControl | None = None) -> Callable[[Scope, Receive, Send], Any]:
    """``GET /_mock/health``: ``ok``, or ``degraded`` with the reason and the time of the last
    durable write while the state file cannot be written."""
    started = time.time()

    def report(_scope: Scope) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "uptimeSeconds": round(time.time() - started, 3)}
        store = control.persistence if control is not None else None
        if store is not None:
            persistence = store.health()
            body["status"] = persistence.pop("status")
            if "reason" in persistence:
                body["reason"] = persistence["reason"]
            body["persistence"] = persistence
        return body

    return document_app(report)
