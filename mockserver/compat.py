"""Every place the mock leans on Connexion's, Starlette's or uvicorn's internals.

The rest of the package uses these libraries through their public API only (a
test greps for private names outside this module). What lives here relies on
how a library works inside, so it is checked against the versions it was
verified with: :func:`check_versions` runs when an app is built and raises
:class:`UnsupportedLibraryError` naming the library and version when the
installed one is outside :data:`VERIFIED`. Moving to a new version means
re-checking each workaround below, then widening its entry.

The workarounds:

* :func:`skip_document_revalidation` — Connexion validates the OpenAPI
  document again for every app it builds (2 s each on the development
  machine); ours is validated once by ``genomics-mock spec check`` and the
  test-suite, so documents carrying :data:`PREVALIDATED` skip it.
* :func:`own_path_parameters` — Connexion 3.3 appends a path's shared
  parameters to one list once per operation of the path (66 query parameters
  validated per request instead of 11); each operation gets its own list.
* :func:`json_body_validator` — Connexion's JSON body validator builds a
  fresh jsonschema validator for every request and words failures its own
  way; its private hooks are routed to functions of :mod:`mockserver.validation`,
  and a body rewritten before validation (proto3 JSON input) reaches the handler
  through its ``MUTABLE_VALIDATION`` switch. The validator also keeps the body the
  handler will receive (:func:`received_body`), so a compiled plan hands it over
  instead of reading the replayed bytes and parsing them a second time.
* :func:`parameter_value` — Connexion's conversion of a parameter's value for the
  handler (private in 3.3), which the compiled plans of :mod:`mockserver.plans` call
  instead of rebuilding every argument of every request the way Connexion does.
* :func:`drop_connection` — ASGI cannot close a connection without
  answering; uvicorn's ``send`` belongs to its request cycle, which holds the
  transport (fault injection's ``drop`` action).
* :data:`HTTP_PROTOCOL` — uvicorn writes a response's head and its body in two
  ``write`` calls, so every response crosses the socket as two segments and a
  waiting client is woken twice; the protocol given to uvicorn holds the head
  until the body's first write and sends both in one (:class:`OneWriteHttpProtocol`).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import os
import re
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from connexion.decorators.parameter import _get_val_from_param
from connexion.exceptions import BadRequestProblem
from connexion.spec import OpenAPISpecification
from connexion.validators.json import JSONRequestBodyValidator
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

#: library -> (lowest verified version, first version not verified); compared on (major, minor)
VERIFIED: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "connexion": ((3, 3), (3, 4)),
    "starlette": ((1, 0), (2, 0)),
    "uvicorn": ((0, 54), (0, 55)),
}
#: set to 1 to try unverified versions anyway (a warning instead of the error)
OVERRIDE_VARIABLE = "GENOMICS_MOCK_UNVERIFIED_LIBRARIES"
#: marks a document that ``genomics-mock spec check`` has already validated
PREVALIDATED = "x-genomics-mock-prevalidated"
#: :func:`received_body` when the validator cannot tell what the handler receives
UNKNOWN: Any = object()


class UnsupportedLibraryError(RuntimeError):
    """An installed library version the workarounds here were not verified with."""


def _series(text: str) -> tuple[int, int]:
    """``"0.54.0"`` -> ``(0, 54)``; an unparsable version sorts before every release."""
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (-1, -1)


def unverified(installed: dict[str, str]) -> list[str]:
    """One line per library in ``installed`` (name -> version) outside :data:`VERIFIED`."""
    problems = []
    for name, (low, high) in VERIFIED.items():
        found = installed.get(name)
        if found is None:
            problems.append(f"{name} is not installed")
        elif not low <= _series(found) < high:
            problems.append(
                f"{name} {found} is installed; genomics-mock is verified with "
                f"{name} >={low[0]}.{low[1]},<{high[0]}.{high[1]}"
            )
    return problems


def installed_versions() -> dict[str, str]:
    found = {}
    for name in VERIFIED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


@functools.cache
def check_versions() -> None:
    """Fail loudly (once per process) when a library is outside :data:`VERIFIED`."""
    problems = unverified(installed_versions())
    if not problems:
        return
    message = (
        "; ".join(problems) + ". Install the locked versions (pip install -c constraints.txt ...) "
        f"or re-verify mockserver/compat.py; {OVERRIDE_VARIABLE}=1 tries anyway."
    )
    if os.environ.get(OVERRIDE_VARIABLE) == "1":
        import warnings

        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return
    raise UnsupportedLibraryError(message)


# -- Connexion ------------------------------------------------------------------------------


@functools.cache
def skip_document_revalidation() -> None:
    """Let Connexion skip validating documents marked :data:`PREVALIDATED` (others as usual)."""
    original = OpenAPISpecification._validate_spec.__func__  # type: ignore[attr-defined]

    def validate_unless_prevalidated(cls: type, spec: dict[str, Any]) -> None:
        if not spec.get(PREVALIDATED):
            original(cls, spec)

    OpenAPISpecification._validate_spec = classmethod(validate_unless_prevalidated)  # type: ignore[method-assign,assignment]


def own_path_parameters(document: dict[str, Any]) -> None:
    """Give each operation its own complete parameter list (in place; see module docstring)."""
    for item in document.get("paths", {}).values():
        shared = item.pop("parameters", [])
        for operation in item.values():
            if isinstance(operation, dict):
                operation["parameters"] = copy.deepcopy(shared) + operation.get("parameters", [])


def json_body_validator(
    *,
    compiled: Callable[[dict[str, Any]], Any],
    decode: Callable[[bytes], Any],
    parse_error: Callable[[str], str],
    normalize: Callable[[dict[str, Any], Any], tuple[Any, bool]],
    validate: Callable[[Any, Any, bool], None],
    parsed_as_stdlib: Callable[[bytes], bool],
) -> type[JSONRequestBodyValidator]:
    """A Connexion JSON body validator whose private hooks call our functions.

    ``compiled(schema)`` returns a (cached) jsonschema validator;
    ``decode(raw)`` parses a non-empty body (raising ``ValueError`` for one it refuses);
    ``parse_error(detail)`` words a body that is refused;
    ``normalize(schema, body)`` returns the body to validate and pass on, and whether it
    differs from the one received (then the handler receives the new one: Connexion's
    ``MUTABLE_VALIDATION``, set per request);
    ``validate(validator, body, nullable)`` checks a parsed body;
    ``parsed_as_stdlib(raw)`` says whether ``decode(raw)`` is the value the standard library's
    ``json.loads`` gives (what Starlette hands Connexion's handler for bytes replayed unchanged).
    """

    class BodyValidator(JSONRequestBodyValidator):
        #: the body the handler receives once ``wrap_receive`` returned (see :func:`received_body`)
        received: Any = UNKNOWN

        @property
        def _validator(self) -> Any:
            return compiled(self._schema)

        async def wrap_receive(self, receive: Any, *, scope: Any) -> Any:
            """Connexion's ``wrap_receive`` (same steps, same outcome) for a body of declared
            length, read in a plain loop: its async generator and header parsing cost more than
            the parse. Anything else (no body, an odd ``Content-Length``) takes Connexion's own."""
            if not _declares_body(scope):
                return await super().wrap_receive(receive, scope=scope)
            messages = []
            more_body = True
            while more_body:
                message = await receive()
                messages.append(message)
                more_body = message.get("more_body", False)
            body = self._decoded(b"".join([message.get("body", b"") for message in messages]))
            if not (body is None and self._nullable):
                self._validate(body)
            if self.MUTABLE_VALIDATION:
                return self._insert_body(receive, body=body, scope=scope)
            return replayed(receive, messages), scope

        async def _parse(self, stream: Any, scope: Any) -> Any:
            return self._decoded(b"".join([chunk async for chunk in stream]))

        def _decoded(self, raw: bytes) -> Any:
            if not raw:
                return None
            try:
                body = decode(raw)
            except ValueError as exc:
                raise BadRequestProblem(detail=parse_error(str(exc))) from None
            body, changed = normalize(self._schema, body)
            if changed:
                self.MUTABLE_VALIDATION = True  # Connexion replays json.dumps(body): the same value
            if changed or parsed_as_stdlib(raw):
                self.received = body  # validation reads a body, never changes it
            return body

        def _validate(self, body: Any) -> None:
            validate(self._validator, body, self._nullable)

    return BodyValidator


def replayed(receive: Any, messages: list[Any]) -> Any:
    """``receive`` giving ``messages`` first, once each: Connexion's ``_insert_messages`` without
    the ``typing`` subscriptions its nested function's annotations evaluate on every call."""
    pending = iter(messages)

    async def receive_replayed() -> Any:
        for message in pending:
            return message
        return await receive()

    return receive_replayed


def _declares_body(scope: Any) -> bool:
    """Whether Starlette reads a positive ``Content-Length`` (its first, as ``Headers.get``) in
    ``scope``: then Connexion's ``wrap_receive`` reads the body, else it handles a missing one."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            return bool(value.isdigit() and int(value) > 0)
    return False


def received_body(validator: Any) -> Any:
    """The body Connexion's handler would receive after ``validator.wrap_receive`` (the
    re-read of the replayed channel, parsed by Starlette's ``Request.json``), without reading
    or parsing it again; :data:`UNKNOWN` for a validator that cannot tell (another class, a
    body absent or replaced by the schema's default, one the standard library parses otherwise)."""
    return getattr(validator, "received", UNKNOWN)


def parameter_value(value: Any, definition: dict[str, Any]) -> Any:
    """The value Connexion passes to a handler for a query or path parameter (typed by its schema)."""
    return _get_val_from_param(value, definition)


# -- uvicorn --------------------------------------------------------------------------------


def drop_connection(send: Any) -> bool:
    """Close the connection behind an ASGI ``send`` without answering; False when not on uvicorn.

    uvicorn's ``send`` is a method of its request cycle, which holds the
    transport; middleware wraps ``send`` in closures, so they are searched.
    The cycle is marked disconnected first, so uvicorn does not answer 500
    for a response that was never started.
    """
    seen: set[int] = set()
    stack = [send]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        owner = getattr(item, "__self__", None)
        if owner is not None and hasattr(owner, "transport") and hasattr(owner, "disconnected"):
            owner.disconnected = True
            owner.transport.close()
            return True
        for cell in getattr(item, "__closure__", None) or ():
            try:
                stack.append(cell.cell_contents)
            except ValueError:
                continue
        if owner is not None:
            stack.append(getattr(owner, "send", None))
    return False


class HeadHoldingTransport(asyncio.Transport):
    """A connection's transport that holds a response's head until its body's first write.

    uvicorn writes the head (status line and headers) when the app sends
    ``http.response.start`` and the body when it sends ``http.response.body``: two
    writes, two TCP segments, and a client waiting for the answer woken twice (on a
    small virtual machine, most of what a small response costs the server). Held
    back, the head leaves with the first body bytes in one write — the same bytes
    in the same order. It is let go on its own when the response ends without a
    body write (``HEAD``, an empty body), before the connection closes, and an
    interim ``100 Continue`` is never held (the client waits for it to send the body).
    Everything else is the wrapped transport's.
    """

    __slots__ = ("transport", "_awaiting_head", "_head")

    def __init__(self, transport: asyncio.Transport) -> None:
        super().__init__()
        self.transport = transport
        self._awaiting_head = True
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif self._awaiting_head and data[9:10] != b"1":  # "HTTP/1.1 1xx": an interim answer
            self._awaiting_head = False
            self._head = bytes(data)
            return
        self.transport.write(data)

    def flush(self) -> None:
        """Write a head still held (a response that ended without a body write)."""
        head, self._head = self._head, None
        if head is not None and not self.transport.is_closing():
            self.transport.write(head)

    def response_complete(self) -> None:
        """The response ended: anything held goes out, and the next response's head is held."""
        self.flush()
        self._awaiting_head = True

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._head = None
        self.transport.abort()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    def get_extra_info(self, name: Any, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return bool(self.transport.is_reading())

    def get_write_buffer_size(self) -> int:
        return int(self.transport.get_write_buffer_size()) + len(self._head or b"")

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """A WebSocket upgrade hands the connection on (nothing is held past it)."""
        self.flush()
        self._awaiting_head = False
        self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()


class OneWriteHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (the one it picks when httptools is installed, as the
    lock installs it) writing each response once (:class:`HeadHoldingTransport`)."""

    transport: HeadHoldingTransport

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadHoldingTransport(transport))

    def on_response_complete(self) -> None:
        self.transport.response_complete()
        super().on_response_complete()


#: the ``http`` protocol to give ``uvicorn.Config``
HTTP_PROTOCOL = OneWriteHttpProtocol
