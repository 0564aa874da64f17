"""Connexion error handlers: every failure becomes Google's error envelope.

Without these, Connexion answers validation failures with problem+json,
unknown paths with Starlette's plain text and invalid UTF-8 in a JSON body
with a 500; a client written for Google's API understands none of them. Each
handler maps its exception to an :class:`ApiError` and renders it with
:func:`mockserver.rendering.error_response`, the one error renderer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from starlette.exceptions import HTTPException

from mockserver.errors import ApiError, status_for_http
from mockserver.rendering import JSON_MEDIA_TYPE, error_response

log = logging.getLogger("genomics_mock")

#: client errors that Google reports as a plain 400 INVALID_ARGUMENT
_AS_BAD_REQUEST = {411, 413, 415, 422}


def _connexion_error(exc: ApiError) -> ConnexionResponse:
    """The rendered error in the shape Connexion's error handlers return."""
    response = error_response(exc)
    return ConnexionResponse(
        status_code=response.status_code, body=response.body, mimetype=JSON_MEDIA_TYPE, headers=exc.headers
    )


def from_http_code(code: int, message: str, headers: dict[str, str] | None = None) -> ApiError:
    if code in _AS_BAD_REQUEST:
        code = 400
    return ApiError(status_for_http(code), message, http_code=code, headers=headers)


def _api_error(_request: ConnexionRequest, exc: Exception) -> ApiError:
    assert isinstance(exc, ApiError)
    return exc


def _problem(_request: ConnexionRequest, exc: Exception) -> ApiError:
    assert isinstance(exc, ProblemException)
    message = str(exc.detail or exc.title or "invalid request")
    if exc.status == 415:
        message = f"Unsupported media type: {message} (send application/json)"
    return from_http_code(exc.status, message, dict(exc.headers or {}))


def _http_exception(request: ConnexionRequest, exc: Exception) -> ApiError:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"No such path: {request.url.path}"
    else:
        message = str(exc.detail)
    return from_http_code(exc.status_code, message, dict(exc.headers or {}))


def _unicode_error(_request: ConnexionRequest, exc: Exception) -> ApiError:
    return ApiError("INVALID_ARGUMENT", f"Invalid JSON payload received: body is not UTF-8 ({exc})")


def _unexpected(request: ConnexionRequest, exc: Exception) -> ApiError:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError("INTERNAL", f"Internal error: {type(exc).__name__}")


#: exception class -> its Google error; looked up along the exception's MRO, as Starlette does
MAPPERS: dict[type[Exception], Callable[[ConnexionRequest, Exception], ApiError]] = {
    ApiError: _api_error,
    ProblemException: _problem,
    HTTPException: _http_exception,
    UnicodeDecodeError: _unicode_error,
    Exception: _unexpected,
}


def as_api_error(request: ConnexionRequest, exc: Exception) -> ApiError:
    """The Google error for any exception raised while answering ``request``: the one mapping
    both request paths use (Connexion's error handlers, and the compiled plans of
    :mod:`mockserver.plans`)."""
    for cls in type(exc).__mro__:
        mapper = MAPPERS.get(cls)
        if mapper is not None:
            return mapper(request, exc)
    raise exc  # a BaseException that is not an Exception (KeyboardInterrupt, ...)


async def on_error(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
    """Connexion's error handler for every class of :data:`MAPPERS`."""
    return _connexion_error(as_api_error(request, exc))


def install(app: AsyncApp) -> None:
    for cls in MAPPERS:
        app.add_error_handler(cls, on_error)
