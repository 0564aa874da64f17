"""The app factory: OpenAPI document + Connexion AsyncApp + our middleware.

``create_app()`` is what ``genomics-mock serve``, the pytest plugin and the
tests all use::

    app = create_app(backend=Backend(clock=FakeClock()))
    # app is an ASGI app (uvicorn.run(app), TestClient(app)); app.backend is its state
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver

from mockserver import error_handlers
from mockserver.admin import MockControl, build_admin_app, health_app
from mockserver.auth import TokenRegistry, make_authenticator
from mockserver.backend import Backend
from mockserver.discovery import DiscoveryBuilder
from mockserver.middleware import Authenticator, GenomicsMiddleware
from mockserver.resolver import resolve
from mockserver.routing import RouteTable
from mockserver.validation import VALIDATORS


@functools.cache
def load_spec(path: str | None = None) -> dict[str, Any]:
    """The OpenAPI document, parsed once per process (callers must not mutate it)."""
    if path is None:
        from mockserver.specfile import openapi_path

        path = str(openapi_path())
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster


def _connexion_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The document as Connexion should see it: security is enforced by our middleware
    (open/strict modes, token registry), so Connexion's own security layer is left out."""
    doc = copy.deepcopy(spec)
    doc.pop("security", None)
    for item in doc.get("paths", {}).values():
        # Connexion 3.3 appends path-level parameters to a shared list once per operation
        # of the path (66 query parameters validated per request instead of 11): give each
        # operation its own complete list instead.
        shared = item.pop("parameters", [])
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
                op["parameters"] = copy.deepcopy(shared) + op.get("parameters", [])
    doc.get("components", {}).pop("securitySchemes", None)
    doc[_PREVALIDATED] = True
    return doc


_PREVALIDATED = "x-genomics-mock-prevalidated"


def _skip_revalidation() -> None:
    """Let Connexion skip re-validating *our* document (2 s per app on this machine).

    ``genomics-mock spec check`` and the test-suite validate spec/openapi.yaml
    with openapi-spec-validator; Connexion would validate the same document
    again for every app it builds (each test server, each plugin session).
    Documents without our marker are validated as usual.
    """
    from connexion.spec import OpenAPISpecification

    original = OpenAPISpecification._validate_spec.__func__
    if getattr(original, "_genomics_mock", False):
        return

    def validate_unless_ours(cls: type, spec: dict[str, Any]) -> None:
        if not spec.get(_PREVALIDATED):
            original(cls, spec)

    validate_unless_ours._genomics_mock = True  # type: ignore[attr-defined]
    OpenAPISpecification._validate_spec = classmethod(validate_unless_ours)  # type: ignore[method-assign,assignment]


def create_app(
    backend: Backend | None = None,
    *,
    auth: str = "open",
    tokens: TokenRegistry | str | Path | None = None,
    validate_responses: bool = False,
    authenticate: Authenticator | None = None,
    spec_path: str | Path | None = None,
    swagger_ui: bool = True,
    admin: bool = True,
) -> AsyncApp:
    """Build one mock server. Each app has its own backend (state, clock, page-token secret).

    ``auth`` is ``open`` (no credentials: the built-in owner) or ``strict`` (no or unknown
    credentials: 401); ``tokens`` maps bearer tokens and API keys to principals (a
    :class:`TokenRegistry` or a YAML/JSON file); ``authenticate`` replaces both.
    ``admin=False`` turns off the ``/_mock/`` admin API (``/_mock/health`` stays);
    ``app.control`` holds the request log, fault rules and state-change listeners.
    """
    backend = backend or Backend()
    registry = tokens if isinstance(tokens, TokenRegistry) else TokenRegistry()
    if isinstance(tokens, (str, Path)):
        registry = TokenRegistry.from_file(tokens)
    spec = load_spec(str(spec_path) if spec_path else None)
    _skip_revalidation()
    app = AsyncApp(
        __name__,
        swagger_ui_options=_swagger_options(swagger_ui),
        middlewares=_connexion_middlewares(validate_responses),
    )
    app.add_api(
        _connexion_spec(spec),
        resolver=Resolver(function_resolver=resolve),
        strict_validation=True,
        validate_responses=validate_responses,
        pythonic_params=False,
        validator_map=VALIDATORS,
    )
    error_handlers.install(app)
    control = MockControl(backend, registry, admin=admin)
    extra_routes = {"/_mock/health": health_app()}
    if admin:
        extra_routes["/_mock"] = build_admin_app(control)
    app.add_middleware(
        GenomicsMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        backend=backend,
        routes=RouteTable(spec),
        authenticate=authenticate or make_authenticator(registry, auth),
        discovery=DiscoveryBuilder(spec).document,
        extra_routes=extra_routes,
        control=control,
    )
    app.backend = backend  # type: ignore[attr-defined]
    app.tokens = registry  # type: ignore[attr-defined]
    app.control = control  # type: ignore[attr-defined]
    return app


def _connexion_middlewares(validate_responses: bool) -> list[Any]:
    """Connexion's stack minus the layers with nothing to do here.

    Each Connexion middleware routes the request again; security is ours
    (GenomicsMiddleware) and response validation is off unless asked for, so
    dropping those two routers saves two route scans per request.
    """
    from connexion.middleware.main import ConnexionMiddleware
    from connexion.middleware.response_validation import ResponseValidationMiddleware
    from connexion.middleware.security import SecurityMiddleware

    skip: set[type] = {SecurityMiddleware}
    if not validate_responses:
        skip.add(ResponseValidationMiddleware)
    return [m for m in ConnexionMiddleware.default_middlewares if m not in skip]


def _swagger_options(enabled: bool) -> Any:
    from connexion.options import SwaggerUIOptions

    return SwaggerUIOptions(swagger_ui=enabled, swagger_ui_path="/ui")
