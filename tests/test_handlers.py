"""How operationIds find their handlers: a function of the resource's module, else the standard method."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from mockserver import context
from mockserver.app import load_spec
from mockserver.backend import Backend
from mockserver.handlers import RESOURCES, standard
from mockserver.resolver import find_handler
from mockserver.routing import RouteTable


def test_every_standard_operation_of_the_document_reaches_a_backend_method() -> None:
    backend = Backend()
    checked = 0
    for operation in RouteTable(load_spec()).operations():
        _, resource, *method = operation.operation_id.split(".")
        if len(method) == 1 and standard(resource, method[0]) is not None:
            component = RESOURCES[resource][0]
            assert callable(getattr(getattr(backend, component), method[0], None)), operation.operation_id
            checked += 1
    assert checked >= 25


def test_only_standard_methods_of_known_resources_are_generic() -> None:
    assert standard("callsets", "get") is not None
    assert standard("callsets", "frobnicate") is None
    assert standard("coveragebuckets", "get") is None  # not a resource of its own
    assert standard("reads", "get") is None  # reads have no path id


def test_a_standard_handler_passes_the_caller_path_id_body_and_mask_in_order(monkeypatch) -> None:
    calls = []

    class Recorder:
        def patch(self, *args):
            calls.append(args)
            return {"ok": True}

    backend = Backend()
    monkeypatch.setattr(backend, "call_sets", Recorder())
    token = context.current_backend.set(backend)
    try:
        handler = standard("callsets", "patch")
        assert handler is not None
        result = asyncio.run(handler(callSetId="c1", body={"name": "n"}, updateMask="name", fields="x"))
    finally:
        context.current_backend.reset(token)
    assert result == {"ok": True}
    assert calls == [(context.principal(), "c1", {"name": "n"}, "name")]
    # Connexion passes what the signature names: not the standard query parameters (slower)
    assert list(inspect.signature(handler).parameters) == ["callSetId", "body", "updateMask"]


@pytest.mark.parametrize(
    "operation_id",
    ["genomics.datasets.list", "genomics.annotations.batchCreate", "genomics.readgroupsets.import"],
)
def test_other_operations_have_a_function_of_their_own(operation_id: str) -> None:
    handler = find_handler(operation_id)
    assert handler is not None and handler.__module__.startswith("mockserver.handlers.")
