"""Google-style API errors: ``{"error": {"code", "message", "status", "details"}}``.

Every failure the mock reports — from the backend's rules, from request
validation, from routing — is an :class:`ApiError` carrying a canonical
``google.rpc.Code`` name; the HTTP code is derived from it.

``details`` follow Google's error model: a validation error carries a
``google.rpc.BadRequest`` (:func:`bad_request`: which field, what was wrong),
an authentication or authorization error a ``google.rpc.ErrorInfo``
(:func:`error_info`: a machine-readable reason, its domain and metadata).

Convention for INVALID_ARGUMENT messages: they begin with the request field
they are about (``annotation.end must be >= annotation.start``,
``datasetIds: ...``); :func:`invalid_argument` turns that leading field into
the BadRequest field violation (or takes ``field=`` explicitly), so a message
and its details never disagree.
"""

from __future__ import annotations

import re
from typing import Any

#: canonical status name -> HTTP status (google.rpc.Code mapping)
HTTP_STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INTERNAL": 500,
    "DATA_LOSS": 500,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

#: google.rpc.Code numeric values, used inside Operation.error / Entry.status
RPC_CODE: dict[str, int] = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}

_DEFAULT_STATUS_FOR_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    406: "INVALID_ARGUMENT",
    409: "ABORTED",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def status_for_http(code: int) -> str:
    """The canonical status name Google's front end uses for an HTTP code."""
    if code in _DEFAULT_STATUS_FOR_HTTP:
        return _DEFAULT_STATUS_FOR_HTTP[code]
    if 400 <= code < 500:
        return "FAILED_PRECONDITION"
    return "UNKNOWN" if code >= 500 else "OK"


class ApiError(Exception):
    """An error with a canonical status, rendered as Google's JSON envelope.

    ``http_code`` overrides the status's usual HTTP code (Google answers an
    unsupported method with 405 yet a canonical status, for instance).
    """

    def __init__(
        self,
        status: str,
        message: str,
        *,
        http_code: int | None = None,
        headers: dict[str, str] | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        if status not in RPC_CODE:
            raise ValueError(f"unknown canonical status {status!r}")
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = http_code if http_code is not None else HTTP_STATUS[status]
        self.headers = dict(headers or {})
        self.details = list(details or [])

    def body(self) -> dict[str, Any]:
        """The JSON body Google returns for this error."""
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}

    def rpc_status(self) -> dict[str, Any]:
        """This error as a ``google.rpc.Status`` (Operation.error, batch entries)."""
        status: dict[str, Any] = {"code": RPC_CODE[self.status], "message": self.message}
        if self.details:
            status["details"] = self.details
        return status

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.message!r})"


#: the Google error domain of the API front end's own reasons
GOOGLEAPIS_DOMAIN = "googleapis.com"
#: the service name ErrorInfo metadata carries
SERVICE_NAME = "genomics.googleapis.com"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"

#: a field path at the start of a message: ``annotations[3].transcript.exons[0].start``
_LEADING_FIELD = re.compile(r"([a-z][A-Za-z0-9_]*(?:\[\d*\])?(?:\.[A-Za-z0-9_@]+(?:\[\d*\])?)*)(?=[ :]|$)")
#: leading words that are English, not field names
_NOT_FIELDS = frozenset({"the", "give", "a", "an", "no", "only"})


def bad_request(violations: list[tuple[str, str]]) -> dict[str, Any]:
    """A ``google.rpc.BadRequest`` detail: ``[(field, description), ...]``."""
    return {
        "@type": BAD_REQUEST_TYPE,
        "fieldViolations": [{"field": field, "description": text} for field, text in violations],
    }


def error_info(
    reason: str, metadata: dict[str, str] | None = None, domain: str = GOOGLEAPIS_DOMAIN
) -> dict[str, Any]:
    """A ``google.rpc.ErrorInfo`` detail (reasons are google.api.ErrorReason names)."""
    return {
        "@type": ERROR_INFO_TYPE,
        "reason": reason,
        "domain": domain,
        "metadata": {"service": SERVICE_NAME, **(metadata or {})},
    }


def leading_field(message: str) -> str | None:
    """The request field an INVALID_ARGUMENT message begins with (see the module docstring)."""
    match = _LEADING_FIELD.match(message)
    if match is None or match.group(1) in _NOT_FIELDS:
        return None
    return match.group(1)


def invalid_argument(message: str, *, field: str | None = None) -> ApiError:
    """400 INVALID_ARGUMENT with a BadRequest violation for ``field`` (default: the field the
    message begins with; none when it begins with no field)."""
    field = field or leading_field(message)
    details = [bad_request([(field, message)])] if field else None
    return ApiError("INVALID_ARGUMENT", message, details=details)


def failed_precondition(message: str) -> ApiError:
    return ApiError("FAILED_PRECONDITION", message)


def not_found(message: str) -> ApiError:
    return ApiError("NOT_FOUND", message)


def permission_denied(message: str) -> ApiError:
    return ApiError("PERMISSION_DENIED", message)


#: the realm Google's 401s name in ``WWW-Authenticate`` (httplib2 cannot parse a bare "Bearer")
AUTH_REALM = "https://accounts.google.com/"


def unauthenticated(message: str, *, reason: str, credentials_sent: bool) -> ApiError:
    """401 UNAUTHENTICATED as Google answers it: ``WWW-Authenticate: Bearer realm=...``, with
    ``error="invalid_token"`` when credentials were sent (RFC 6750 §3: none without them), and
    an ErrorInfo naming ``reason``."""
    challenge = f'Bearer realm="{AUTH_REALM}"'
    if credentials_sent:
        challenge += ', error="invalid_token"'
    return ApiError(
        "UNAUTHENTICATED", message, headers={"WWW-Authenticate": challenge}, details=[error_info(reason)]
    )


def aborted(message: str) -> ApiError:
    return ApiError("ABORTED", message)
