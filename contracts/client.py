"""A small HTTP client that knows the target and remembers what it sent.

Every suite talks to the server through :class:`ApiClient` only (base URL +
credentials, never the mock's backend). Each request and its answer is kept
in a shared :class:`Recorder`, so that a failing check can print the exact
request sequence as ``curl`` commands that reproduce it by hand.
"""

from __future__ import annotations

import json
import shlex
import socket
from dataclasses import dataclass, field
from typing import Any

import httpx

#: the fixed callers and the environment variables that hold their tokens
ROLE_TOKEN_ENV = {
    role: f"GENOMICS_{role.upper()}_TOKEN" for role in ("writer", "reader", "outsider", "readonly")
}


@dataclass
class Exchange:
    """One request and the status/body it got."""

    who: str
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    status: int
    response: Any

    def curl(self) -> str:
        """The request as a shell command; the fixed callers' tokens appear as environment variables
        (the ones ``genomics-mock conformance`` reads), so logs never hold a real credential."""
        parts = [shlex.quote(p) for p in ("curl", "-sS", "-X", self.method, self.url)]
        for name, value in self.headers.items():
            if name.lower() == "authorization" and self.who in ROLE_TOKEN_ENV:
                parts.append(f'-H "Authorization: Bearer ${ROLE_TOKEN_ENV[self.who]}"')
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body is not None:
            payload = json.dumps(self.body, separators=(",", ":"))
            parts += ["-H", shlex.quote("Content-Type: application/json"), "-d", shlex.quote(payload)]
        return " ".join(parts)


@dataclass
class Recorder:
    """The requests of the current example (cleared when a new example starts)."""

    exchanges: list[Exchange] = field(default_factory=list)
    total: int = 0
    #: every dataset any caller created (kept across examples, for clean-up)
    created_datasets: list[str] = field(default_factory=list)

    def clear(self) -> None:
        self.exchanges.clear()

    def add(self, exchange: Exchange) -> None:
        self.exchanges.append(exchange)
        self.total += 1

    def reproduction(self, limit: int = 40) -> str:
        """The recorded sequence as shell lines, each followed by the status it got."""
        shown = self.exchanges[-limit:]
        lines = []
        if len(self.exchanges) > limit:
            lines.append(f"# ... {len(self.exchanges) - limit} earlier requests left out")
        for ex in shown:
            lines.append(f"{ex.curl()}   # as {ex.who} -> {ex.status}")
        return "\n".join(lines)


class ApiClient:
    """Calls the API as one caller (a bearer token, or none)."""

    def __init__(
        self,
        base_url: str,
        recorder: Recorder,
        *,
        token: str | None = None,
        name: str = "writer",
        timeout: float = 30.0,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self.token = token
        self.name = name
        # TCP_NODELAY: without it every small request waits ~40 ms on delayed ACKs
        transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._http = http or httpx.Client(timeout=timeout, transport=transport)

    def with_token(self, token: str | None, name: str) -> ApiClient:
        """The same connection pool, another caller."""
        return ApiClient(self.base_url, self.recorder, token=token, name=name, http=self._http)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if isinstance(json_body, dict):  # an unset field is left out, as proto3 clients do
            json_body = {k: v for k, v in json_body.items() if v is not None}
        url = httpx.URL(self.base_url + path, params=params)
        response = self._http.request(method, url, headers=headers, json=json_body)
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = response.text
        self.recorder.add(
            Exchange(self.name, method, str(url), headers, json_body, response.status_code, parsed)
        )
        if method == "POST" and path == "/v1/datasets" and response.status_code == 200:
            if isinstance(parsed, dict) and isinstance(parsed.get("id"), str):
                self.recorder.created_datasets.append(parsed["id"])  # deleted with the check
        return response

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.request("POST", path, json_body=body, params=params)

    def put(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.request("PUT", path, json_body=body, params=params)

    def patch(self, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.request("PATCH", path, json_body=body, params=params)

    def delete(self, path: str, **params: Any) -> httpx.Response:
        return self.request("DELETE", path, params=params)

    def close(self) -> None:
        self._http.close()


class ContractViolation(AssertionError):
    """A server answer that breaks the contract (the message says which rule)."""


def expect(response: httpx.Response, *statuses: int, rule: str = "") -> Any:
    """The parsed body when the status is one of ``statuses``; otherwise a violation."""
    if response.status_code not in statuses:
        body = response.text[:500]
        what = f"{rule}: " if rule else ""
        raise ContractViolation(
            f"{what}{response.request.method} {response.request.url.path} answered {response.status_code}, "
            f"expected {' or '.join(map(str, statuses))}; body: {body}"
        )
    try:
        return response.json()
    except ValueError:
        return None


def error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text
