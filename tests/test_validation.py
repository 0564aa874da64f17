"""The compiled validators in front of Connexion's (mockserver/validation.py) never widen it.

jsonschema_rs may only accept what the Python validator accepts: for every request body
and parameter schema of the document, instances drawn from the schema (valid ones, near
misses and values Python and Rust tell apart: 1.0 for an integer, NaN, a trailing newline
after digits, dates) are never accepted by the compiled validator and refused by Python's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import ValidationError
from test_plans import PLANS, VALUES

from mockserver.validation import CompiledFirst, compiled_body_validator, compiled_validator


def schemas() -> dict[str, list[tuple[str, CompiledFirst]]]:
    """The document's distinct request body schemas and parameter schemas, with their validators."""
    found: dict[str, dict[str, tuple[str, CompiledFirst]]] = {"body": {}, "parameter": {}}
    for operation_id, plan in sorted(PLANS.items()):
        schema = plan.operation.body_schema("application/json")
        if schema:
            found["body"].setdefault(json.dumps(schema, sort_keys=True),
                                     (f"{operation_id} body", compiled_body_validator(schema)))
        for parameter in plan.operation.parameters:
            schema = parameter.get("schema", parameter)
            found["parameter"].setdefault(json.dumps(schema, sort_keys=True), (
                f"{operation_id} {parameter['name']}", CompiledFirst(_python(schema), schema)))
    return {kind: list(by_schema.values()) for kind, by_schema in found.items()}


def _python(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft4Validator

    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


TRICKY = st.sampled_from([1.0, -0.0, float("nan"), float("inf"), 2**64, -(2**63) - 1, True, "12\n", "-",
                          "007", "2020-01-01T00:00:00Z", "2020-13-01T00:00:00Z", "2020-01-01t00:00:00z",
                          "2020-01-01T23:59:60Z", "", " ", "é", None, [], {}])


def instances(schema: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values shaped by ``schema`` (mostly valid, some not), and plain random ones."""
    if not isinstance(schema, dict) or depth > 3:
        return VALUES | TRICKY
    options: list[st.SearchStrategy[Any]] = [TRICKY]
    for key in ("anyOf", "oneOf", "allOf"):
        options += [instances(sub, depth + 1) for sub in schema.get(key, [])]
    kind = schema.get("type")
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if kind == "object" or "properties" in schema:
        properties = {name: instances(sub, depth + 1) for name, sub in schema.get("properties", {}).items()}
        options.append(st.fixed_dictionaries({}, optional=properties))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            options.append(st.dictionaries(st.text(max_size=3), instances(extra, depth + 1), max_size=2))
    if kind == "array":
        options.append(st.lists(instances(schema.get("items", {}), depth + 1), max_size=3))
    if kind == "string":
        if "pattern" in schema:
            options.append(st.from_regex(schema["pattern"]))
        options.append(st.text(max_size=5))
    if kind in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        options.append(st.integers(min_value=None if low is None else int(low) - 1,
                                   max_value=None if high is None else int(high) + 1))
        options.append(st.floats())
    if kind == "boolean":
        options.append(st.booleans())
    return st.one_of(options)


SCHEMAS = schemas()


def test_every_schema_of_the_document_is_compiled() -> None:
    every = SCHEMAS["body"] + SCHEMAS["parameter"]
    assert len(SCHEMAS["body"]) > 20 and all(validator.compiled is not None for _, validator in every)


@pytest.mark.parametrize("kind", ["body", "parameter"])
@settings(max_examples=500, deadline=None)
@given(data=st.data())
def test_the_compiled_validator_accepts_nothing_connexion_refuses(kind: str, data: st.DataObject) -> None:
    where, validator = data.draw(st.sampled_from(SCHEMAS[kind]))
    instance = data.draw(instances(validator.python.schema), label=where)
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
