"""Google's batch endpoint: many API calls in one ``multipart/mixed`` request.

``POST /batch`` (or ``/batch/genomics/v1``, the per-API form) carries one
``application/http`` part per call, as google-api-python-client's
``new_batch_http_request()`` sends them::

    --BOUNDARY
    Content-Type: application/http
    Content-ID: <item1>

    GET /v1/datasets/123?alt=json HTTP/1.1
    Accept: application/json

Each part is dispatched through the rest of the app in-process, exactly as if it
had come on its own connection (routing, identity, scopes, validation, faults,
the request log), and answered independently in a ``multipart/mixed`` response:
its own status line, headers and body, with ``Content-ID: <response-item1>``.

Rules (Google's batch documentation where it speaks, the mock's choice where not):

* the outer request's headers other than ``Content-*`` apply to every part that
  does not set the same header itself — so each part runs with the outer
  credentials (``Authorization``) unless it names its own; likewise the outer
  ``key``/``access_token``/``oauth_token`` query parameters for a part without
  credentials;
* at most :data:`MAX_PARTS` parts (more, none, or a body that is not
  ``multipart/mixed``: 400 for the whole batch);
* a part that is not an HTTP request (no request line, not ``application/http``,
  a path outside this API's ``/v1/``) is answered with its own 400, and the
  other parts still run;
* parts run one after another, in order (the real service promises no order).
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import secrets
from email.message import Message
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from mockserver.auth import TOKEN_QUERY_PARAMS
from mockserver.errors import ApiError, invalid_argument
from mockserver.rendering import JSON_MEDIA_TYPE, error_response, render_json

log = logging.getLogger("genomics_mock")

BATCH_PATHS = ("/batch", "/batch/genomics/v1")
#: the most parts one batch may hold (Google's limit)
MAX_PARTS = 1000
#: outer headers that describe the outer body, never a part's
_OUTER_ONLY = ("content-", "host", "transfer-encoding", "connection", "expect")
_CREDENTIAL_PARAMS = (*TOKEN_QUERY_PARAMS, "key")


class BatchMiddleware:
    """Answers :data:`BATCH_PATHS`; every other request goes straight to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in BATCH_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] != "POST":
                raise ApiError(
                    "UNIMPLEMENTED",
                    f"Method {scope['method']} is not allowed on {scope['path']}; allowed: POST",
                    http_code=405,
                    headers={"Allow": "POST"},
                )
            parts = split_batch(Headers(scope=scope).get("content-type", ""), await read_body(receive))
        except ApiError as exc:
            await error_response(exc)(scope, receive, send)
            return
        boundary = "batch_" + secrets.token_hex(12)
        chunks = [await self._answer(scope, part, boundary) for part in parts]
        body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", f"multipart/mixed; boundary={boundary}".encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, outer: Scope, part: Message, boundary: str) -> bytes:
        """One part of the response: the part's call dispatched through the app."""
        try:
            status, headers, body = await self._dispatch(*part_request(outer, part))
        except ApiError as exc:
            status, headers, body = _error_part(exc)
        head = [f"--{boundary}", "Content-Type: application/http"]
        content_id = str(part.get("Content-ID") or "").strip()
        if content_id:
            head.append(f"Content-ID: <response-{content_id.removeprefix('<').removesuffix('>')}>")
        lines = [f"HTTP/1.1 {status} {_phrase(status)}"]
        lines += [f"{name.decode('latin-1')}: {value.decode('latin-1')}" for name, value in headers]
        lines.append(f"Content-Length: {len(body)}")
        text = "\r\n".join(head) + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n"
        return text.encode("latin-1") + body + b"\r\n"

    async def _dispatch(self, scope: Scope, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Run one request through the app in-process; its status, headers and body."""
        started: dict[str, Any] = {}
        chunks: list[bytes] = []
        sent = False

        async def receive() -> AsgiMessage:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        async def collect(message: AsgiMessage) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, collect)
        except Exception as exc:  # noqa: BLE001 - one part's failure must not take the batch with it
            log.exception("batch part %s %s failed", scope["method"], scope["path"])
            return _error_part(ApiError("INTERNAL", f"Internal error: {type(exc).__name__}"))
        headers = [(k, v) for k, v in started.get("headers", []) if k.lower() != b"content-length"]
        return started.get("status", 500), headers, b"".join(chunks)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def split_batch(content_type: str, body: bytes) -> list[Message]:
    """The parts of a batch body (400 for the whole batch when it is not a usable batch)."""
    if not content_type.lower().startswith("multipart/mixed") or "boundary=" not in content_type:
        raise invalid_argument(
            "Content-Type: a batch request is multipart/mixed with a boundary "
            f"(got {content_type or 'none'!r})"
        )
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    parts: list[Message] = list(message.iter_parts()) if message.is_multipart() else []
    if not parts:
        raise invalid_argument("Batch request: it holds no parts")
    if len(parts) > MAX_PARTS:
        raise invalid_argument(
            f"Batch request: at most {MAX_PARTS} parts per batch request (got {len(parts)})"
        )
    return parts


def part_body(part: Message) -> bytes:
    """The raw ``application/http`` payload of a part."""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


class _Request:
    """One part's HTTP request: request line, headers, body."""

    def __init__(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.method, self.target, self.headers, self.body = method, target, headers, body


def parse_part(part: Message, raw: bytes) -> _Request:
    """The HTTP request a part carries (400 naming what is wrong with it)."""
    if part.get_content_type() != "application/http":
        raise invalid_argument(
            f"Batch part: Content-Type must be application/http (got {part.get_content_type()})"
        )
    line, _, rest = raw.lstrip(b"\r\n").partition(b"\n")
    words = line.decode("latin-1").strip().split()
    if len(words) != 3 or not words[2].startswith("HTTP/"):
        raise invalid_argument(f"Batch part: {line[:80].decode('latin-1')!r} is not an HTTP request line")
    inner = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(rest)
    body = inner.get_payload(decode=True)
    headers = [(name, str(value)) for name, value in inner.items()]
    return _Request(words[0].upper(), words[1], headers, body if isinstance(body, bytes) else b"")


def part_request(outer: Scope, part: Message) -> tuple[Scope, bytes]:
    """The ASGI scope and body of a part's call (outer headers inherited, see the module docstring)."""
    request = parse_part(part, part_body(part))
    target = urlsplit(request.target)
    if not target.path.startswith("/v1/"):
        raise invalid_argument(f"Batch part: {request.target!r} is not a method of this API (/v1/...)")
    own = {name.lower() for name, _ in request.headers}
    headers = [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in request.headers
        if name.lower() != "content-length"
    ]
    if request.body:
        headers.append((b"content-length", str(len(request.body)).encode()))
    for name, value in outer["headers"]:
        key = name.decode("latin-1").lower()
        if key not in own and not key.startswith(_OUTER_ONLY):
            headers.append((name, value))
    query = target.query
    has_credentials = "authorization" in {n.decode("latin-1") for n, _ in headers} or any(
        name in _CREDENTIAL_PARAMS for name, _ in parse_qsl(query, keep_blank_values=True)
    )
    if not has_credentials:
        outer_query = parse_qsl(outer.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        inherited = urlencode([(name, value) for name, value in outer_query if name in _CREDENTIAL_PARAMS])
        query = "&".join(filter(None, [query, inherited]))
    scope = {key: value for key, value in outer.items() if key not in ("state", "path_params", "route")}
    scope.update(
        method=request.method,
        path=target.path,
        raw_path=target.path.encode("latin-1"),
        query_string=query.encode("latin-1"),
        headers=headers,
        state={},
    )
    return scope, request.body


def _error_part(exc: ApiError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return exc.code, [(b"content-type", JSON_MEDIA_TYPE.encode())], render_json(exc.body())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
