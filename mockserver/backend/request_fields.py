"""Type checks on request bodies and fields that several components share.

Each check returns the value in the form the component stores, or raises
``400 INVALID_ARGUMENT`` naming the field; none knows about any resource.
(The annotation components have stricter rules of their own in
:mod:`annotation_validation`.)
"""

from __future__ import annotations

from typing import Any

from mockserver.errors import invalid_argument


def request_body(body: Any) -> dict[str, Any]:
    """The JSON object of a request; a missing body is an empty one."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid_argument("the request body must be a JSON object")
    return body


def required_str(body: dict[str, Any], key: str, field: str | None = None) -> str:
    """``body[key]``, a non-empty string; else 400 naming ``field`` (default: ``key``)."""
    value = body.get(key)
    if value is None or value == "":
        raise invalid_argument(f"{field or key} is required")
    if not isinstance(value, str):
        raise invalid_argument(f"{field or key} must be a string")
    return value


def optional_str(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise invalid_argument(f"{field} must be a string")


def string_list(value: Any, field: str) -> list[str]:
    """A list of non-empty strings (ids, checksums, accessions, enum names); unset is []."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise invalid_argument(f"{field} must be a list of non-empty strings")
    return list(value)


def required_ids(body: dict[str, Any], field: str) -> list[str]:
    """A required list of ids (:func:`string_list`), sorted and without repeats: naming an id
    twice is the same query as naming it once."""
    value = body.get(field)
    if type(value) is list and len(value) == 1 and type(value[0]) is str and value[0]:
        return [value[0]]  # one id (most searches): nothing to fold or sort
    ids = sorted(set(string_list(value, field)))
    if not ids:
        raise invalid_argument(f"{field} is required")
    return ids


def optional_int64(value: Any, field: str) -> int | None:
    """An int64 as a decimal string or JSON number (``int()`` rules); unset or ``""`` is None."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_argument(f"{field} must be an int64 (got {value!r})") from None
