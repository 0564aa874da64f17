"""Start the mock in-process for a conformance run without ``--base-url``.

The mock runs in strict auth mode with four callers, so the permission and
auth checks have something to bite on:

* ``writer``: a superuser token (creates and cleans up everything);
* ``reader``: ``roles/viewer`` on the run's project;
* ``outsider``: an authenticated user with no role at all;
* ``readonly``: ``roles/editor`` but only the ``genomics.readonly`` scope.

This is the only module of :mod:`contracts` that imports the mock (its app
factory, never its backend); the suites themselves speak HTTP only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from contracts.core import Target
from contracts.preflight import reference_set_for_suites

MEMBERS = {
    "reader": "user:reader@contracts.example.com",
    "outsider": "user:outsider@contracts.example.com",
    "readonly": "user:readonly@contracts.example.com",
}


def _live_server(app: Any) -> Any:
    from mockserver.live import LiveServer

    return LiveServer(app, log_level="error")


@contextmanager
def local_mock(app: Any = None, *, profile: str = "quick", seed: int | None = None) -> Iterator[Target]:
    """A running in-process mock (``app`` or a fresh strict one) and the Target to test it."""
    from mockserver.app import create_app
    from mockserver.auth import TokenRegistry

    project = f"contracts-{secrets.token_hex(3)}"
    writer = f"writer-{secrets.token_hex(8)}"
    if app is None:
        registry = TokenRegistry()
        app = create_app(auth="strict", tokens=registry)
    writer_account = "serviceAccount:contracts-writer@contracts.example.com"
    app.state.tokens.add_token(writer, writer_account, superuser=True)
    with _live_server(app) as server:
        tokens = {}
        # the admin API is called as the superuser writer (a strict mock may refuse anyone else)
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {writer}"}) as http:
            for role, member in MEMBERS.items():
                roles = {"reader": ["roles/viewer"], "readonly": ["roles/editor"]}.get(role, [])
                body: dict[str, Any] = {
                    "member": member,
                    "token": f"{role}-{secrets.token_hex(8)}",
                    "roles": roles,
                    "projectId": project,
                }
                if role == "readonly":
                    body["scopes"] = ["genomics.readonly"]
                r = http.post("/_mock/principals", json=body)
                r.raise_for_status()
                tokens[role] = r.json()["token"]
            reference_set_id = reference_set_for_suites(http, server.url, writer)
        yield Target(
            server.url,
            writer_token=writer,
            admin_token=writer,
            reader_token=tokens["reader"],
            outsider_token=tokens["outsider"],
            readonly_token=tokens["readonly"],
            reader_member=MEMBERS["reader"],
            outsider_member=MEMBERS["outsider"],
            project=project,
            reference_set_id=reference_set_id,
            profile=profile,
            seed=seed,
            strict_auth=True,
        )
