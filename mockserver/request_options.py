"""Google's standard query parameters that shape every response (per request)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestOptions:
    pretty: bool = True
    fields: str | None = None


#: what a request without prettyPrint/fields gets (frozen, so one shared instance is safe)
DEFAULT_OPTIONS = RequestOptions()

_options: ContextVar[RequestOptions] = ContextVar("genomics_mock_request_options", default=DEFAULT_OPTIONS)


def current_options() -> RequestOptions:
    return _options.get()


def options_from_query(query: dict[str, list[str]]) -> RequestOptions:
    if "prettyPrint" not in query and "fields" not in query:
        return DEFAULT_OPTIONS  # most requests: no dataclass built
    pretty_values = query.get("prettyPrint")
    pretty = True
    if pretty_values:
        pretty = pretty_values[-1].strip().lower() not in ("false", "0")
    fields_values = query.get("fields")
    return RequestOptions(pretty=pretty, fields=fields_values[-1] if fields_values else None)


set_options = _options.set
reset_options = _options.reset
