"""The served discovery document is the real one's parameter-for-parameter view.

Two tests: one compares every method both documents have with Google's own discovery
document (when the maintainers' reference bundle is present), the other, always on, pins
what google-api-python-client relies on when it checks a call locally.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mockserver.app import load_spec
from mockserver.discovery import DiscoveryBuilder

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "genomics-v1-discovery.json"
#: what a parameter is, to a client that checks calls locally
PARAMETER_KEYS = ("location", "type", "format", "required", "repeated", "enum", "pattern")
METHOD_KEYS = ("path", "flatPath", "httpMethod", "parameterOrder", "request", "response")


@pytest.fixture(scope="module")
def served() -> dict[str, Any]:
    return DiscoveryBuilder(load_spec()).document("http://127.0.0.1:8080/")


def methods(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for resource in doc.get("resources", {}).values():
        for method in resource.get("methods", {}).values():
            found[method["id"]] = method
        found.update(methods(resource))
    return found


def parameter_view(parameters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: {k: p[k] for k in PARAMETER_KEYS if k in p} for name, p in parameters.items()}


def test_every_shared_method_matches_the_real_document(served):
    if not REFERENCE.is_file():
        pytest.skip("the real discovery document (reference bundle) is not present")
    real = json.loads(REFERENCE.read_text(encoding="utf-8"))
    ours, theirs = methods(served), methods(real)
    assert set(ours) <= set(theirs), "methods the real API does not have"
    shared = sorted(set(ours) & set(theirs))
    assert len(shared) >= 40
    for method_id in shared:
        mine, real_method = ours[method_id], theirs[method_id]
        real_parameters = real_method.get("parameters", {})
        assert parameter_view(mine["parameters"]) == parameter_view(real_parameters), method_id
        for key in METHOD_KEYS:
            assert mine.get(key) == real_method.get(key), (method_id, key)
        assert sorted(mine["scopes"]) == sorted(real_method["scopes"]), method_id
    assert parameter_view(served["parameters"]) == parameter_view(real["parameters"])
    for key in ("batchPath", "servicePath", "basePath", "protocol", "fullyEncodeReservedExpansion", "id"):
        assert served[key] == real[key], key
    for name in set(served["schemas"]) & set(real["schemas"]):
        assert schema_view(served["schemas"][name]) == schema_view(real["schemas"][name]), name


def schema_view(schema: dict[str, Any]) -> Any:
    """Types, formats, enums and references of a schema, recursively (no prose)."""
    out = {k: schema[k] for k in ("type", "format", "enum", "$ref") if k in schema}
    for key in ("items", "additionalProperties"):
        if key in schema:
            out[key] = schema_view(schema[key])
    if "properties" in schema:
        out["properties"] = {name: schema_view(value) for name, value in schema["properties"].items()}
    return out


def test_what_the_python_client_checks_locally(served):
    """Always on: the properties google-api-python-client applies before sending a call."""
    all_methods = methods(served)
    for method_id, method in all_methods.items():
        for name, parameter in method["parameters"].items():
            # the client refuses a call missing a required parameter: only path parameters are
            if parameter.get("required"):
                assert parameter["location"] == "path", (method_id, name)
            # the client matches every value against a pattern: only resource names have one
            if "pattern" in parameter:
                assert method["path"].count("{+" + name + "}") == 1, (method_id, name)
        assert method["parameterOrder"] == [
            n for n, p in method["parameters"].items() if p["location"] == "path"
        ], method_id
    coverage = all_methods["genomics.readgroupsets.coveragebuckets.list"]["parameters"]
    for name in ("start", "end", "targetBucketWidth"):
        assert coverage[name] == {**coverage[name], "type": "string", "format": "int64"}
        assert "pattern" not in coverage[name]
    project = all_methods["genomics.datasets.list"]["parameters"]["projectId"]
    assert "required" not in project and project["description"].startswith("Required.")
    get_policy = all_methods["genomics.datasets.getIamPolicy"]
    assert get_policy["path"] == "v1/{+resource}:getIamPolicy"
    assert get_policy["flatPath"] == "v1/datasets/{datasetsId}:getIamPolicy"
    assert get_policy["parameters"]["resource"]["pattern"] == "^datasets/[^/]+$"
    assert served["batchPath"] == "batch" and served["servicePath"] == ""
    annotation_type = served["schemas"]["Annotation"]["properties"]["type"]
    assert annotation_type["type"] == "string" and "GENE" in annotation_type["enum"]
    assert served["schemas"]["Dataset"]["properties"]["createTime"]["format"] == "google-datetime"


def test_the_server_still_checks_what_the_document_leaves_to_it(client):
    """The view loosens the client, never the server: projectId is still required there, and an
    int64 query parameter must still be decimal text."""
    missing = client.get("/v1/datasets")
    assert missing.status_code == 400 and "projectId" in missing.json()["error"]["message"]
    bad = client.get("/v1/readgroupsets/x/coveragebuckets", params={"start": "1.5"})
    assert bad.status_code == 400 and "start" in bad.json()["error"]["message"]
