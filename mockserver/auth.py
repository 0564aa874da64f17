"""Who is calling: HTTP credentials -> :class:`Principal`, and OAuth scope checks.

Credentials are read the way Google's front end reads them: an
``Authorization: Bearer <token>`` header, else an ``access_token`` or
``oauth_token`` query parameter; an API key (``key=``) identifies the caller
only when no token is sent (an unknown key is Google's 400 ``API_KEY_INVALID``,
not a 401). Tokens and keys come from a
:class:`TokenRegistry` (a YAML/JSON token file, ``create_app`` or the admin
API)::

    tokens:
      viewer-token: {principal: "user:alice@example.com", scopes: [genomics.readonly]}
      editor-token: {principal: "serviceAccount:ci@p1.iam.gserviceaccount.com"}
    apiKeys:
      public-key: {}                      # anonymous: matches only ``allUsers`` bindings
      alice-key: {principal: "user:alice@example.com"}

Scopes may be written in full (``https://www.googleapis.com/auth/genomics``)
or short (``genomics``); a token without ``scopes`` has ``cloud-platform``.

Modes: ``open`` (the default) lets a request without credentials act as the
built-in superuser :data:`DEFAULT_OWNER`, so the simple case needs no set-up;
``strict`` answers it ``401 UNAUTHENTICATED``. A credential that is sent but
unknown is 401 (an unknown API key 400) in both modes — a client bug should never
pass silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from starlette.datastructures import Headers

from mockserver.backend.principals import ANONYMOUS, DEFAULT_OWNER, SCOPE_CLOUD_PLATFORM, Principal
from mockserver.backend.tables import ChangeFeed, Stateful, TableSpec, fail
from mockserver.errors import AUTH_REALM, ApiError, error_info, unauthenticated
from mockserver.request_body import MAX_DEPTH, BodyError, check_value, first

AUTH_MODES = ("open", "strict")
SCOPE_PREFIX = "https://www.googleapis.com/auth/"
TOKEN_QUERY_PARAMS = ("access_token", "oauth_token")

MISSING_CREDENTIALS = (
    "Request is missing required authentication credential. Expected an OAuth 2 access token "
    "(Authorization: Bearer, access_token or oauth_token) or an API key (key)."
)
INVALID_CREDENTIALS = "Request had invalid authentication credentials: {what} is not known to this server."
INSUFFICIENT_SCOPES = "Request had insufficient authentication scopes."
INVALID_API_KEY = "API key not valid. Please pass a valid API key."
#: the ErrorInfo reason of a token the server does not accept (Google's for unknown tokens too)
TOKEN_REJECTED = "ACCESS_TOKEN_TYPE_UNSUPPORTED"


class TokenFileError(ValueError):
    """A token file or mapping that cannot be used (the message names the entry)."""


def parse_config_text(text: str, where: str) -> Any:
    """YAML (or JSON, for a ``.json`` name) from a config file; a syntax error is a one-line
    ``ValueError`` naming the file, line and column (PyYAML's own message spans several
    lines and calls the file ``<unicode string>``). The value must also pass the checks every
    request body passes (:func:`mockserver.request_body.check_value`: no lone surrogates, no
    non-finite numbers, bounded nesting, no YAML alias multiplying it past its size)."""
    data = _parse_config_text(text, where)
    try:
        check_value(data, max_nodes=len(text) + 1)
    except BodyError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return data


def _parse_config_text(text: str, where: str) -> Any:
    try:
        return json.loads(text) if where.endswith(".json") else yaml.safe_load(text)
    except RecursionError:
        raise ValueError(f"{where}: nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        where = f"{where}, line {exc.lineno}, column {exc.colno}"
        raise ValueError(f"{where}: not valid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        if mark is None:
            raise ValueError(f"{where}: not valid YAML: {problem}") from None
        context, started = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        detail = ""
        if context and started is not None:
            detail = f" ({context} started at line {started.line + 1}, column {started.column + 1})"
        elif context:
            detail = f" ({context})"
        raise ValueError(
            f"{where}, line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {problem}{detail}"
        ) from None


def expand_scope(scope: str) -> str:
    """``genomics.readonly`` -> ``https://www.googleapis.com/auth/genomics.readonly``."""
    return scope if "://" in scope else SCOPE_PREFIX + scope


def _member(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith(("user:", "serviceAccount:")):
        raise TokenFileError(
            f"{where}.principal must be 'user:EMAIL' or 'serviceAccount:EMAIL', got {value!r}"
        )
    if "@" not in value:
        raise TokenFileError(f"{where}.principal must hold an email, got {value!r}")
    return value


def _scopes(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset({SCOPE_CLOUD_PLATFORM})
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
        raise TokenFileError(f"{where}.scopes must be a list of scope names")
    return frozenset(expand_scope(s) for s in value)


def _token_entry(section: str, token: str, entry: Any) -> Principal:
    """The principal of one token-file entry (``tokens`` or ``apiKeys``), checked."""
    where = f"{section}.{token}"
    entry = entry or {}
    if isinstance(entry, str):  # shorthand: token: "user:alice@example.com"
        entry = {"principal": entry}
    if not isinstance(entry, Mapping):
        raise TokenFileError(f"{where} must be an object with a principal")
    allowed = {"principal", "scopes", "superuser"} if section == "tokens" else {"principal"}
    extra = set(entry) - allowed
    if extra:
        raise TokenFileError(f"{where}: unknown fields {', '.join(sorted(map(str, extra)))}")
    if not isinstance(token, str) or not token:
        what = "a token" if section == "tokens" else "an API key"
        raise TokenFileError(f"{what} must be a non-empty string")
    if section == "apiKeys":
        member = entry.get("principal")
        if member is None:
            return ANONYMOUS
        return Principal(_member(member, where), frozenset({SCOPE_CLOUD_PLATFORM}))
    if "principal" not in entry:
        raise TokenFileError(f"{where}.principal is required")
    scopes = entry.get("scopes")
    return Principal(
        _member(entry["principal"], where),
        _scopes(list(scopes) if isinstance(scopes, (list, tuple)) else scopes, where),
        superuser=bool(entry.get("superuser", False)),
    )


def _token_json(principal: Principal) -> dict[str, Any]:
    entry: dict[str, Any] = {"principal": principal.member, "scopes": sorted(principal.scopes)}
    if principal.superuser:
        entry["superuser"] = True
    return entry


def _key_json(principal: Principal) -> dict[str, Any]:
    return {} if principal is ANONYMOUS else {"principal": principal.member}


def _saved(section: str) -> Callable[[str, Any], Principal]:
    """The ``load`` of a saved token table: the token file's own checks."""

    def load(token: str, entry: Any) -> Principal:
        if not isinstance(entry, dict):
            fail("must be an object with a principal")
        try:
            return _token_entry(section, token, entry)
        except TokenFileError as exc:
            fail(str(exc))

    return load


class TokenRegistry(Stateful):
    """Bearer tokens and API keys this server accepts, each bound to a principal.

    Its two tables are saved with the state (``tokens`` in a state document); pass a
    ``feed`` to hear about every change.
    """

    tables = (
        TableSpec("tokens", _saved("tokens"), _token_json),
        TableSpec("apiKeys", _saved("apiKeys"), _key_json),
    )
    derived = frozenset({"feed"})

    def __init__(self, feed: ChangeFeed | None = None) -> None:
        self.feed = feed or ChangeFeed()
        self.reset()

    def reset(self) -> None:
        self._tokens: dict[str, Principal] = self.table("tokens")
        self._keys: dict[str, Principal] = self.table("apiKeys")

    # -- building ----------------------------------------------------------------------

    def add_token(
        self,
        token: str,
        member: str,
        scopes: Iterable[str] | None = None,
        *,
        superuser: bool = False,
    ) -> Principal:
        entry = {"principal": member, "scopes": list(scopes) if scopes is not None else None,
                 "superuser": superuser}
        principal = _token_entry("tokens", token, entry)
        self._tokens[token] = principal
        return principal

    def add_api_key(self, key: str, member: str | None = None) -> Principal:
        """An API key acts for ``member`` (or anonymously) with the ``cloud-platform`` scope."""
        principal = _token_entry("apiKeys", key, {"principal": member} if member is not None else {})
        self._keys[key] = principal
        return principal

    def load(self, data: Mapping[str, Any]) -> TokenRegistry:
        """Add every token and key of a token-file mapping (all checked before any is added)."""
        if not isinstance(data, Mapping):
            raise TokenFileError("a token file must hold an object with 'tokens' and/or 'apiKeys'")
        unknown = set(data) - {"tokens", "apiKeys"}
        if unknown:
            raise TokenFileError(f"unknown token file keys: {', '.join(sorted(map(str, unknown)))}")
        checked: list[tuple[dict[str, Principal], str, Principal]] = []
        for section, table in (("tokens", self._tokens), ("apiKeys", self._keys)):
            entries = data.get(section) or {}
            if not isinstance(entries, Mapping):
                raise TokenFileError(f"{section} must be an object keyed by token")
            checked.extend((table, str(token), _token_entry(section, str(token), entry))
                           for token, entry in entries.items())
        for table, token, principal in checked:
            table[token] = principal
        return self

    @classmethod
    def from_file(cls, path: str | Path) -> TokenRegistry:
        """Read a ``.json``, ``.yaml`` or ``.yml`` token file."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = parse_config_text(text, str(path))
        except ValueError as exc:
            raise TokenFileError(str(exc)) from None
        return cls().load(data or {})

    def clear(self) -> None:
        self._tokens.clear()
        self._keys.clear()

    # -- lookups -----------------------------------------------------------------------

    def principal_for_token(self, token: str) -> Principal | None:
        return self._tokens.get(token)

    def principal_for_key(self, key: str) -> Principal | None:
        return self._keys.get(key)

    def snapshot(self) -> dict[str, Any]:
        """The registry as a token-file mapping (for the admin API and baselines)."""
        return {
            "tokens": {token: _token_json(p) for token, p in self._tokens.items()},
            "apiKeys": {key: _key_json(p) for key, p in self._keys.items()},
        }


def _query_value(query: Mapping[str, Any], name: str) -> str | None:
    value = query.get(name)
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


def credentials(headers: Mapping[str, str], query: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(token, api key)`` a request sends, as Google's front end reads them; a malformed
    ``Authorization`` header is 401. ``headers`` are Starlette ``Headers`` or any mapping."""
    if not isinstance(headers, Headers):
        headers = Headers(headers=dict(headers))
    token: str | None = None
    authorization = first(headers, "authorization")
    if authorization is not None:
        scheme, _, credential = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not credential.strip():
            raise unauthenticated(
                "Request had invalid authentication credentials: the Authorization header must be "
                "'Bearer <access token>'.",
                reason=TOKEN_REJECTED,
                credentials_sent=True,
            )
        token = credential.strip()
    elif not query:
        return None, None
    else:
        for name in TOKEN_QUERY_PARAMS:
            token = _query_value(query, name)
            if token:
                break
    return token or None, _query_value(query, "key") or None


def identify(
    registry: TokenRegistry | None,
    auth_mode: str,
    headers: Mapping[str, str],
    query: Mapping[str, Any],
) -> Principal:
    """The caller of one request, or 401 UNAUTHENTICATED (``WWW-Authenticate: Bearer realm=...``,
    ``error="invalid_token"`` when a credential was sent), or 400 for an unknown API key.

    ``headers`` are Starlette ``Headers`` or any mapping (names in any case);
    ``query`` values may be strings or lists of strings (``parse_qs`` output).
    """
    if auth_mode not in AUTH_MODES:
        raise ValueError(f"auth mode must be one of {AUTH_MODES}, got {auth_mode!r}")
    registry = registry or TokenRegistry()
    token, key = credentials(headers, query)
    if token:
        principal = registry.principal_for_token(token)
        if principal is None:
            raise unauthenticated(
                INVALID_CREDENTIALS.format(what="the access token"),
                reason=TOKEN_REJECTED,
                credentials_sent=True,
            )
        return principal
    if key:
        principal = registry.principal_for_key(key)
        if principal is None:
            raise ApiError("INVALID_ARGUMENT", INVALID_API_KEY, details=[error_info("API_KEY_INVALID")])
        return principal
    if auth_mode == "open":
        return DEFAULT_OWNER
    raise unauthenticated(MISSING_CREDENTIALS, reason="CREDENTIALS_MISSING", credentials_sent=False)


def check_scopes(principal: Principal, accepted_scopes: Iterable[str] | None) -> None:
    """403 PERMISSION_DENIED unless the token holds one of the scopes the operation accepts."""
    accepted = frozenset(accepted_scopes or ())
    if not accepted or principal.scopes & accepted:
        return
    challenge = (
        f'Bearer realm="{AUTH_REALM}", error="insufficient_scope", scope="{" ".join(sorted(accepted))}"'
    )
    raise ApiError(
        "PERMISSION_DENIED",
        INSUFFICIENT_SCOPES,
        headers={"WWW-Authenticate": challenge},
        details=[error_info("ACCESS_TOKEN_SCOPE_INSUFFICIENT")],
    )


def make_authenticator(
    registry: TokenRegistry | None, auth_mode: str = "open"
) -> Callable[[Mapping[str, str], Mapping[str, Any], Any], Principal]:
    """An ``authenticate(headers, query, operation)`` for the app's middleware.

    Identifies the caller, then checks its scopes against ``operation.scopes``
    (the spec's ``x-scopes`` for that operation).
    """
    if auth_mode not in AUTH_MODES:
        raise ValueError(f"auth mode must be one of {AUTH_MODES}, got {auth_mode!r}")

    def authenticate(headers: Mapping[str, str], query: Mapping[str, Any], operation: Any) -> Principal:
        principal = identify(registry, auth_mode, headers, query)
        check_scopes(principal, getattr(operation, "scopes", None))
        return principal

    return authenticate
