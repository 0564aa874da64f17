"""The compiled validators in front of Connexion's (mockserver/validation.py) never widen it.

jsonschema_rs may only accept what the Python validator accepts: for every request body
and parameter schema of the document, instances drawn from the schema — valid ones, and
ones with values Python and Rust might tell apart (1.0 for an integer, NaN, both sides of
each end of a proto integer range, a trailing newline after digits, dates) — are never
accepted by the compiled validator and refused by Python's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import ValidationError
from test_plans import PLANS

from mockserver.request_body import INTEGER_RANGES
from mockserver.validation import (
    compiled_body_validator,
    compiled_parameter_validator,
    compiled_validator,
)


def schemas() -> dict[str, list[tuple[str, Any]]]:
    """The document's distinct request body and parameter schemas, with the validators used."""
    found: dict[str, dict[str, tuple[str, Any]]] = {"body": {}, "parameter": {}}
    for operation_id, plan in sorted(PLANS.items()):
        schema = plan.operation.body_schema("application/json")
        if schema:
            found["body"].setdefault(json.dumps(schema, sort_keys=True),
                                     (f"{operation_id} body", compiled_body_validator(schema)))
        for parameter in plan.operation.parameters:
            schema = parameter.get("schema", parameter)
            found["parameter"].setdefault(json.dumps(schema, sort_keys=True),
                                          (f"{operation_id} {parameter['name']}",
                                           compiled_parameter_validator(schema)))
    return {kind: list(by_schema.values()) for kind, by_schema in found.items()}


EDGES = [edge + step for low, high in INTEGER_RANGES.values() for edge in (low, high) for step in (-1, 0, 1)]
TRICKY = st.sampled_from([
    *EDGES, *map(str, EDGES), 2**70, 1.0, -0.0, 0.5, float("nan"), float("inf"), 3.5e38, 1e-50, True, False,
    "12\n", "-", "007", "1e3", "2020-01-01T00:00:00Z", "2020-13-01T00:00:00Z", "2020-01-01t00:00:00z",
    "2020-01-01T23:59:60Z", "", " ", "é", None, [], {}, [1], {"a": 1},
])


def instances(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Instances shaped by ``schema``: each value valid, or an edge of its proto integer range
    (either side), or a tricky value; objects with any of their properties."""
    if not isinstance(schema, dict) or depth > 4:
        return TRICKY
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        return st.one_of([instances(branch, depth + 1) for branch in branches])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = {name: instances(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
        return st.fixed_dictionaries({}, optional=properties) | TRICKY
    if kind == "array":
        return st.lists(instances(schema.get("items", {}), depth + 1), max_size=3) | TRICKY
    leaf = _valid_leaf(schema)
    edges = INTEGER_RANGES.get(schema.get("format", ""))
    if edges is not None:
        outside = [edges[0] - 1, edges[0], edges[1], edges[1] + 1]
        leaf = leaf | leaf | st.sampled_from(outside + [str(value) for value in outside])
    return leaf | leaf | leaf | TRICKY


def _valid_leaf(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    edges = INTEGER_RANGES.get(schema.get("format", ""))
    if kind == "string":
        if edges is not None:
            return st.integers(*edges).map(str)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        if schema.get("format") == "date-time":
            return st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5+01:00"])
        return st.text(max_size=5)
    if kind == "integer":
        low, high = edges or (-(2**31), 2**31)
        return st.integers(max(low, schema.get("minimum", low)), min(high, schema.get("maximum", high)))
    if kind == "number":
        return st.floats(-1e6, 1e6)
    if kind == "boolean":
        return st.booleans()
    return TRICKY


SCHEMAS = schemas()


def test_every_schema_of_the_document_is_compiled() -> None:
    every = SCHEMAS["body"] + SCHEMAS["parameter"]
    assert len(SCHEMAS["body"]) > 20 and all(validator.compiled is not None for _, validator in every)


@pytest.mark.parametrize("kind", ["body", "parameter"])
@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_the_compiled_validator_accepts_nothing_connexion_refuses(kind: str, data: st.DataObject) -> None:
    where, validator = data.draw(st.sampled_from(SCHEMAS[kind]))
    instance = data.draw(instances(validator.python.schema), label=where)  # type: ignore[union-attr]
    try:
        accepted = validator.compiled.is_valid(instance)  # type: ignore[union-attr]
    except (ValueError, TypeError, OverflowError):
        return  # not representable: CompiledFirst leaves it to Python
    if accepted:
        try:
            validator.python.validate(instance)
        except ValidationError as exc:
            message = f"{where}: compiled accepts {instance!r}, Connexion refuses: {exc.message}"
            raise AssertionError(message) from None


def test_a_schema_using_connexions_nullable_gets_no_compiled_validator() -> None:
    nullable = {"type": "object", "properties": {"a": {"type": "string", "nullable": True}}}
    assert compiled_validator(nullable) is None
    assert compiled_validator({"type": "string"}) is not None
