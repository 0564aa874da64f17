"""The app factory: OpenAPI document + Connexion AsyncApp + our middleware.

``create_app()`` is what ``genomics-mock serve``, the pytest plugin and the
tests all use::

    app = create_app(backend=Backend(clock=FakeClock()))
    # app is an ASGI app (uvicorn.run(app), TestClient(app)); app.state.backend is its state
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from connexion import AsyncApp
from connexion.middleware import MiddlewarePosition
from connexion.resolver import Resolver

from mockserver import compat, error_handlers, redaction
from mockserver.admin import MockControl, build_admin_app, document_app, health_app, index_document
from mockserver.auth import TokenRegistry, make_authenticator
from mockserver.backend import Backend
from mockserver.batch import BatchMiddleware
from mockserver.cors import CorsMiddleware
from mockserver.discovery import DiscoveryBuilder, openapi_document
from mockserver.method_override import MethodOverrideMiddleware
from mockserver.middleware import Authenticator, GenomicsMiddleware, root_url
from mockserver.plans import build_plans
from mockserver.request_body import MAX_REQUEST_BYTES, READ_TIMEOUT, RequestLimits
from mockserver.resolver import resolve
from mockserver.routing import RouteTable
from mockserver.validation import VALIDATORS, URIParser


@functools.cache
def load_spec(path: str | None = None) -> dict[str, Any]:
    """The OpenAPI document, parsed once per process (callers must not mutate it)."""
    if path is None:
        from mockserver.specfile import openapi_path

        path = str(openapi_path())
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster


def connexion_document(spec: dict[str, Any]) -> dict[str, Any]:
    """The document as Connexion should see it: security is enforced by our middleware
    (open/strict modes, token registry), so Connexion's own security layer is left out."""
    doc = copy.deepcopy(spec)
    doc.pop("security", None)
    compat.own_path_parameters(doc)
    for item in doc.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
    doc.get("components", {}).pop("securitySchemes", None)
    doc[compat.PREVALIDATED] = True
    return doc


@dataclass
class AppState:
    """What one app serves (``app.state``): tests, the plugin and ``serve`` reach its parts here."""

    backend: Backend
    #: bearer tokens and API keys the app accepts
    tokens: TokenRegistry
    #: request log, fault rules, reset baseline, the state file's store
    control: MockControl


class GenomicsApp(AsyncApp):
    """Connexion's AsyncApp with the app's own values on :attr:`state`."""

    state: AppState


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
    cors: bool = True,
    admin_token: str | None = None,
    seed_root: str | Path | None = None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    read_timeout: float = READ_TIMEOUT,
    fast_path: bool = True,
) -> GenomicsApp:
    """Build one mock server. Each app has its own backend (state, clock, page-token secret).

    ``auth`` is ``open`` (no credentials: the built-in owner) or ``strict`` (no or unknown
    credentials: 401); ``tokens`` maps bearer tokens and API keys to principals (a
    :class:`TokenRegistry` or a YAML/JSON file); ``authenticate`` replaces both.
    ``admin=False`` turns off the ``/_mock/`` admin API (``/_mock/health`` stays);
    ``cors=False`` answers browsers without CORS headers (:mod:`mockserver.cors`);
    ``admin_token`` may call it besides superusers (in strict mode nobody else may);
    ``seed_root`` is a folder whose files seeds sent to ``POST /_mock/seed`` may name;
    ``max_request_bytes`` and ``read_timeout`` bound request bodies (:mod:`mockserver.request_body`);
    ``app.state`` holds the backend, the token registry and the control (request log,
    fault rules, reset baseline). ``fast_path=False`` sends every API request through
    Connexion's middleware chain instead of the operations' compiled plans (:mod:`mockserver.plans`:
    same rules and messages, a fraction of the cost); response validation needs the chain, so
    ``validate_responses=True`` implies it.
    """
    backend = backend or Backend()
    registry = tokens if isinstance(tokens, TokenRegistry) else TokenRegistry()
    if isinstance(tokens, (str, Path)):
        registry = TokenRegistry.from_file(tokens)
    compat.check_versions()
    redaction.install()
    spec = load_spec(str(spec_path) if spec_path else None)
    public_spec = connexion_document(spec)
    compat.skip_document_revalidation()
    app = GenomicsApp(
        __name__,
        swagger_ui_options=_swagger_options(swagger_ui),
        middlewares=_connexion_middlewares(validate_responses),
    )
    resolver = Resolver(function_resolver=resolve)
    app.add_api(
        public_spec,
        resolver=resolver,
        strict_validation=True,
        validate_responses=validate_responses,
        pythonic_params=False,
        validator_map=VALIDATORS,
        uri_parser_class=URIParser,
    )
    plans = {}
    if fast_path and not validate_responses:
        plans = build_plans(public_spec, resolver, VALIDATORS, uri_parser_class=URIParser)
    error_handlers.install(app)
    control = MockControl(
        backend, registry, admin=admin, auth=auth, admin_token=admin_token or None,
        seed_root=Path(seed_root).resolve() if seed_root else None,
    )
    extra_routes = {
        "/": document_app(lambda scope: index_document(root_url(scope), admin=admin, swagger_ui=swagger_ui)),
        "/openapi.json": document_app(lambda scope: openapi_document(public_spec, root_url(scope))),
        "/_mock/health": health_app(control),
    }
    if admin:
        extra_routes["/_mock"] = build_admin_app(control)
    # outermost first: CORS sees every answer (batch and errors included); each batch part
    # then goes through method override and GenomicsMiddleware like a call of its own
    if cors:
        app.add_middleware(CorsMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    # bodies are bounded before anything reads one (batch, method override, the API, the admin API)
    app.add_middleware(RequestLimits, position=MiddlewarePosition.BEFORE_EXCEPTION,
                       max_bytes=max_request_bytes, read_timeout=read_timeout)
    app.add_middleware(BatchMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(MethodOverrideMiddleware, position=MiddlewarePosition.BEFORE_EXCEPTION)
    app.add_middleware(
        GenomicsMiddleware,
        position=MiddlewarePosition.BEFORE_EXCEPTION,
        backend=backend,
        routes=RouteTable(spec),
        authenticate=authenticate or make_authenticator(registry, auth),
        discovery=DiscoveryBuilder(spec).document,
        extra_routes=extra_routes,
        control=control,
        plans=plans,
    )
    app.state = AppState(backend, registry, control)
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
