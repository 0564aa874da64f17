"""Schema conformance (Schemathesis 4): every operation of spec/openapi.yaml against the target.

Runs Schemathesis' engine with the document shipped in this project (never
the target's own /openapi.json: the contract is ours) and the target's base
URL, through the examples, coverage, fuzzing and stateful
(links from the create operations) phases, with the checks that apply:
server errors, status code / content type / headers / body conformance,
negative data rejected, positive data accepted (404, 400 and 409 are
legitimate answers of a stateful server to generated ids, to bodies missing
fields the API requires but the schema cannot express, and to stale IAM
policy etags; 403 too when the writer may use only its own project, since
generated project ids name other projects), unsupported methods,
use after free, resource availability after create, and ignored auth (only
when the target refuses anonymous callers).

Credentials are never generated: the standard ``key``, ``access_token`` and
``oauth_token`` query parameters are taken out of the document the engine
sees, and security parameters are not generated, so every request carries
exactly the credentials the user gave (the writer's token, or none). A server
rightly refuses credentials it does not know (401), which is no failure of it.

Request bodies are read as Google's proto3 JSON parser reads them (and the
mock does): ``null`` for any field (its default), each field also under its
original proto name (``project_id``), int64 fields as JSON numbers as well as
decimal strings, int32 and double fields as decimal strings as well as numbers,
enums by number as well as by name. The engine sees a request twin of each
component schema that allows all of these, while responses are checked against
the document's canonical forms. Without it, a server accepting ``"end": 5`` or
``"name": null`` would count as accepting invalid data.

Every run reaches a successful create of each resource, whatever the seed: the
document the engine sees carries a valid example body for each create (naming
the run's project, and containers the check makes first), which the examples
phase sends as is, so a create's answer is checked against its response
schema on every run (generated bodies alone rarely name a live container).

The operations are split into a few checks (by resource) plus one for the
stateful phase, so that ``--workers N`` can spread them over processes.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from contracts.client import ContractViolation, expect
from contracts.core import Context, Suite

SUITE = Suite("schema", "Schemathesis: responses match spec/openapi.yaml, bad input is rejected")

#: (examples per operation in fuzzing, stateful steps). The coverage phase is always on: it
#: enumerates boundary values and every optional field deterministically, so a fault that any
#: documented field reaches is found on every run, whatever the seed; fuzzing adds random depth.
SCHEMA_RUNS = {"quick": (4, 10), "deep": (60, 40)}

#: query parameters that carry credentials; generating them would make the target see a caller
#: the user never configured (and rightly answer 401)
CREDENTIAL_PARAMETERS = ("key", "access_token", "oauth_token")

#: operation groups, by the document's tags: one check each (examples, coverage, fuzzing)
GROUPS: dict[str, tuple[str, ...]] = {
    "datasets": ("Dataset",),
    "annotations": ("Annotation", "Annotation Set"),
    "variants": ("Variant Set", "Call Set"),
    "reads_and_references": ("Read Group Set", "Read", "Reference", "Reference Set", "Operation"),
}


def spec_path() -> Path:
    try:
        from mockserver.specfile import openapi_path

        return Path(openapi_path())
    except ImportError:  # contracts installed without the mock: the file next to the package
        return Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"


@cache
def _document_text() -> str:
    return spec_path().read_text(encoding="utf-8")


SCHEMAS = "#/components/schemas/"
#: suffix of the request twin of a component schema (see :func:`lenient_requests`)
REQUEST_TWIN = "__request"
#: unbounded, like the document's int64 strings (a decimal pattern, no range)
INT64 = {"type": "integer"}
#: int32/double fields may be sent as decimal text
DECIMAL_TEXT = {"type": "string", "pattern": "^-?[0-9]+$"}
NUMBER_TEXT = {"type": "string", "pattern": r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$"}


def proto_name(json_name: str) -> str:
    """The original proto field name (snake_case) of a lowerCamelCase JSON name."""
    return "".join("_" + c.lower() if c.isupper() else c for c in json_name)


def _relaxed(node: Any) -> Any:
    """``node`` accepting every proto3 JSON input form (see the module docstring), and
    references to request twins."""
    if isinstance(node, list):
        return [_relaxed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _relaxed(value) for key, value in node.items() if key != "properties"}
    if isinstance(node.get("properties"), dict):
        properties: dict[str, Any] = {}
        for name, value in node["properties"].items():
            field = {**_relaxed(value), "nullable": True}  # null: the field's default
            properties[name] = field
            properties.setdefault(proto_name(name), field)
        out["properties"] = properties
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMAS):
        out["$ref"] = ref + REQUEST_TWIN
    kind = out.get("type")
    if kind == "string" and out.get("format") == "int64":
        out = {"anyOf": [out, dict(INT64)]}
    elif kind == "string" and isinstance(out.get("enum"), list):
        out = {"anyOf": [out, {"type": "integer", "minimum": 0, "maximum": len(out["enum"]) - 1}]}
    elif kind == "integer":
        out = {"anyOf": [out, dict(DECIMAL_TEXT)]}
    elif kind == "number":
        out = {"anyOf": [out, dict(NUMBER_TEXT)]}
    return out


def lenient_requests(document: dict[str, Any]) -> None:
    """Request bodies take every proto3 JSON input form (see the module docstring); response
    schemas stay as the document has them."""
    schemas = document.get("components", {}).get("schemas", {})
    for name in list(schemas):
        schemas[name + REQUEST_TWIN] = _relaxed(schemas[name])
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                for media in operation["requestBody"].get("content", {}).values():
                    media["schema"] = _relaxed(media["schema"])


def contract_document(examples: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document the engine sees: spec/openapi.yaml without the credential parameters, with
    proto3 JSON input (:func:`lenient_requests`) and ``examples`` (``"POST /v1/x"`` -> body)
    as request-body examples. A fresh copy each time: the engine may annotate it."""
    document: dict[str, Any] = yaml.safe_load(_document_text())
    lenient_requests(document)
    for key, body in (examples or {}).items():
        method, path = key.split(" ", 1)
        content = document["paths"][path][method.lower()]["requestBody"]["content"]
        content["application/json"]["example"] = body
    refs = {f"#/components/parameters/{name}" for name in CREDENTIAL_PARAMETERS}

    def keep(parameter: Any) -> bool:
        if not isinstance(parameter, dict):
            return True
        if parameter.get("$ref") in refs:
            return False
        return not (parameter.get("in") == "query" and parameter.get("name") in CREDENTIAL_PARAMETERS)

    for item in document.get("paths", {}).values():
        for value in item.values():
            if isinstance(value, dict) and "parameters" in value:
                value["parameters"] = [p for p in value["parameters"] if keep(p)]
        if "parameters" in item:
            item["parameters"] = [p for p in item["parameters"] if keep(p)]
    for name in CREDENTIAL_PARAMETERS:
        document.get("components", {}).get("parameters", {}).pop(name, None)
    return document


def schemathesis_config(ctx: Context, *, stateful: bool) -> dict[str, Any]:
    """The engine's configuration for one check: the stateful phase alone, or the other three."""
    examples, steps = SCHEMA_RUNS[ctx.target.profile]
    target = ctx.target
    if target.max_examples:  # the toolkit's own tests: a short run
        examples, steps = min(examples, target.max_examples), min(steps, 5)
    accepted: list[str] = ["2XX", "400", "404", "409", *map(str, ctx.project_refusals())]
    config: dict[str, Any] = {
        "base-url": target.base_url,
        "generation": {
            "max-examples": examples,
            "database": "none",
            "with-security-parameters": False,
            # quick: report the first counter-example as found (each shrink step is a request)
            "no-shrink": target.profile == "quick" or not target.shrink,
        },
        "phases": {
            "examples": {"enabled": not stateful},
            "coverage": {"enabled": not stateful},
            "fuzzing": {"enabled": not stateful},
            "stateful": {"enabled": stateful, "max-steps": steps},
        },
        "checks": {
            "enabled": True,
            # a stateful server refuses some schema-valid requests for reasons of state: unknown ids
            # (404), fields required by the API but not by the schema (400), stale etags (409)
            "positive_data_acceptance": {"expected-statuses": accepted},
            "ignored_auth": {"enabled": bool(target.strict_auth)},
            # /v1/<x>/search shares its URL shape with /v1/<x>/{id}: a router answering 405 for
            # PUT .../search rightly lists the methods of both templates in Allow (Google's
            # API has the same overlap), which this check counts as undocumented methods
            "allow_header_conformance": {"enabled": False},
            # the document declares no required header; a missing Authorization header only
            # matters when the target refuses anonymous callers
            "missing_required_header": {"enabled": bool(target.strict_auth)},
        },
        "workers": 1,
        "max-failures": 50,
    }
    if target.writer_token:
        config["headers"] = {"Authorization": f"Bearer {target.writer_token}"}
    if target.seed is not None:
        config["seed"] = target.seed
    return config


def operation_id(operation: Any) -> str:
    try:
        return str(operation.definition.raw["operationId"])
    except (AttributeError, KeyError, TypeError):
        return str(getattr(operation, "label", ""))


#: the name the example bodies give what they create
EXAMPLE_NAME = "contracts-schema-example"


def create_examples(ctx: Context, tags: tuple[str, ...]) -> dict[str, Any]:
    """A valid body for each create of the group, naming containers made here (cleaned up with
    the check's datasets)."""
    examples: dict[str, Any] = {}
    if "Dataset" in tags:
        examples["POST /v1/datasets"] = {"projectId": ctx.project, "name": EXAMPLE_NAME}
    if "Annotation Set" in tags:
        dataset = ctx.new_dataset("schema-annotations")
        annotation_set = ctx.new_annotation_set(dataset)["id"]
        examples["POST /v1/annotationsets"] = {
            "datasetId": dataset,
            "referenceSetId": ctx.reference_set_id,
            "name": EXAMPLE_NAME,
            "type": "GENERIC",
        }
        one = {"annotationSetId": annotation_set, "referenceName": "chr1", "start": "10", "end": "20"}
        examples["POST /v1/annotations"] = one
        examples["POST /v1/annotations:batchCreate"] = {"annotations": [one]}
    if "Variant Set" in tags:
        dataset = ctx.new_dataset("schema-variants")
        made = ctx.writer.post("/v1/variantsets", {"datasetId": dataset})
        variant_set = expect(made, 200, rule="variantsets.create")["id"]
        examples["POST /v1/variantsets"] = {"datasetId": dataset, "name": EXAMPLE_NAME}
        examples["POST /v1/callsets"] = {"variantSetIds": [variant_set], "name": EXAMPLE_NAME}
    return examples


def note_created_datasets(ctx: Context, recorder: Any) -> None:
    """Every dataset the engine created (a 200 to ``POST /v1/datasets``) joins the check's
    clean-up list: generated creates would otherwise pile up in the run's project (and, on a
    foreign server, stay there), and every later list of that project pages through them."""
    for interaction in recorder.interactions.values():
        request, response = interaction.request, interaction.response
        if response is None or response.status_code != 200 or request.method != "POST":
            continue
        if urlsplit(request.uri).path.rstrip("/").endswith("/v1/datasets"):
            try:
                created = json.loads(response.content)
            except ValueError:
                continue
            if isinstance(created, dict) and isinstance(created.get("id"), str):
                ctx.recorder.created_datasets.append(created["id"])


def run_engine(ctx: Context, *, tags: tuple[str, ...] = (), stateful: bool = False) -> None:
    """Run Schemathesis over the operations tagged ``tags`` (all when empty); fail with every
    distinct (operation, check) failure and its curl reproduction."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, events, from_schema

    config = SchemathesisConfig.from_dict(schemathesis_config(ctx, stateful=stateful))
    document = contract_document(create_examples(ctx, tags))
    schema = schemathesis.openapi.from_dict(document, config=config)
    if tags:
        schema = schema.include(tag=list(tags))
    failures: dict[tuple[str, str], tuple[str, str]] = {}
    for event in from_schema(schema).execute():
        if isinstance(event, events.Interrupted):
            raise KeyboardInterrupt  # Schemathesis stopped on Ctrl-C: the whole run stops
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            note_created_datasets(ctx, recorder)
            for case in recorder.cases.values():
                ctx.covers(operation_id(case.value.operation))
            ctx.stats.cases += len(recorder.cases)
            for checks in recorder.checks.values():
                ctx.checked(len(checks))
                for check in checks:
                    if check.status != Status.FAILURE or check.failure_info is None:
                        continue
                    info = check.failure_info
                    failure = info.failure
                    label = event.label or f"stateful {getattr(failure, 'operation', '')}".strip()
                    key = (label, check.name)
                    if key not in failures:
                        steps = "\n".join(step.curl for step in info.steps) or info.code_sample
                        status = getattr(failure, "status_code", None)
                        got = f" (got {status})" if status else ""
                        failures[key] = (f"{failure.title}{got}: {failure.message}".strip(), steps)
            ctx.stats.failures = len(failures)
            ctx.notify()
        elif isinstance(event, events.NonFatalError):
            # the engine could not test an operation (e.g. the connection broke): never a pass
            label = event.label or "schemathesis"
            failures.setdefault((label, "error"), (f"could not be tested: {event.info.message}", ""))
        elif isinstance(event, events.FatalError):
            raise ContractViolation(f"Schemathesis could not run: {event.exception}")
    ctx.stats.operations = {op for op in ctx.stats.operations if op}
    if failures:
        lines = [f"{len(failures)} Schemathesis failure(s) (seed {ctx.target.seed}):"]
        repro: list[str] = []
        for (label, check_name), (message, steps) in sorted(failures.items()):
            lines.append(f"- {label}: {check_name}: {message[:300]}")
            repro.append(f"# {label}: {check_name}\n{steps}")
        error = ContractViolation("\n".join(lines))
        error.reproduction = "\n".join(repro)  # type: ignore[attr-defined]
        raise error


def _group_check(name: str, tags: tuple[str, ...]) -> None:
    def check(ctx: Context) -> None:
        run_engine(ctx, tags=tags)

    check.__name__ = name
    check.__doc__ = f"{', '.join(tags)} operations: examples, coverage and fuzzing; all applicable checks."
    SUITE.check(check)


for _name, _tags in GROUPS.items():
    _group_check(_name, _tags)


@SUITE.check
def stateful_links(ctx: Context) -> None:
    """Every operation, chained through the document's links from each create (stateful phase)."""
    run_engine(ctx, stateful=True)
