"""Request bodies: the one place where hostile input is refused before anything reads it.

Every JSON body — of the Genomics API (through Connexion's body validator, see
:mod:`mockserver.validation`) and of the admin API — is decoded by
:func:`decode_json`, and every YAML seed is checked by :func:`check_value`, so a
value the backend stores can always be written back out. The rules:

* strings (keys too) are Unicode scalar values: a lone surrogate (``"\\ud800"``)
  is refused, naming the field;
* numbers are finite doubles: ``NaN``, ``Infinity`` and literals beyond the
  double range (``1e400``, an integer of 400 digits) are refused; an integer
  wider than 64 bits in a free-form value (``info``) is a double, as it is in a
  ``google.protobuf.Value``, and typed fields check their own range
  (:data:`INTEGER_RANGES`, used by the schema validators);
* nesting is at most :data:`MAX_DEPTH` levels;
* the body is UTF-8.

The limits on the request itself live here too: at most ``max_bytes`` of body
(default :data:`MAX_REQUEST_BYTES`; a declared ``Content-Length`` over it is
answered 413 before any of the body is read) arriving with no pause longer
than ``read_timeout`` seconds (else 408), and a body method must say what it
sends (``Content-Type``).

Where the mock differs from Google: Google's front end answers an oversized
body with 413 and a stalled one by closing the connection after its own
timeout; the mock answers both with the JSON envelope.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import math
import re
import sys
import types
from collections.abc import Awaitable, Generator, Iterator
from typing import Any, TypeVar

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.errors import ApiError, invalid_argument
from mockserver.rendering import error_response

#: deepest nesting of arrays and objects a request body may have
MAX_DEPTH = 100
#: the same for a state document (PUT /_mock/state), which wraps records in a few more levels
STATE_MAX_DEPTH = MAX_DEPTH + 50
#: default --max-request-bytes (16 MiB)
MAX_REQUEST_BYTES = 16 * 1024 * 1024
#: default --read-timeout: the longest pause between two parts of a request body
READ_TIMEOUT = 30.0
#: integers in JSON literals longer than this cannot be a double (10**309 overflows)
MAX_INTEGER_DIGITS = 309
#: proto integer formats of the API document -> inclusive range
INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
#: largest finite proto ``float`` (32-bit)
FLOAT32_MAX = 3.4028234663852886e38
#: media types a JSON body may be sent as
JSON_MEDIA_TYPES = ("application/json",)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyError(ValueError):
    """A body that is not acceptable JSON; the message names the field when there is one."""


# -- decoding -------------------------------------------------------------------------------


def decode_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of a UTF-8 body, or :class:`BodyError` saying what is wrong and where.

    orjson refuses invalid UTF-8, lone surrogates, non-finite numbers and nesting beyond
    1,024 levels on its own (and ~10x faster than the standard library); a refused body is
    parsed again, slowly, only to name the field. Depth is walked only when the body holds
    more than :data:`MAX_DEPTH` brackets, so ordinary bodies pay nothing for it.
    """
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BodyError(_diagnose(raw, str(exc), max_depth)) from None
    if raw.count(b"[") + raw.count(b"{") > max_depth:
        _check_depth(value, max_depth)
    return value


#: a number literal of 19 digits or more: one wider than 64 bits is read by orjson as a double
#: where the standard library reads an int. A number in JSON follows ``[``, ``,`` or ``:`` (or
#: starts the document); inside a string the pattern may match too (conservative).
_WIDE_NUMBER = re.compile(rb"[:\[,]\s*-?[0-9]{19}")
_DIGITS = b"0123456789"


def parsed_as_stdlib(raw: bytes) -> bool:
    """Whether :func:`decode_json` gives ``raw`` the value ``json.loads`` gives it (for a body it
    accepted): the two differ only on integers wider than 64 bits. Checked in C: a body with
    fewer than 19 digits in all needs no search."""
    if len(raw) - len(raw.translate(None, _DIGITS)) < 19:
        return True
    if raw.lstrip()[:1] in b"-0123456789":  # the document is a number
        return False
    return _WIDE_NUMBER.search(raw) is None


def check_value(value: Any, *, max_nodes: int | None = None) -> None:
    """Check an already parsed value (a YAML seed) against the same rules as :func:`decode_json`.

    ``max_nodes`` bounds the values visited, counting every use of a shared one: a YAML
    document with aliases can describe far more values than its size suggests.
    """
    for where, problem in _problems(value, max_nodes=max_nodes):
        raise BodyError(f"{_field(where)}{problem}")


def _diagnose(raw: bytes, fallback: str, max_depth: int = MAX_DEPTH) -> str:
    """Why ``raw`` was refused, naming the field: parsed with hooks that mark bad values."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8 (byte {exc.start})"
    try:
        value = json.loads(
            text, parse_constant=_Bad.constant, parse_int=_int_literal, parse_float=_float_literal
        )
    except RecursionError:
        return f"the body is nested deeper than {max_depth} levels"
    except json.JSONDecodeError as exc:
        return f"{exc.msg} at line {exc.lineno}, column {exc.colno}"
    for where, problem in _problems(value, max_depth=max_depth):
        return f"{_field(where)}{problem}"
    return fallback


class _Bad:
    """A value the standard library parsed but the API refuses (found again by :func:`_problems`)."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem

    @classmethod
    def constant(cls, name: str) -> _Bad:
        return cls(f"is {name}, which is not a number JSON allows")


def _int_literal(text: str) -> int | _Bad:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        return _Bad(f"is an integer of {len(text.lstrip('-'))} digits, out of the range of a double")
    return int(text)


def _float_literal(text: str) -> float | _Bad:
    number = float(text)
    return number if math.isfinite(number) else _Bad(f"is {text[:30]}, out of the range of a double")


def _problems(
    value: Any, *, max_nodes: int | None = None, max_depth: int = MAX_DEPTH
) -> Iterator[tuple[list[Any], str]]:
    """(path, problem) for each value the rules refuse, depth first (the first is reported)."""
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    visited = 0
    while stack:
        item, where = stack.pop()
        visited += 1
        if max_nodes is not None and visited > max_nodes:
            yield [], f"the document describes more than {max_nodes} values (YAML aliases?)"
            return
        if len(where) > max_depth:
            yield where[:max_depth], f"is nested deeper than {max_depth} levels"
            return
        if isinstance(item, _Bad):
            yield where, item.problem
        elif isinstance(item, str):
            if not _is_scalar_text(item):
                yield where, "holds a lone surrogate (strings must be valid Unicode)"
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > sys.float_info.max:  # exact: Python compares int and float by value
                yield where, "is an integer out of the range of a double"
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield where, "is not a finite number"
        elif isinstance(item, dict):
            for key in reversed(list(item)):
                if not isinstance(key, (str, int, float)) and key is not None:  # YAML: str() of a scalar
                    yield where, f"has a key that is not a string ({type(key).__name__})"
                    return
                if isinstance(key, str) and not _is_scalar_text(key):
                    yield where, "has a key holding a lone surrogate (strings must be valid Unicode)"
                    return
                stack.append((item[key], [*where, key]))
        elif isinstance(item, list):
            for index in range(len(item) - 1, -1, -1):
                stack.append((item[index], [*where, index]))
        else:
            yield where, f"is a {type(item).__name__}, which JSON cannot hold"


def _check_depth(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise BodyError(f"the body is nested deeper than {max_depth} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def _is_scalar_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _field(where: list[Any]) -> str:
    """``['info', 'k', 0]`` -> ``"'info.k[0]' "``; the top level -> ``"the body "``."""
    if not where:
        return "the body "
    text = ""
    for part in where:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            shown = part if _is_scalar_text(part) else part.encode("utf-8", "backslashreplace").decode()
            text += f".{shown}" if text else shown
    if len(text) > 200:
        text = text[:197] + "..."
    return f"'{text}' "


# -- typed numbers (used by the schema validators' format checker) --------------------------


def integer_in_range(value: Any, proto_format: str) -> bool:
    """Whether an integer field's value (a JSON integer, or a decimal string for 64-bit ones)
    fits its proto type; other types are left to the schema's ``type``."""
    low, high = INTEGER_RANGES[proto_format]
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]{1,20}", value):
            return False
        value = int(value)
    if isinstance(value, int):
        return low <= value <= high
    return True


def float_in_range(value: Any) -> bool:
    """Whether a proto ``float`` field's number fits 32 bits."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isfinite(value) and abs(value) <= FLOAT32_MAX
    return True


# -- the request itself ---------------------------------------------------------------------


def first(headers: Headers, name: str) -> str | None:
    """The first value of header ``name`` (None when absent): ``Headers.get`` without the
    ``KeyError`` it raises and catches for an absent header, the usual case on the hot path."""
    values = headers.getlist(name)
    return values[0] if values else None


def header_value(scope: Scope, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case, as ASGI names are) in ``scope``, None when
    absent: what ``first(Headers(scope=scope), name)`` gives, without building ``Headers``."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length`` (None when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def has_body(scope: Scope, length: int | None) -> bool:
    """Whether the request announces a body: a positive ``length`` (its
    :func:`declared_length`, read once by the caller), or chunked transfer."""
    if length:
        return length > 0
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", ()))


def media_type(scope: Scope) -> str | None:
    """The request's media type without parameters, lower case (None when not sent)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            return value.decode("latin-1").split(";", 1)[0].strip().lower() or None
    return None


def too_large(max_bytes: int) -> ApiError:
    return ApiError(
        "INVALID_ARGUMENT",
        f"Request payload size exceeds the limit: {max_bytes} bytes.",
        http_code=413,
        headers={"Connection": "close"},
    )


def stalled(timeout: float) -> ApiError:
    return ApiError(
        "DEADLINE_EXCEEDED",
        f"The request body stalled: no data for {timeout:g} seconds.",
        http_code=408,
        headers={"Connection": "close"},
    )


def missing_content_type() -> ApiError:
    return invalid_argument(
        "The request has a body but no Content-Type; send Content-Type: application/json"
    )


def check_declared_size(length: int | None, max_bytes: int) -> None:
    """413 at once when the declared ``Content-Length`` is over the limit (nothing is read)."""
    if length is not None and length > max_bytes:
        raise too_large(max_bytes)


async def with_length(scope: Scope, receive: Receive, length: int | None) -> tuple[Scope, Receive]:
    """A chunked body (``length``, its :func:`declared_length`, is None) read whole (through a
    limited ``receive``) and handed on with the ``Content-Length`` it lacked: Connexion's body
    validator reads a body only when the request declares its length, and would take a chunked
    one for none."""
    if length is not None:
        return scope, receive
    parts = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return scope, receive  # the client went away; nothing to hand on
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    headers = [(k, v) for k, v in scope["headers"] if k != b"transfer-encoding"]
    scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return scope, replay


class RequestLimits:
    """ASGI middleware bounding every request body (see module docstring); in front of
    everything that reads one, so a batch or a method-override body is bounded too."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_REQUEST_BYTES,
                 read_timeout: float = READ_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = declared_length(scope)
        if not has_body(scope, length):
            await self.app(scope, receive, send)
            return
        try:
            check_declared_size(length, self.max_bytes)
            limited = limited_receive(receive, max_bytes=self.max_bytes, read_timeout=self.read_timeout)
            await self.app(scope, limited, send)
        except ApiError as exc:  # a limit hit by a reader that does not answer errors itself
            # not through a send wrapper noting whether a response started (two calls more per
            # request): the layers inside answer their own errors once they answer at all, and
            # an ASGI server refuses a second start, which is then left unanswered, as before
            with contextlib.suppress(Exception):
                await error_response(exc)(scope, receive, send)


def limited_receive(receive: Receive, *, max_bytes: int, read_timeout: float) -> Receive:
    """``receive`` that raises 413 once more than ``max_bytes`` of body arrived (a chunked body
    declares no length) and 408 when a part of the body is slower than ``read_timeout``. Once
    the body is complete, calls pass straight through (a listener for disconnects may wait)."""
    received = 0
    complete = False

    async def receive_limited() -> Message:
        nonlocal received, complete
        if complete:
            return await receive()
        try:
            message = await within(read_timeout, receive())
        except TimeoutError:
            raise stalled(read_timeout) from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise too_large(max_bytes)
            complete = not message.get("more_body", False)
        else:
            complete = True
        return message

    return receive_limited


T = TypeVar("T")


async def within(seconds: float, call: Awaitable[T]) -> T:
    """``await call``, raising ``TimeoutError`` when it waits more than ``seconds``.

    A call answered without waiting cannot be late, and most are (uvicorn hands over a body
    that has arrived at once): the coroutine is stepped once by hand, and only one that then
    waits is finished under ``asyncio.timeout``, whose timer costs more than the rest of a
    body's read (~8 us a request on uvloop).
    """
    if not isinstance(call, types.CoroutineType):
        async with asyncio.timeout(seconds):
            return await call
    try:
        waiting_on = call.send(None)
    except StopIteration as answered:
        return answered.value  # type: ignore[no-any-return]
    async with asyncio.timeout(seconds):
        return await _Resumed(call, waiting_on)


class _Resumed:
    """The rest of a coroutine already stepped once (it yielded ``waiting_on``), awaited as
    ``yield from`` would: what the awaiting task sends or throws in is passed on to it."""

    def __init__(self, coroutine: Any, waiting_on: Any) -> None:
        self.coroutine = coroutine
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, Any]:
        waiting_on = self.waiting_on
        while True:
            try:
                sent = yield waiting_on
            except GeneratorExit:
                self.coroutine.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation included: the coroutine decides
                step = functools.partial(self.coroutine.throw, exc)
            else:
                step = functools.partial(self.coroutine.send, sent)
            try:
                waiting_on = step()
            except StopIteration as done:
                return done.value
