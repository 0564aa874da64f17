"""``X-HTTP-Method-Override``: a POST that stands for another method, as Google's front end takes it.

Clients tunnel a method through POST when they cannot send it directly:
google-api-python-client sends a GET whose URL exceeds 2,048 characters as
``POST`` + ``X-HTTP-Method-Override: GET`` with the query string as an
``application/x-www-form-urlencoded`` body, and ``tunnel_patch`` sends PATCH
as ``POST`` + ``X-HTTP-Method-Override: PATCH``.

This middleware rewrites such a request into the one it stands for before
anything else sees it, so routing, identity, scopes, validation and the
handler treat it exactly like the direct call:

* ``GET`` (and ``DELETE``): a form-encoded body is appended to the URL's query
  string and the body dropped; any other body is a 400;
* ``PATCH``, ``PUT``, ``DELETE``: the method changes, the body stays;
* any other value is a 400 naming it. The header counts on POST only (Google's
  rule); on other methods it is ignored.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.batch import read_body
from mockserver.errors import ApiError
from mockserver.rendering import error_response
from mockserver.request_body import header_value

HEADER = "x-http-method-override"
_HEADER_NAME = HEADER.encode()
#: methods a POST may stand for
OVERRIDABLE = ("GET", "PATCH", "PUT", "DELETE")
FORM = "application/x-www-form-urlencoded"


class MethodOverrideMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        wanted = header_value(scope, _HEADER_NAME)
        if wanted is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = wanted.strip().upper()
        if method == "POST":
            await self.app(scope, receive, send)
            return
        if method not in OVERRIDABLE:
            error = ApiError(
                "INVALID_ARGUMENT",
                f"X-HTTP-Method-Override: {wanted!r} is not a method a POST may stand for "
                f"(one of {', '.join(OVERRIDABLE)})",
            )
            await error_response(error)(scope, receive, send)
            return
        scope = dict(scope, method=method)
        if method in ("GET", "DELETE"):
            body = await read_body(receive)
            if body.strip():
                content_type = headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type != FORM:
                    error = ApiError(
                        "INVALID_ARGUMENT",
                        f"X-HTTP-Method-Override: {method} takes its parameters as an {FORM} body "
                        f"(got Content-Type {content_type or 'none'!r})",
                    )
                    await error_response(error)(scope, receive, send)
                    return
                query = scope.get("query_string", b"")
                scope["query_string"] = b"&".join(part for part in (query, body.strip()) if part)
            scope["headers"] = [
                (name, value)
                for name, value in scope["headers"]
                if name.lower() not in (b"content-type", b"content-length", HEADER.encode())
            ]
            receive = _empty_body
        await self.app(scope, receive, send)


async def _empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
