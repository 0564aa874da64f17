"""Credentials never reach a log: ``access_token``, ``oauth_token``, ``key`` and ``Authorization``.

A client may send its token as a query parameter (``?access_token=...``), which
uvicorn's access log writes with the path; :class:`RedactingFilter` rewrites
every record of the loggers the server writes to (:data:`LOGGERS`) before any
handler formats it. :func:`install` is called by every app the factory builds,
so the standalone server, the pytest plugin and embedded uses are all covered.
"""

from __future__ import annotations

import logging
import re
from typing import Any

#: query parameters that carry credentials (Google's names)
SECRET_PARAMETERS = ("access_token", "oauth_token", "key")
#: the loggers the mock and its server write to
LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "genomics_mock")
REDACTED = "REDACTED"

_PARAMETER = re.compile(
    r"(?P<name>(?:^|(?<=[?&;\s\"']))(?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&\s\"';#]*",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(r"(?P<name>\b(?:Bearer|Basic)\s+)[^\s\"',;]+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with credential values replaced by ``REDACTED``."""
    if "=" in text:
        text = _PARAMETER.sub(lambda m: m.group("name") + REDACTED, text)
    if "earer" in text or "asic" in text:
        text = _AUTHORIZATION.sub(lambda m: m.group("name") + REDACTED, text)
    return text


def _clean(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and string arguments (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_clean(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _clean(value) for key, value in record.args.items()}
        return True


_FILTER = RedactingFilter()


def install() -> None:
    """Attach the filter to :data:`LOGGERS` (once; later calls do nothing)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
