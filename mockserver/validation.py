"""Connexion validators that compile each schema once and name the bad field.

Connexion 3.3 builds a fresh jsonschema validator (after a deep copy of the
parameter) for every parameter of every request; these validators cache one
per schema, and phrase failures the way Google does: which parameter or body
field, and what was wrong with it — without a dump of the schema — with a
``google.rpc.BadRequest`` field violation naming it. (The body validator's hooks
are Connexion internals, bound in :mod:`mockserver.compat`.)
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem
from connexion.json_schema import Draft4RequestValidator
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import is_null, is_nullable
from connexion.validators import VALIDATOR_MAP
from connexion.validators.parameter import ParameterValidator
from jsonschema import Draft4Validator, FormatChecker, ValidationError

from mockserver.compat import json_body_validator
from mockserver.errors import ApiError, bad_request
from mockserver.proto_json import normalize
from mockserver.request_body import (
    FLOAT32_MAX,
    INTEGER_RANGES,
    decode_json,
    float_in_range,
    integer_in_range,
    parsed_as_stdlib,
)


def _format_checker() -> FormatChecker:
    """Draft 4's formats plus the proto number types: a value must fit its field's type."""
    checker = FormatChecker(())
    checker.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)
    for name in INTEGER_RANGES:
        checker.checks(name)(lambda value, name=name: integer_in_range(value, name))
    checker.checks("float")(float_in_range)
    return checker


FORMAT_CHECKER = _format_checker()
_param_validators: dict[int, tuple[dict[str, Any], CompiledFirst]] = {}
_body_validators: dict[int, tuple[dict[str, Any], CompiledFirst]] = {}


def _cached(cache: dict, schema: dict[str, Any], factory: Any) -> Any:
    hit = cache.get(id(schema))
    if hit is None or hit[0] is not schema:  # guard against id() reuse
        hit = (schema, factory(schema, format_checker=FORMAT_CHECKER))
        cache[id(schema)] = hit
    return hit[1]


def _where(exc: ValidationError) -> str:
    return ".".join(str(part) for part in exc.absolute_path)


def field_path(parts: Any) -> str:
    """A JSON path as Google's field violations write it: ``annotations[0].start``."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def rejected(message: str, *fields: str) -> ApiError:
    """400 INVALID_ARGUMENT with one BadRequest field violation per named field."""
    details = [bad_request([(field, message) for field in fields])] if fields else None
    return ApiError("INVALID_ARGUMENT", message, details=details)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(exc: ValidationError) -> str:
    """A one-line reason that never echoes a large instance back (a 4,097-item batch
    would otherwise come back whole in jsonschema's message)."""
    bound = exc.validator_value
    match exc.validator:
        case "maxItems":
            return f"has more than {bound} items"
        case "minItems":
            return f"has fewer than {bound} items"
        case "maxLength":
            return f"is longer than {bound} characters"
        case "type":
            return f"{_short(exc.instance)} is not of type {bound!r}"
        case "enum":
            return f"{_short(exc.instance)} is not one of {bound}"
        case "pattern":
            return f"{_short(exc.instance)} does not match {bound!r}"
        case "format" if bound in INTEGER_RANGES or bound == "float":
            return f"{_short(exc.instance)} does not fit a {bound}"
    return exc.message if len(exc.message) <= 300 else exc.message[:297] + "..."


class URIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser (query and path coercion), its parameter schemas computed
    once: Connexion's builds that dict again for every query or path value it resolves."""

    def __init__(self, param_defns: Any, body_defn: Any) -> None:
        super().__init__(param_defns, body_defn)
        self._schemas = {name: p.get("schema", {}) for name, p in self.param_defns.items()}

    @property
    def param_schemas(self) -> dict[str, Any]:
        return self._schemas


class GoogleParameterValidator(ParameterValidator):
    """Connexion's parameter checks, in its order and with its outcome, done cheaply: the query
    is parsed once instead of once per declared parameter (every path declares Google's eleven
    standard parameters), and a parameter the request leaves out is checked only when required."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.declared_query = {p["name"] for p in self.parameters.get("query", [])}
        self.required_query = {p["name"] for p in self.parameters.get("query", []) if p.get("required")}
        #: what a request without a query checks: its required parameters, in declared order
        self.checked_without_query = [p for p in self.parameters.get("query", []) if p.get("required")]

    def validate_request(self, request: Any) -> None:
        query = request.query_params
        if self.strict_validation and query:
            extra = set(query.keys()) - self.declared_query - set(self.security_query_params)
            if extra:
                names = sorted(extra)
                raise rejected(f"Extra query parameter(s) {', '.join(names)} not in spec", *names)
        for param in self.parameters.get("query", []) if query else self.checked_without_query:
            value = query.get(param["name"])
            if value is None and param["name"] not in self.required_query:
                continue  # what validate_parameter answers for an absent optional parameter
            error = self.validate_parameter("query", value, param)
            if error:
                raise rejected(error, param["name"])
        path_params = request.path_params
        for param in self.parameters.get("path", []):
            value = path_params.get(param["name"].replace("-", "_"))
            error = self.validate_parameter("path", value, param)
            if error:
                raise rejected(error, param["name"])
        for param in self.parameters.get("header", []):
            error = self.validate_header_parameter(param, request)
            if error:
                raise rejected(error, param["name"])

    @staticmethod
    def validate_parameter(
        parameter_type: str, value: Any, param: dict, param_name: str | None = None
    ) -> Any:
        name = param.get("name", param_name)
        if is_nullable(param) and is_null(value):
            return None
        if value is not None:
            validator = compiled_parameter_validator(param.get("schema", param))
            try:
                validator.validate(value)
            except ValidationError as exc:
                where = _where(exc)
                suffix = f" (item {where})" if where else ""
                return f"Invalid value for {parameter_type} parameter '{name}'{suffix}: {describe(exc)}"
        elif param.get("required"):
            return f"Missing required {parameter_type} parameter '{name}'"
        return None


class CompiledFirst:
    """A Python jsonschema validator (Connexion's rules) with a compiled one in front.

    ``jsonschema_rs`` (compiled, ~100x faster here) accepts an instance it finds valid; any
    instance it does not accept — or cannot take, such as a string with a lone surrogate — is
    validated again by the Python validator, which decides and words the error. So the
    compiled validator may only ever be *stricter* (:func:`compiled_validator`), and a
    property-based test checks on every schema of the document that it accepts nothing the
    Python one rejects.
    """

    def __init__(self, python: Draft4Validator, schema: dict[str, Any]) -> None:
        self.python = python
        self.compiled = compiled_validator(schema)

    def validate(self, instance: Any) -> None:
        if self.compiled is not None:
            try:
                if self.compiled.is_valid(instance):
                    return
            except (ValueError, TypeError, OverflowError):  # not representable in Rust: Python decides
                pass
        self.python.validate(instance)


def _format_function(name: str) -> Any:
    """``FORMAT_CHECKER.conforms(value, name)``, without its dispatch on every call."""
    check, raises = FORMAT_CHECKER.checkers[name]

    def conforms(value: Any) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False

    return conforms


#: proto number format -> what a compiled validator holds its values to, inside the type's
#: range so the edges are always Python's to decide: decimal strings matching a pattern
#: short enough to fit (jsonschema_rs applies formats to strings only), and numbers within
#: bounds (less a margin for 64-bit types, in case one is compared as a double)
PROTO_NUMBERS: dict[str, dict[str, Any]] = {
    "int32": {"pattern": "^-?[0-9]{1,9}$", "minimum": INTEGER_RANGES["int32"][0],
              "maximum": INTEGER_RANGES["int32"][1]},
    "uint32": {"pattern": "^[0-9]{1,9}$", "minimum": 0, "maximum": INTEGER_RANGES["uint32"][1]},
    "int64": {"pattern": "^-?[0-9]{1,18}$", "minimum": INTEGER_RANGES["int64"][0] + 4096,
              "maximum": INTEGER_RANGES["int64"][1] - 4096},
    "uint64": {"pattern": "^[0-9]{1,19}$", "minimum": 0, "maximum": INTEGER_RANGES["uint64"][1] - 4096},
    "float": {"minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX},
}
#: the other formats the Python validators check, handed to the compiled ones as the same functions
PYTHON_FORMATS = {
    name: _format_function(name) for name in FORMAT_CHECKER.checkers if name not in PROTO_NUMBERS
}


def compiled_validator(schema: dict[str, Any]) -> jsonschema_rs.Draft4Validator | None:
    """The compiled validator for ``schema``, or None when it would not mean what Connexion's does.

    Python's format checks are plugged in (proto number formats as :data:`PROTO_NUMBERS`),
    and a schema using Connexion's ``nullable`` extension, which lets null through types
    and enums, gets none.
    """
    if _uses_nullable(schema):
        return None
    try:
        return jsonschema_rs.Draft4Validator(_bounded(schema), formats=PYTHON_FORMATS, validate_formats=True)
    except (ValueError, jsonschema_rs.ReferencingError):
        return None


def _bounded(schema: Any) -> Any:
    """A copy of ``schema`` whose proto number formats are spelled as :data:`PROTO_NUMBERS`."""
    if isinstance(schema, list):
        return [_bounded(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _bounded(value) for key, value in schema.items()}
    proto_format = out.get("format")
    if isinstance(proto_format, str) and proto_format in PROTO_NUMBERS:
        out = {"allOf": [out, PROTO_NUMBERS[proto_format]]}
    return out


def _uses_nullable(schema: Any) -> bool:
    if isinstance(schema, dict):
        return "nullable" in schema or "x-nullable" in schema or any(map(_uses_nullable, schema.values()))
    if isinstance(schema, list):
        return any(map(_uses_nullable, schema))
    return False


def compiled_body_validator(schema: dict[str, Any]) -> CompiledFirst:
    """One validator per body schema (Connexion's request validator); bodies arrive canonical
    (:mod:`mockserver.proto_json`)."""
    return _cached(_body_validators, schema, _body_validator)


def compiled_parameter_validator(schema: dict[str, Any]) -> CompiledFirst:
    """One validator per parameter schema."""
    return _cached(_param_validators, schema, _parameter_validator)


def _body_validator(schema: dict[str, Any], **kwargs: Any) -> CompiledFirst:
    return CompiledFirst(Draft4RequestValidator(schema, **kwargs), schema)


def _parameter_validator(schema: dict[str, Any], **kwargs: Any) -> CompiledFirst:
    return CompiledFirst(Draft4Validator(schema, **kwargs), schema)


def not_json(detail: str) -> str:
    return f"Invalid JSON payload received: {detail}"


def check_body(validator: CompiledFirst, body: Any, nullable: bool) -> None:
    """Validate a parsed JSON body; a failure names the field and what was wrong with it."""
    if not nullable and body is None:
        raise BadRequestProblem(detail="Invalid JSON payload received: the request body must not be empty")
    try:
        validator.validate(body)
    except ValidationError as exc:
        where = _where(exc)
        field = f" at '{where}'" if where else ""
        path = list(exc.absolute_path)
        if exc.validator == "additionalProperties":
            message = f"Invalid JSON payload received{field}: {exc.message} (unknown field)"
            known = set((exc.schema or {}).get("properties") or ())
            path += [key for key in exc.instance if key not in known][:1]
        else:
            message = f"Invalid JSON payload received{field}: {describe(exc)}"
            if exc.validator == "required":
                path += [name for name in exc.validator_value if name not in exc.instance][:1]
        raise (rejected(message, field_path(path)) if path else rejected(message)) from None


GoogleJSONBodyValidator = json_body_validator(
    compiled=compiled_body_validator,
    decode=decode_json,
    parse_error=not_json,
    normalize=normalize,
    validate=check_body,
    parsed_as_stdlib=parsed_as_stdlib,
)

VALIDATORS = {
    "parameter": GoogleParameterValidator,
    "body": MediaTypeDict({**VALIDATOR_MAP["body"], "*/*json": GoogleJSONBodyValidator}),
}
