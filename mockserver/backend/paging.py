"""One pagination mechanism for every list and search.

Pages are keyset pages: a page token carries the sort key of the last item
returned, so page k costs what page 1 costs (an index seek, not an offset
re-scan), and an item inserted behind the cursor neither repeats nor hides
another. Tokens are opaque (base64url JSON + a MAC: keyed BLAKE2b, a third of
HMAC-SHA256's cost per token) and bound to

* the method and every filter of the query that made them (not ``pageSize``,
  which may change between pages), and
* this backend instance's secret, so a token from another server is refused.

Anything else — tampering, reuse with other filters, garbage — is
``400 INVALID_ARGUMENT "invalid page token"``.

Each list and search is declared once: a :class:`Listing` (method, response
field, sort key) whose page-size rule is its row in :data:`PAGE_SIZES`; a
component answers it with ``Component.page_of`` (records by id from sorted
indexes) or :meth:`Paginator.respond` (any ordered stream).
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
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from mockserver.errors import invalid_argument

T = TypeVar("T")
Cursor = list[Any]

INVALID_TOKEN = "invalid page token"


#: standard base64's two last letters -> the URL-safe ones
_URL_SAFE = bytes.maketrans(b"+/", b"-_")
#: the types whose empty value leaves a query unfiltered, as None does ("", [], {})
_EMPTY_UNSET = (str, list, dict)
#: the paging fields themselves, which bind no token
_PAGING_FIELDS = frozenset({"pageToken", "pageSize", "page_token", "page_size"})


def _b64(data: bytes) -> str:
    """URL-safe base64 without padding (``base64.urlsafe_b64encode``'s letters, in one C call)."""
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PageTokens:
    """Encodes and verifies cursor tokens for one backend instance."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    @property
    def secret(self) -> bytes:
        """The MAC key; saved with the state so a restarted server honours its old tokens."""
        return self._secret

    @secret.setter
    def secret(self, value: bytes) -> None:
        self._secret = value
        # BLAKE2b takes keys of up to 64 bytes (ours are 32); a longer one is hashed to fit
        key = value if len(value) <= hashlib.blake2b.MAX_KEY_SIZE else hashlib.blake2b(value).digest()
        self._keyed = hashlib.blake2b(key=key, digest_size=16)

    def _mac(self, method: str, query: Mapping[str, Any], payload: bytes) -> bytes:
        mac = self._keyed.copy()  # the key already absorbed
        mac.update(_json([method, _canonical(query)]) + b"\0" + payload)
        return mac.digest()

    def encode(self, method: str, query: Mapping[str, Any], cursor: Cursor) -> str:
        payload = _json(cursor)
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


def _json(value: Any) -> bytes:
    """Compact JSON with sorted keys, the same bytes for the same value (orjson: a token costs
    ~10 µs less than with the standard library; integers wider than 64 bits, which orjson
    refuses, take the standard library's spelling)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _canonical(query: Mapping[str, Any]) -> dict[str, Any]:
    """Filters only: unset values (None, "", [], {}) and the paging fields themselves do not
    bind a token (a set value is tested by truth first: no comparison with empty containers)."""
    return {
        k: v
        for k, v in query.items()
        if v is not None and (v or not isinstance(v, _EMPTY_UNSET)) and k not in _PAGING_FIELDS
    }


@dataclass(frozen=True)
class PageSize:
    """A method's page-size rule: ``default`` for zero or unset; above ``maximum`` (documented in
    the OpenAPI document) is a 400; methods without a documented maximum are silently held to
    ``cap``."""

    default: int
    maximum: int | None = None
    cap: int | None = None


#: every list and search -> its page-size rule: what the backend applies, and what a test checks
#: against spec/openapi.yaml (each documented maximum, and the default each description states)
PAGE_SIZES: dict[str, PageSize] = {
    "datasets.list": PageSize(50, maximum=1024),
    "operations.list": PageSize(256, maximum=2048),
    "annotationsets.search": PageSize(128, maximum=1024),
    "annotations.search": PageSize(256, maximum=2048),
    "variantsets.search": PageSize(1024, cap=1024),
    "callsets.search": PageSize(1024, cap=1024),
    "readgroupsets.search": PageSize(256, maximum=1024),
    "readgroupsets.coveragebuckets.list": PageSize(1024, maximum=2048),
    "reads.search": PageSize(256, maximum=2048),
    "referencesets.search": PageSize(1024, maximum=4096),
    "references.search": PageSize(1024, maximum=4096),
    "references.bases.list": PageSize(200_000, maximum=10_000_000),
    "variants.search": PageSize(5000, maximum=10_000),
}


def page_size_for(method: str, value: Any, *, field: str = "pageSize") -> int:
    """``value`` (a query parameter or a search body's ``pageSize``) under ``method``'s rule
    (:data:`PAGE_SIZES`); anything but an integer is a 400 naming ``field``."""
    rule = PAGE_SIZES[method]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise invalid_argument(f"{field} must be an integer (got {value!r})")
    if value is None or value == 0:
        return rule.default
    if value < 0:
        raise invalid_argument(f"{field} must not be negative (got {value})")
    if rule.maximum is not None and value > rule.maximum:
        raise invalid_argument(f"{field} must be at most {rule.maximum} (got {value})")
    return value if rule.cap is None else min(value, rule.cap)


def by_id(record: Any) -> Cursor:
    """The sort key of records ordered by id (most lists and searches)."""
    return [record["id"]]


@dataclass(frozen=True)
class Listing:
    """A declared list or search, in the spirit of moto's ``PAGINATION_MODEL``.

    ``method`` binds its page tokens and names its page-size rule in
    :data:`PAGE_SIZES`; ``field`` is the response field holding a page;
    ``key(item)`` is an item's place in the method's total order.
    """

    method: str
    field: str
    key: Callable[[Any], Cursor] = by_id

    def __post_init__(self) -> None:
        if self.method not in PAGE_SIZES:
            raise ValueError(f"{self.method} has no page-size rule in PAGE_SIZES")

    def page_size(self, value: Any) -> int:
        """A requested page size under this method's rule (for checking it early)."""
        return page_size_for(self.method, value)

    def response(self, page: list[Any], token: str | None) -> dict[str, Any]:
        """``{<field>: page, "nextPageToken": token}``, each omitted when empty (proto3 JSON)."""
        response: dict[str, Any] = {}
        if page:
            response[self.field] = page
        if token:
            response["nextPageToken"] = token
        return response


@dataclass(frozen=True)
class Budget:
    """A second page limit besides the page size: the summed ``weight`` of a page's items stays
    within ``limit`` (``variants.search``: at most ``maxCalls`` calls), except that a page holds
    at least one item whatever it weighs."""

    limit: int
    weight: Callable[[Any], int]


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
        budget: Budget | None = None,
    ) -> tuple[list[T], str | None]:
        """Return up to ``size`` items and the next token (None on the last page).

        ``stream(cursor)`` yields items in the method's total order, starting
        strictly after ``cursor`` (from the beginning when ``cursor`` is None);
        ``key(item)`` is the item's sort key as a JSON-able list. With a
        ``budget`` the page also ends before the item that would take the
        weight of the page past its limit (a page always holds one item).
        """
        cursor = self.tokens.decode(page_token, method, query) if page_token else None
        if budget is None:
            items = list(itertools.islice(stream(cursor), size + 1))
            if len(items) <= size:
                return items, None
            items = items[:size]
            return items, self.tokens.encode(method, query, key(items[-1]))
        items, spent = [], 0
        for item in stream(cursor):
            spent += budget.weight(item)
            if len(items) == size or (items and spent > budget.limit):
                return items, self.tokens.encode(method, query, key(items[-1]))
            items.append(item)
        return items, None

    def respond(
        self,
        listing: Listing,
        query: Mapping[str, Any],
        *,
        page_size: Any,
        page_token: str | None,
        stream: Callable[[Cursor | None], Iterator[T]],
        render: Callable[[T], Any],
        budget: Budget | None = None,
    ) -> dict[str, Any]:
        """The response of ``listing``: ``{<field>: [rendered items], "nextPageToken"}``, each
        omitted when empty (proto3 JSON); the page size follows the method's rule."""
        items, token = self.page(
            listing.method,
            query,
            page_token=page_token or None,
            size=page_size_for(listing.method, page_size),
            stream=stream,
            key=listing.key,
            budget=budget,
        )
        return listing.response([render(item) for item in items], token)
