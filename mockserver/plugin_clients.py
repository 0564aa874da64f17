"""The HTTP clients the pytest plugin hands out (imported when a fixture first needs them).

Every test gets a new :class:`GenomicsClient`, so no cookie or header set in one test
reaches the next; building an ``httpx.Client`` with a transport of its own loads an SSL
context (~27 ms on the development machine), so the clients of a session share one
:class:`SessionTransport` instead (~20 µs per client).
"""

from __future__ import annotations

from typing import Any

import httpx


class SessionTransport(httpx.BaseTransport):
    """One connection pool for every client of a pytest session.

    ``http://`` goes through a pool that never negotiates TLS (so it needs no SSL
    context); ``https://`` (an external ``--genomics-mock-url``) through a verifying pool
    made on first use. A client's ``close()`` leaves the pool open: the session's
    fixture calls :meth:`shutdown` at the end.
    """

    def __init__(self) -> None:
        self._plain = httpx.HTTPTransport(verify=False)  # never used for https: no TLS, nothing to verify
        self._tls: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https":
            return self._plain.handle_request(request)
        if self._tls is None:
            self._tls = httpx.HTTPTransport()
        return self._tls.handle_request(request)

    def close(self) -> None:
        """What each client's ``close()`` calls: the pool outlives the test."""

    def shutdown(self) -> None:
        self._plain.close()
        if self._tls is not None:
            self._tls.close()


class GenomicsClient(httpx.Client):
    """An httpx client on the mock; ``as_user(name)`` gives one that sends that user's token.

    ``mock`` is the plugin's ``GenomicsMock`` (its ``url``, ``transport``, ``tokens`` and
    ``add_principal``).
    """

    def __init__(self, mock: Any, **kwargs: Any) -> None:
        super().__init__(base_url=mock.url, timeout=30, transport=mock.transport, **kwargs)
        self.mock = mock
        self._children: list[GenomicsClient] = []

    def as_user(self, name: str) -> GenomicsClient:
        token = self.mock.tokens.get(name) or self.mock.add_principal(name)
        child = GenomicsClient(self.mock, headers={"Authorization": f"Bearer {token}"})
        self._children.append(child)
        return child

    def close(self) -> None:
        for child in self._children:
            child.close()
        super().close()

    def __exit__(self, *exc: Any) -> None:
        self.close()
