"""CORS, as Google's APIs answer browser apps (``genomics-mock serve --no-cors`` turns it off).

* any response to a request carrying ``Origin`` echoes that origin in
  ``Access-Control-Allow-Origin`` (every origin is allowed: the API is guarded by
  credentials, not by origin), with ``Vary: Origin``, and exposes the headers a
  client reads on errors (``WWW-Authenticate``, ``Allow``);
* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``)
  is answered here with 200: the methods the API uses and, of the request headers
  asked for, those allowed — ``Authorization``, ``Content-Type``,
  ``X-HTTP-Method-Override``, any ``X-Goog-*`` and the CORS-safelisted ones; a
  header outside that list is left out, so the browser refuses the call;
* ``/_mock/`` (the test harness's admin API) takes part in none of it: a page in
  a browser has no business resetting the mock.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.request_body import header_value

ALLOWED_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
#: request headers a browser may send (lower case); any ``x-goog-`` header too
ALLOWED_HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "x-http-method-override",
        "accept",
        "accept-language",
        "content-language",
    }
)
EXPOSED_HEADERS = "WWW-Authenticate, Allow"
#: how long a browser may cache a preflight answer (seconds)
MAX_AGE = "3600"


def allowed_header(name: str) -> bool:
    name = name.strip().lower()
    return name in ALLOWED_HEADERS or name.startswith("x-goog-")


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock"):
            await self.app(scope, receive, send)
            return
        origin = header_value(scope, b"origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, headers, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(origin: str, headers: Headers, send: Send) -> None:
        requested = headers.get("access-control-request-headers", "")
        granted = [name.strip() for name in requested.split(",") if name.strip() and allowed_header(name)]
        out = [
            ("access-control-allow-origin", origin),
            ("access-control-allow-methods", ALLOWED_METHODS),
            ("access-control-max-age", MAX_AGE),
            ("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
            ("content-length", "0"),
        ]
        if granted:
            out.append(("access-control-allow-headers", ", ".join(granted)))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in out],
            }
        )
        await send({"type": "http.response.body", "body": b""})
