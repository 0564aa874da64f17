"""The check every HTTP test makes of an error answer: status, Google's envelope, the message."""

from __future__ import annotations

from typing import Any


def assert_error(r: Any, code: int, status: str, text: str) -> None:
    """``r`` is a ``code`` answer with ``{"error": {"code", "status", "message"}}`` naming ``text``."""
    assert r.status_code == code, r.text
    error = r.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    assert text in error["message"], error["message"]
