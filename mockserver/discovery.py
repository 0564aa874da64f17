"""A Google discovery document generated from our OpenAPI document.

Google's client libraries (``googleapiclient.discovery.build``) build their
method surface from a discovery document. This module derives one from
``spec/openapi.yaml`` — resources from operationIds, parameters, request and
response schemas, scopes — so the real client drives the mock with nothing
but ``discoveryServiceUrl``. ``rootUrl`` is the address the request came to.

The document is a *view* of the OpenAPI document written the way Google writes
discovery documents, because clients check parameters locally against it
(google-api-python-client applies ``required``, ``pattern`` and ``enum`` before
sending anything):

* only path parameters are ``required``; a query parameter the server needs
  says "Required." in its description and the server reports it missing
  (``datasets.list`` without ``projectId`` is the server's 400, not the client's);
* ``pattern`` appears only on resource-name path parameters (``{+resource}``,
  ``{+name}``); the OpenAPI document's patterns (int64 query parameters as
  decimal text) stay server-side checks, so ``start=1000`` (an int) reaches the
  server as ``1000``;
* enum types are written inline and timestamps as ``google-datetime``.

The OpenAPI document keeps its stricter validation; nothing here loosens the server.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

STANDARD_PARAMS = (
    "$.xgafv", "access_token", "alt", "callback", "fields", "key",
    "oauth_token", "prettyPrint", "quotaUser", "uploadType", "upload_protocol",
)  # fmt: skip


#: Methods the real API addresses by a whole resource name (``{+resource}``/``{+name}``)
#: while our OpenAPI document, following the discovery ``flatPath``, names one id.
#: Client code written for the real API calls ``getIamPolicy(resource="datasets/1")``
#: and ``operations().get(name="operations/7")``, so the discovery document we serve
#: speaks that way too. operationId -> (client parameter, prefix of our path it stands for,
#: the same prefix as Google's ``flatPath`` names it, pattern the name must match).
RESOURCE_NAME_METHODS = {
    "genomics.datasets.getIamPolicy": (
        "resource", "datasets/{datasetId}", "datasets/{datasetsId}", "^datasets/[^/]+$"),
    "genomics.datasets.setIamPolicy": (
        "resource", "datasets/{datasetId}", "datasets/{datasetsId}", "^datasets/[^/]+$"),
    "genomics.datasets.testIamPermissions": (
        "resource", "datasets/{datasetId}", "datasets/{datasetsId}", "^datasets/[^/]+$"),
    "genomics.operations.get": (
        "name", "operations/{operationsId}", "operations/{operationsId}", "^operations/.+$"),
    "genomics.operations.cancel": (
        "name", "operations/{operationsId}", "operations/{operationsId}", "^operations/.+$"),
    "genomics.operations.list": ("name", "operations", "operations", "^operations$"),
}  # fmt: skip

#: the OpenAPI formats Google's discovery documents spell their own way
DISCOVERY_FORMATS = {"date-time": "google-datetime"}


def openapi_document(spec: dict[str, Any], root_url: str) -> dict[str, Any]:
    """The OpenAPI document as served at ``/openapi.json`` (Swagger UI reads it): this server
    as its only ``servers`` entry, so "Try it out" calls the mock; private ``x-genomics-mock-*``
    markers left out. ``spec`` is not modified."""
    doc = {k: v for k, v in spec.items() if not k.startswith("x-genomics-mock")}
    doc["servers"] = [{"url": root_url.rstrip("/"), "description": "this genomics-mock server"}]
    return doc


class DiscoveryBuilder:
    """Converts once (cached); :meth:`document` only stamps the root URL."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self._schemas: dict[str, Any] = {}

    def document(self, root_url: str) -> dict[str, Any]:
        doc = copy.deepcopy(self._template())
        doc["rootUrl"] = root_url
        doc["baseUrl"] = root_url
        return doc

    @functools.cache  # noqa: B019 - one builder per app, lives as long as the app
    def _template(self) -> dict[str, Any]:
        info = self.spec.get("info", {})
        resources: dict[str, Any] = {}
        standard: dict[str, Any] = {}
        for path, item in self.spec.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in ("get", "put", "post", "patch", "delete"):
                op = item.get(method)
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                params = [self._deref(p) for p in shared + op.get("parameters", [])]
                for p in params:
                    if p["name"] in STANDARD_PARAMS:
                        standard[p["name"]] = self._parameter(p)
                self._add_method(resources, path, method, op, params)
        for name, schema in self.spec.get("components", {}).get("schemas", {}).items():
            if not _is_enum(schema):  # enums are written inline where they are used
                self._schemas.setdefault(name, self._schema(schema, name))
        scopes = {}
        for scheme in self.spec.get("components", {}).get("securitySchemes", {}).values():
            for flow in (scheme.get("flows") or {}).values():
                for scope, text in (flow.get("scopes") or {}).items():
                    scopes[scope] = {"description": text}
        return {
            "kind": "discovery#restDescription",
            "discoveryVersion": "v1",
            "id": "genomics:v1",
            "name": "genomics",
            "version": "v1",
            "revision": str(info.get("x-revision", "genomics-mock")),
            "title": info.get("title", "Genomics API"),
            "description": (info.get("description") or "").strip(),
            "protocol": "rest",
            "servicePath": "",
            "basePath": "",
            "batchPath": "batch",
            "fullyEncodeReservedExpansion": True,
            "parameters": dict(sorted(standard.items())),
            "auth": {"oauth2": {"scopes": scopes}},
            "schemas": self._schemas,
            "resources": resources,
        }

    def _add_method(self, resources: dict, path: str, method: str, op: dict, params: list[dict]) -> None:
        parts = op["operationId"].split(".")[1:]
        node = resources
        for resource in parts[:-1]:
            node = node.setdefault(resource, {})
            node = node.setdefault("resources", {}) if resource != parts[-2] else node
        holder = node.setdefault("methods", {})
        own = {p["name"]: self._parameter(p) for p in params if p["name"] not in STANDARD_PARAMS}
        flat = path.lstrip("/")
        entry: dict[str, Any] = {
            "id": op["operationId"],
            "path": flat,
            "flatPath": flat,
            "httpMethod": method.upper(),
            "description": (op.get("description") or op.get("summary") or "").strip(),
            "parameters": own,
            "parameterOrder": [n for n, p in own.items() if p.get("location") == "path"],
            "scopes": list(op.get("x-scopes") or []),
        }
        if op["operationId"] in RESOURCE_NAME_METHODS:
            self._use_resource_name(entry, *RESOURCE_NAME_METHODS[op["operationId"]])
        body = self._body_ref(op.get("requestBody"), op["operationId"] + ".request")
        if body:
            entry["request"] = {"$ref": body}
        response = self._body_ref((op.get("responses") or {}).get("200"), op["operationId"] + ".response")
        if response:
            entry["response"] = {"$ref": response}
        holder[parts[-1]] = entry

    @staticmethod
    def _use_resource_name(
        entry: dict[str, Any], name: str, our_prefix: str, flat_prefix: str, pattern: str
    ) -> None:
        """Rewrite ``v1/datasets/{datasetId}:verb`` as ``v1/{+resource}:verb`` (see RESOURCE_NAME_METHODS)."""
        ours = entry["flatPath"]
        entry["path"] = ours.replace(our_prefix, "{+" + name + "}", 1)
        entry["flatPath"] = ours.replace(our_prefix, flat_prefix, 1)
        replaced = [n for n, p in entry["parameters"].items() if p.get("location") == "path"]
        for old in replaced:
            del entry["parameters"][old]
        entry["parameters"] = {
            name: {"type": "string", "location": "path", "required": True, "pattern": pattern},
            **entry["parameters"],
        }
        entry["parameterOrder"] = [name]

    def _body_ref(self, holder: dict | None, synthetic: str) -> str | None:
        if not holder:
            return None
        holder = self._deref(holder)
        schema = ((holder.get("content") or {}).get("application/json") or {}).get("schema")
        if not schema:
            return None
        if "$ref" in schema:
            return schema["$ref"].rsplit("/", 1)[-1]
        if "allOf" in schema and len(schema["allOf"]) == 1 and "$ref" in schema["allOf"][0]:
            return schema["allOf"][0]["$ref"].rsplit("/", 1)[-1]
        name = "".join(part[:1].upper() + part[1:] for part in synthetic.split(".")[1:])
        self._schemas[name] = self._schema(schema, name)
        return name

    def _deref(self, node: dict) -> dict:
        while "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def _parameter(self, p: dict) -> dict[str, Any]:
        """One parameter as Google writes it (see the module docstring: ``required`` on path
        parameters only, no ``pattern`` — resource names get theirs in _use_resource_name)."""
        schema = self._deref(p.get("schema") or {})
        out: dict[str, Any] = {"location": p["in"]}
        if schema.get("type") == "array":
            out["repeated"] = True
            schema = self._deref(schema.get("items") or {})
        out["type"] = schema.get("type", "string")
        for key in ("format", "enum", "default"):
            if key in schema:
                out[key] = schema[key] if key != "default" else str(schema[key]).lower()
        if "format" in out:
            out["format"] = DISCOVERY_FORMATS.get(out["format"], out["format"])
        description = (p.get("description") or "").strip()
        if p.get("required"):
            if p["in"] == "path":
                out["required"] = True
            elif not description.startswith("Required."):
                description = f"Required. {description}".strip()
        if description:
            out["description"] = description
        return out

    def _schema(self, schema: dict, name: str | None = None) -> dict[str, Any]:
        if "$ref" in schema:
            target = self._deref(schema)
            if _is_enum(target):
                return self._schema(target)
            return {"$ref": schema["$ref"].rsplit("/", 1)[-1]}
        if "allOf" in schema and len(schema["allOf"]) == 1:
            merged = self._schema(schema["allOf"][0])
            if schema.get("description"):
                merged["description"] = schema["description"]
            return merged
        out: dict[str, Any] = {}
        if name:
            out["id"] = name
        kind = schema.get("type")
        if kind is None and not schema.get("properties"):
            out["type"] = "any"
        else:
            out["type"] = kind or "object"
        for key in ("description", "format", "enum"):
            if key in schema:
                out[key] = schema[key]
        if "format" in out:
            out["format"] = DISCOVERY_FORMATS.get(out["format"], out["format"])
        if "items" in schema:
            out["items"] = self._schema(schema["items"])
        if schema.get("properties"):
            out["properties"] = {k: self._schema(v) for k, v in schema["properties"].items()}
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            out["additionalProperties"] = self._schema(extra)
        elif extra is True or (kind == "object" and not schema.get("properties") and extra is None):
            out["additionalProperties"] = {"type": "any"}
        if out["type"] == "object" and "properties" not in out and "additionalProperties" not in out:
            out["properties"] = {}  # a message without fields (Empty), as Google writes it
        return out


def _is_enum(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "string" and "enum" in schema and not schema.get("properties")
