"""What the committed spec/openapi.yaml must hold (issue 2): seed operations, supporting
operations, types, standard parameters, responses, security, links, limits, and that
the validator, the fidelity tool and Connexion all accept it."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver import spec_build
from mockserver.backend.paging import PAGE_SIZES
from mockserver.specfile import openapi_path

SEED, COMPLETION, OUT = spec_build.default_paths()
ROOT = OUT.parent.parent
FIDELITY = ROOT.parent / "shared" / "tools" / "spec_fidelity.py"
METHODS = ("get", "put", "post", "delete", "patch")
SCOPE = "https://www.googleapis.com/auth/"
CP, G, RO = SCOPE + "cloud-platform", SCOPE + "genomics", SCOPE + "genomics.readonly"
GCS, BQ = SCOPE + "devstorage.read_write", SCOPE + "bigquery"

SUPPORTING = {
    "genomics.readgroupsets.import": ("post", "/v1/readgroupsets:import"),
    "genomics.operations.get": ("get", "/v1/operations/{operationsId}"),
    "genomics.operations.list": ("get", "/v1/operations"),
    "genomics.operations.cancel": ("post", "/v1/operations/{operationsId}:cancel"),
    "genomics.datasets.getIamPolicy": ("post", "/v1/datasets/{datasetId}:getIamPolicy"),
    "genomics.datasets.setIamPolicy": ("post", "/v1/datasets/{datasetId}:setIamPolicy"),
    "genomics.datasets.testIamPermissions": ("post", "/v1/datasets/{datasetId}:testIamPermissions"),
    "genomics.variantsets.create": ("post", "/v1/variantsets"),
    "genomics.variantsets.get": ("get", "/v1/variantsets/{variantSetId}"),
    "genomics.variantsets.patch": ("patch", "/v1/variantsets/{variantSetId}"),
    "genomics.variantsets.delete": ("delete", "/v1/variantsets/{variantSetId}"),
    "genomics.variantsets.search": ("post", "/v1/variantsets/search"),
    "genomics.referencesets.get": ("get", "/v1/referencesets/{referenceSetId}"),
    "genomics.referencesets.search": ("post", "/v1/referencesets/search"),
    "genomics.references.get": ("get", "/v1/references/{referenceId}"),
    "genomics.references.search": ("post", "/v1/references/search"),
    "genomics.reads.search": ("post", "/v1/reads/search"),
    "genomics.variants.create": ("post", "/v1/variants"),
    "genomics.variants.get": ("get", "/v1/variants/{variantId}"),
    "genomics.variants.patch": ("patch", "/v1/variants/{variantId}"),
    "genomics.variants.delete": ("delete", "/v1/variants/{variantId}"),
    "genomics.variants.search": ("post", "/v1/variants/search"),
    "genomics.variants.import": ("post", "/v1/variants:import"),
    "genomics.variants.merge": ("post", "/v1/variants:merge"),
    "genomics.variantsets.export": ("post", "/v1/variantsets/{variantSetId}:export"),
    "genomics.references.bases.list": ("get", "/v1/references/{referenceId}/bases"),
}
#: every method of the real API (its discovery document has 54)
ALL_METHODS = 54
STANDARD = {"$.xgafv", "access_token", "alt", "callback", "fields", "key", "oauth_token",
            "prettyPrint", "quotaUser", "uploadType", "upload_protocol"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    with open(OUT, encoding="utf-8") as fh:
        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@pytest.fixture(scope="module")
def ops(spec: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {op["operationId"]: (m, path, op) for path, item in spec["paths"].items()
            for m, op in item.items() if m in METHODS}


def deref(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = spec_build.resolve_pointer(spec, node["$ref"])
    return node


# ----------------------------------------------------------------------------- operations

def test_every_seed_operation_is_present_with_seed_method_and_path(ops) -> None:
    seed_ops = spec_build.seed_operations(spec_build.load_seed(SEED), SEED)
    assert len(seed_ops) == 28
    for opid, sop in seed_ops.items():
        assert opid in ops, opid
        method, path, op = ops[opid]
        assert (method, path) == (sop["method"], sop["path"]), opid
        assert op["x-seed"] is True, opid


def test_supporting_operations_are_present_and_flagged(ops) -> None:
    for opid, (method, path) in SUPPORTING.items():
        assert opid in ops, opid
        assert ops[opid][:2] == (method, path), opid
        assert ops[opid][2]["x-seed"] is False, opid
    assert len(ops) == 28 + len(SUPPORTING) == ALL_METHODS


def test_colon_verbs_and_literals_come_before_id_paths(spec) -> None:
    order = list(spec["paths"])
    for i, path in enumerate(order):
        if path.endswith("}"):
            stem = path.rsplit("/", 1)[0]
            for other in order:
                if other.startswith(path + ":") or re.fullmatch(re.escape(stem) + r"/[a-z]+", other):
                    assert order.index(other) < i, (other, path)


# ----------------------------------------------------------------------------- structure

def test_openapi_validator_accepts_it(spec) -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation import OpenAPIV30SpecValidator

    assert spec["openapi"] == "3.0.3"
    validate(spec, cls=OpenAPIV30SpecValidator)


def test_no_dangling_refs(spec) -> None:
    refs = [
        (p, n["$ref"])
        for p, n in spec_build.walk(spec)
        if isinstance(n, dict) and isinstance(n.get("$ref"), str)
    ]
    assert len(refs) > 100
    for pointer, ref in refs:
        assert spec_build.resolve_pointer(spec, ref) is not None, (pointer, ref)


def test_every_parameter_has_a_typed_schema(spec, ops) -> None:
    for path, item in spec["paths"].items():
        params = list(item.get("parameters", []))
        for m in METHODS:
            params += item.get(m, {}).get("parameters", [])
        for p in params:
            p = deref(spec, p)
            assert p["schema"].get("type"), (path, p["name"])
            if p["in"] == "path":
                assert p.get("required") is True, (path, p["name"])
                assert "{" + p["name"] + "}" in path


def test_standard_parameters_on_every_path(spec) -> None:
    for path, item in spec["paths"].items():
        names = {deref(spec, p)["name"] for p in item["parameters"]}
        assert names >= STANDARD, path
    by_name = {p["name"]: p["schema"] for p in spec["components"]["parameters"].values()}
    assert by_name["alt"] == {"type": "string", "enum": ["json", "media", "proto"], "default": "json"}
    assert by_name["$.xgafv"]["enum"] == ["1", "2"]
    assert by_name["prettyPrint"] == {"type": "boolean", "default": True}
    assert by_name["quotaUser"]["maxLength"] == 40


def test_every_operation_has_200_and_google_error_default(spec, ops) -> None:
    for opid, (_m, _p, op) in ops.items():
        ok = op["responses"]["200"]
        assert deref(spec, ok["content"]["application/json"]["schema"]), opid
        err = deref(spec, deref(spec, op["responses"]["default"])["content"]["application/json"]["schema"])
        assert err["required"] == ["error"]
        body = deref(spec, err["properties"]["error"])
        assert set(body["required"]) == {"code", "message", "status"}
        assert body["properties"]["code"]["type"] == "integer"
        assert body["properties"]["details"]["items"]["type"] == "object"


def test_empty_is_an_object_without_properties(spec, ops) -> None:
    empty = spec["components"]["schemas"]["Empty"]
    assert empty["type"] == "object" and empty["properties"] == {}
    schema = ops["genomics.datasets.delete"][2]["responses"]["200"]["content"]["application/json"]["schema"]
    assert deref(spec, schema) is empty


# ----------------------------------------------------------------------------- types

def test_number_encodings(spec) -> None:
    seen = {"int64": 0, "int32": 0}
    for pointer, node in spec_build.walk(spec):  # schemas and query parameters
        if not isinstance(node, dict):
            continue
        if node.get("format") == "int64":
            seen["int64"] += 1
            assert node["type"] == "string" and node["pattern"] == "^-?[0-9]+$", pointer
        if node.get("format") == "int32":
            seen["int32"] += 1
            assert node["type"] == "integer" and "minimum" in node and "maximum" in node, pointer
    assert seen["int64"] >= 21 and seen["int32"] >= 10


def test_messages_are_closed_and_maps_are_open(spec) -> None:
    schemas = spec["components"]["schemas"]
    for name, schema in schemas.items():
        if "enum" in schema or name in ("ErrorResponse", "ErrorDetail"):
            continue
        assert schema["additionalProperties"] is False, name
    assert schemas["Annotation"]["properties"]["info"] == {
        "type": "object", "additionalProperties": {"type": "array", "items": {}}, "description":
        schemas["Annotation"]["properties"]["info"]["description"]}
    for field in ("metadata", "response"):
        assert schemas["Operation"]["properties"][field]["additionalProperties"] == {}
    assert schemas["Status"]["properties"]["details"]["items"]["additionalProperties"] == {}


def test_enums_are_complete(spec) -> None:
    schemas = spec["components"]["schemas"]
    assert schemas["AnnotationType"]["enum"] == [
        "ANNOTATION_TYPE_UNSPECIFIED", "GENERIC", "VARIANT", "GENE", "TRANSCRIPT"]
    assert len(schemas["ClinicalSignificance"]["enum"]) == 14
    assert len(schemas["CigarOperation"]["enum"]) == 10


# ----------------------------------------------------------------------------- limits and bodies

def page_size_schema(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of an operation's pageSize: its query parameter, else its request body's field."""
    for param in op.get("parameters", []):
        param = deref(spec, param)
        if param.get("name") == "pageSize":
            return {**deref(spec, param["schema"]), "description": param.get("description", "")}
    body = deref(spec, op.get("requestBody") or {})
    schema = deref(spec, ((body.get("content") or {}).get("application/json") or {}).get("schema") or {})
    field = (schema.get("properties") or {}).get("pageSize")
    return deref(spec, field) if field else None


@pytest.mark.parametrize("method", list(PAGE_SIZES))
def test_page_size_limits(spec, ops, method: str) -> None:
    """The backend's page-size table (paging.PAGE_SIZES) is what the document states."""
    rule = PAGE_SIZES[method]
    page = page_size_schema(spec, ops[f"genomics.{method}"][2])
    assert page is not None, method
    assert page["minimum"] == 0
    # no documented maximum: only the int32 bound, and the backend caps silently (rule.cap)
    assert page.get("maximum") == (rule.maximum if rule.maximum is not None else 2**31 - 1)
    assert f"default {rule.default}" in page["description"]
    if rule.maximum is not None:
        assert f"at most {rule.maximum}" in page["description"]


def test_every_paged_operation_has_a_page_size_rule(spec, ops) -> None:
    paged = {opid for opid, (_m, _p, op) in ops.items() if page_size_schema(spec, op)}
    assert paged == {f"genomics.{method}" for method in PAGE_SIZES}


def test_required_parameters_and_batch_limit(spec, ops) -> None:
    project = next(p for p in ops["genomics.datasets.list"][2]["parameters"] if p["name"] == "projectId")
    assert project["required"] is True
    batch = spec["components"]["schemas"]["BatchCreateAnnotationsRequest"]["properties"]["annotations"]
    assert batch["maxItems"] == 4096
    # the server, not the schema, names a missing annotationSetId
    assert "required" not in spec["components"]["schemas"]["Annotation"]


def test_optional_bodies_default_to_empty_object(spec, ops) -> None:
    optional = {"genomics.datasets.undelete", "genomics.datasets.getIamPolicy", "genomics.operations.cancel"}
    for opid, (_m, _p, op) in ops.items():
        body = op.get("requestBody")
        if body is None:
            continue
        assert body["required"] is (opid not in optional), opid
        if opid in optional:
            assert deref(spec, body["content"]["application/json"]["schema"])["default"] == {}


# ----------------------------------------------------------------------------- security

def test_scopes_per_operation(spec, ops) -> None:
    flows = spec["components"]["securitySchemes"]["oauth2"]["flows"]
    assert set(next(iter(flows.values()))["scopes"]) == {CP, G, RO, GCS, BQ}
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey", "in": "query", "name": "key",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"]}
    for opid, (method, path, op) in ops.items():
        scopes = op["x-scopes"]
        assert op["security"] == [{"oauth2": [s]} for s in scopes] + [{"apiKey": []}], opid
        is_read = method == "get" or path.endswith("/search")
        admin = opid.split(".")[1] == "operations" or "IamP" in opid
        want = {CP, G} | ({RO} if is_read and not admin else set())
        if opid.split(".", 1)[1] in ("readgroupsets.import", "readgroupsets.export", "variants.import"):
            want |= {GCS}
        if opid == "genomics.variantsets.export":
            want |= {BQ}
        assert set(scopes) == want, opid


# ----------------------------------------------------------------------------- links

def test_creates_link_to_get_update_delete(ops) -> None:
    expected = {
        "genomics.datasets.create": {"get", "patch", "delete", "undelete"},
        "genomics.annotationsets.create": {"get", "update", "delete"},
        "genomics.annotations.create": {"get", "update", "delete"},
        "genomics.callsets.create": {"get", "patch", "delete"},
        "genomics.variantsets.create": {"get", "patch", "delete"},
        "genomics.variants.create": {"get", "patch", "delete"},
    }
    for opid, verbs in expected.items():
        links = ops[opid][2]["responses"]["200"]["links"]
        assert {link["operationId"].rsplit(".", 1)[1] for link in links.values()} == verbs, opid
        for link in links.values():
            target_path = ops[link["operationId"]][1]
            params = re.findall(r"\{([^}]+)\}", target_path)
            assert link["parameters"] == {p: "$response.body#/id" for p in params}


# ----------------------------------------------------------------------------- consumers

def test_fidelity_tool_reports_no_difference() -> None:
    if not FIDELITY.is_file():
        pytest.skip(f"fidelity tool not found at {FIDELITY} (needs the shared workspace)")
    proc = subprocess.run([sys.executable, str(FIDELITY)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(lines) == 1 and lines[0].startswith("fidelity:"), lines
    assert lines[0].endswith("(100.0%), 0 methods missing"), lines[0]


def test_connexion_loads_it_and_applies_its_rules(spec) -> None:
    import connexion
    from connexion.resolver import Resolver
    from starlette.testclient import TestClient

    async def handler(**_kwargs: Any) -> dict[str, Any]:
        return {}

    doc = copy.deepcopy(spec)  # security is the app's business; here only schemas matter
    for item in doc["paths"].values():
        for m in METHODS:
            item.get(m, {}).pop("security", None)
    app = connexion.AsyncApp(__name__)
    app.add_api(doc, strict_validation=True, resolver=Resolver(lambda _name: handler))
    client = TestClient(app)
    assert client.post("/v1/datasets/d1:undelete").status_code == 200  # optional body
    assert client.post("/v1/operations/op1:cancel").status_code == 200
    assert client.get("/v1/datasets", params={"projectId": "p", "alt": "json", "$.xgafv": "2",
                                              "prettyPrint": "false"}).status_code == 200
    assert client.get("/v1/datasets").status_code == 400  # projectId required
    assert client.get("/v1/datasets", params={"projectId": "p", "pageSize": 1025}).status_code == 400
    assert client.post("/v1/datasets", json={"projectId": "p", "bogus": 1}).status_code == 400
    search = {"annotationSetIds": ["s1"]}
    # int64 is a string
    assert client.post("/v1/annotations/search", json={**search, "start": 5}).status_code == 400
    assert client.post("/v1/annotations/search", json={**search, "start": "5"}).status_code == 200
    # fields the API requires are required by the document (request-only messages)
    assert client.post("/v1/annotations/search", json={"start": "5"}).status_code == 400
    assert client.post("/v1/annotations/search", json={"annotationSetIds": []}).status_code == 400
    assert client.post("/v1/variantsets/search", json={"datasetIds": ["a", "b"]}).status_code == 400


def test_specfile_finds_the_checkout_copy() -> None:
    assert openapi_path() == OUT
    assert Path(openapi_path()).is_file()
