"""Schema conformance (Schemathesis 4): every operation of spec/openapi.yaml against the target.

Runs Schemathesis' engine with the document shipped in this project (never
the target's own /openapi.json: the contract is ours) and the target's base
URL, through the examples, coverage, fuzzing and stateful
(links from the create operations) phases, with the checks that apply:
server errors, status code / content type / headers / body conformance,
negative data rejected, positive data accepted (404, 400 and 409 are
legitimate answers of a stateful server to generated ids, to bodies missing
fields the API requires but the schema cannot express, and to stale IAM
policy etags), unsupported methods,
use after free, resource availability after create, and ignored auth (only
when the target refuses anonymous callers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.client import ContractViolation
from contracts.core import Context, Suite

SUITE = Suite("schema", "Schemathesis: responses match spec/openapi.yaml, bad input is rejected")

#: (examples per operation in fuzzing, stateful steps). The coverage phase is always on: it
#: enumerates boundary values and every optional field deterministically, so a fault that any
#: documented field reaches is found on every run, whatever the seed; fuzzing adds random depth.
SCHEMA_RUNS = {"quick": (4, 10), "deep": (60, 40)}


def spec_path() -> Path:
    try:
        from mockserver.specfile import openapi_path

        return Path(openapi_path())
    except ImportError:  # contracts installed without the mock: the file next to the package
        return Path(__file__).resolve().parent.parent / "spec" / "openapi.yaml"


def schemathesis_config(ctx: Context) -> dict[str, Any]:
    examples, steps = SCHEMA_RUNS[ctx.target.profile]
    target = ctx.target
    if target.max_examples:  # the toolkit's own tests: a short run
        examples, steps = min(examples, target.max_examples), min(steps, 5)
    config: dict[str, Any] = {
        "base-url": target.base_url,
        "generation": {"max-examples": examples, "database": "none"},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True, "max-steps": steps},
        },
        "checks": {
            "enabled": True,
            # a stateful server refuses some schema-valid requests for reasons of state: unknown ids
            # (404), fields required by the API but not by the schema (400), stale etags (409)
            "positive_data_acceptance": {"expected-statuses": ["2XX", "400", "404", "409"]},
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


@SUITE.check
def schemathesis_run(ctx: Context) -> None:
    """Every operation: examples, coverage, fuzzing, stateful links; all applicable checks."""
    import schemathesis
    from schemathesis.config import SchemathesisConfig
    from schemathesis.engine import Status, events, from_schema

    config = SchemathesisConfig.from_dict(schemathesis_config(ctx))
    schema = schemathesis.openapi.from_path(str(spec_path()), config=config)
    failures: dict[tuple[str, str], tuple[str, str]] = {}
    seed: int | None = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.EngineStarted):
            seed = getattr(config, "seed", None)
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
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
        elif isinstance(event, events.FatalError):
            raise ContractViolation(f"Schemathesis could not run: {event.exception}")
    ctx.stats.operations = {op for op in ctx.stats.operations if op}
    if failures:
        lines = [f"{len(failures)} Schemathesis failure(s) (seed {seed}):"]
        repro: list[str] = []
        for (label, check_name), (message, steps) in sorted(failures.items()):
            lines.append(f"- {label}: {check_name}: {message[:300]}")
            repro.append(f"# {label}: {check_name}\n{steps}")
        error = ContractViolation("\n".join(lines))
        error.reproduction = "\n".join(repro)  # type: ignore[attr-defined]
        raise error
