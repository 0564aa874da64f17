"""One pagination mechanism for every list and search.

Pages are keyset pages: a page token carries the sort key of the last item
returned, so page k costs what page 1 costs (an index seek, not an offset
re-scan), and an item inserted behind the cursor neither repeats nor hides
another. Tokens are opaque (base64url JSON + HMAC) and bound to

* the method and every filter of the query that made them (not ``pageSize``,
  which may change between pages), and
* this backend instance's secret, so a token from another server is refused.

Anything else — tampering, reuse with other filters, garbage — is
``400 INVALID_ARGUMENT "invalid page token"``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import itertools
import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from mockserver.errors import invalid_argument

T = TypeVar("T")
Cursor = list[Any]

INVALID_TOKEN = "invalid page token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    """Encodes and verifies cursor tokens for one backend instance."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, method: str, query: Mapping[str, Any], payload: bytes) -> bytes:
        fingerprint = json.dumps([method, _canonical(query)], sort_keys=True, separators=(",", ":"))
        return hmac.new(self._secret, fingerprint.encode() + b"\0" + payload, hashlib.sha256).digest()[:16]

    def encode(self, method: str, query: Mapping[str, Any], cursor: Cursor) -> str:
        payload = json.dumps(cursor, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(method, query, payload))}"

    def decode(self, token: str, method: str, query: Mapping[str, Any]) -> Cursor:
        try:
            body, _, mac = token.partition(".")
            payload, mac_bytes = _unb64(body), _unb64(mac)
            # only the exact string we issued: base64 decoding ignores stray characters and the
            # spare low bits of the last one, so a tampered string could decode to valid bytes
            canonical = f"{_b64(payload)}.{_b64(mac_bytes)}" == token
            ok = canonical and hmac.compare_digest(mac_bytes, self._mac(method, query, payload))
            cursor = json.loads(payload) if ok else None
        except (ValueError, binascii.Error, UnicodeDecodeError):
            cursor = None
        if not isinstance(cursor, list):
            raise invalid_argument(f"{INVALID_TOKEN}: pageToken does not belong to this query")
        return cursor


def _canonical(query: Mapping[str, Any]) -> dict[str, Any]:
    """Filters only: unset values and the paging fields themselves do not bind a token."""
    return {
        k: v
        for k, v in query.items()
        if k not in ("pageToken", "pageSize", "page_token", "page_size") and v not in (None, "", [], {})
    }


def page_size(value: int | None, *, default: int, maximum: int | None, field: str = "pageSize") -> int:
    """Apply a method's documented default and maximum.

    Zero or unset means the default. Above the documented maximum is a 400
    (the OpenAPI document states the maximum, so a schema-validating server
    and this backend agree); methods without a documented maximum are capped
    silently at ``maximum`` when one is given.
    """
    if value is None or value == 0:
        return default
    if value < 0:
        raise invalid_argument(f"{field} must not be negative (got {value})")
    if maximum is not None and value > maximum:
        raise invalid_argument(f"{field} must be at most {maximum} (got {value})")
    return value


def body_page_size(
    value: Any, *, default: int, maximum: int | None = None, cap: int | None = None, field: str = "pageSize"
) -> int:
    """``pageSize`` as a search sends it in the JSON body: an integer (anything else is a 400),
    then :func:`page_size`; ``cap`` silently limits methods without a documented maximum."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise invalid_argument(f"{field} must be an integer (got {value!r})")
    size = page_size(value, default=default, maximum=maximum, field=field)
    return size if cap is None else min(size, cap)


def merged_after(indexes: Iterable[Any], after: Any) -> Iterator[Any]:
    """The keys of several sorted indexes (sorted lists of disjoint ids) in one order,
    strictly after ``after`` (from the start when None): a seek per index, then a merge."""
    return heapq.merge(*(index.irange(minimum=after, inclusive=(False, False)) for index in indexes))


class Paginator:
    """Cuts an ordered stream into pages with tokens (see module docstring)."""

    def __init__(self, tokens: PageTokens) -> None:
        self.tokens = tokens

    def page(
        self,
        method: str,
        query: Mapping[str, Any],
        *,
        page_token: str | None,
        size: int,
        stream: Callable[[Cursor | None], Iterator[T]],
        key: Callable[[T], Cursor],
    ) -> tuple[list[T], str | None]:
        """Return up to ``size`` items and the next token (None on the last page).

        ``stream(cursor)`` yields items in the method's total order, starting
        strictly after ``cursor`` (from the beginning when ``cursor`` is None);
        ``key(item)`` is the item's sort key as a JSON-able list.
        """
        cursor = self.tokens.decode(page_token, method, query) if page_token else None
        items = list(itertools.islice(stream(cursor), size + 1))
        if len(items) <= size:
            return items, None
        items = items[:size]
        return items, self.tokens.encode(method, query, key(items[-1]))
