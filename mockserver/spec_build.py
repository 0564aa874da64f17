"""Build and check spec/openapi.yaml from the seed Swagger file plus our completion data.

The seed (spec/genomics-v1.swagger.yaml, verbatim from upstream) fixes each operation's
operationId, HTTP method, path and parameter names, but has no types or bodies. The
completion files (spec/completion/*.yaml, authored by us) add everything else. This module
merges the two into one OpenAPI 3.0.3 document, validates it and writes it atomically, so
a failed build never damages the committed file.

Completion file format (every file is a mapping; all keys optional):

``document``
    Top-level pieces copied as-is: ``info``, ``servers``, ``tags``, ``parameters``
    (the standard query parameters, referenced from every path), ``responses``,
    ``securitySchemes``. Only one file may carry it.
``scopes``
    Short scope name -> ``{url, description}``; ``scope_sets`` names lists of short names.
``enums``
    Name -> ``{description, values}``: a string enum schema.
``schemas``
    Name -> ``{description, fields, required?, default?, open?}``. ``fields`` maps a JSON
    field name to a type expression (``"int64 | what it means"``) or a mapping with a
    ``type`` expression plus extra JSON-schema keywords. Message schemas are closed
    (``additionalProperties: false``) unless ``open: true``.
``operations``
    operationId -> ``{summary?, description, method?, path?, tag?, scopes, parameters?,
    request?, response, links?}``. Seed operations take method/path/tag from the seed;
    supporting operations must give them and are marked ``x-seed: false``. ``scopes``
    lists scope names or scope sets (emitted as ``x-scopes`` and one security requirement
    per scope, plus the API key); ``links`` lists target operationIds, each fed the
    created resource's ``id`` for every path parameter (Schemathesis' stateful phase).

Type expressions: ``string bool integer int32 int64 float double datetime bytes fieldmask info
anymap`` ``[T]`` (array) ``{T}`` (map of T) or the name of a schema/enum.
"""

from __future__ import annotations

import copy
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "patch")
INT64_PATTERN = "^-?[0-9]+$"
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
YAML_WIDTH = 100
# libyaml parses ~8x faster; parsing is identical, so it is safe to use when present.
# Output always goes through the pure-Python dumper so bytes never depend on libyaml.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

SCALARS: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "bool": {"type": "boolean"},
    "integer": {"type": "integer"},
    "int32": {"type": "integer", "format": "int32", "minimum": INT32_MIN, "maximum": INT32_MAX},
    "int64": {"type": "string", "format": "int64", "pattern": INT64_PATTERN},
    "float": {"type": "number", "format": "float"},
    "double": {"type": "number", "format": "double"},
    "datetime": {"type": "string", "format": "date-time"},
    "bytes": {"type": "string", "format": "byte"},
    "fieldmask": {"type": "string", "format": "google-fieldmask"},
    "info": {"type": "object", "additionalProperties": {"type": "array", "items": {}}},
    "anymap": {"type": "object", "additionalProperties": {}},
}
OPERATION_KEYS = {"summary", "description", "method", "path", "tag", "scopes", "parameters",
                  "request", "response", "links"}
FILE_KEYS = {"document", "scopes", "scope_sets", "enums", "schemas", "operations"}
PATH_PARAM = re.compile(r"\{([^}]+)\}")


class SpecError(Exception):
    """A build or check failure; the message names the file and the operation or pointer."""

    def __init__(self, where: str | os.PathLike[str], what: str) -> None:
        super().__init__(f"{where}: {what}".replace("\n", " "))


# --------------------------------------------------------------------------- paths / io

SEED_NAME = "genomics-v1.swagger.yaml"


def project_root() -> Path:
    """The source checkout: the one holding this package, else the current directory.

    The fallback lets ``genomics-mock spec build`` work from a non-editable install
    (e.g. tox) when run in the project root.
    """
    here = Path(__file__).resolve().parent.parent
    if (here / "spec" / SEED_NAME).is_file():
        return here
    cwd = Path.cwd()
    if (cwd / "spec" / SEED_NAME).is_file():
        return cwd
    return here


def default_paths() -> tuple[Path, Path, Path]:
    root = project_root() / "spec"
    return root / SEED_NAME, root / "completion", root / "openapi.yaml"


def load_seed(seed: Path) -> dict[str, Any]:
    """First document of the seed stream (its trailing ``---`` opens an empty second one)."""
    try:
        text = Path(seed).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(seed, f"cannot read seed: {exc.strerror or exc}") from exc
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        raise SpecError(seed, f"seed is not valid YAML: {_yaml_problem(exc)}") from exc
    if not docs or not isinstance(docs[0], dict) or not isinstance(docs[0].get("paths"), dict):
        raise SpecError(seed, "seed has no Swagger document with a 'paths' mapping")
    return docs[0]


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)


def load_completion(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    directory = Path(directory)
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    if not files:
        raise SpecError(directory, "no completion files (*.yaml) found")
    out = []
    for f in files:
        try:
            data = yaml.load(f.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as exc:
            raise SpecError(f, f"not valid YAML: {_yaml_problem(exc)}") from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SpecError(f, "a completion file must be a mapping")
        unknown = sorted(set(data) - FILE_KEYS)
        if unknown:
            raise SpecError(f, f"unknown top-level key(s) {unknown}")
        out.append((f, data))
    return out


def dump(spec: Mapping[str, Any]) -> str:
    """Deterministic YAML: insertion order kept, fixed width, no aliases."""

    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    buf = io.StringIO()
    yaml.dump(spec, buf, Dumper=_NoAliases, sort_keys=False, width=YAML_WIDTH,
              allow_unicode=True, default_flow_style=False)
    return buf.getvalue()


def write_atomic(out: Path, text: str) -> None:
    """Write next to ``out`` then rename, so readers never see a half-written file."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, out.stat().st_mode & 0o7777 if out.exists() else 0o644)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- types

class Schemas:
    """Expands type expressions; knows every schema/enum name for $ref checks."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def expand(self, expr: Any, where: str) -> dict[str, Any]:
        if isinstance(expr, dict):
            if "type" not in expr:
                raise SpecError(where, "a field mapping needs a 'type' expression")
            extra = {k: copy.deepcopy(v) for k, v in expr.items() if k != "type"}
            base = self.expand(expr["type"], where)
            if "$ref" in base:
                extra.pop("description", None)  # siblings of $ref are ignored in 3.0
                if extra:
                    return {"allOf": [base], **extra}
                return base
            base.update(extra)
            return base
        if not isinstance(expr, str):
            raise SpecError(where, f"type expression must be a string, got {expr!r}")
        text, _, desc = expr.partition(" | ")
        text = text.strip()
        schema = self._type(text, where)
        if desc.strip() and "$ref" not in schema:
            schema["description"] = desc.strip()
        return schema

    def _type(self, text: str, where: str) -> dict[str, Any]:
        if text.startswith("[") and text.endswith("]"):
            return {"type": "array", "items": self._type(text[1:-1].strip(), where)}
        if text.startswith("{") and text.endswith("}"):
            return {"type": "object", "additionalProperties": self._type(text[1:-1].strip(), where)}
        if text in SCALARS:
            return copy.deepcopy(SCALARS[text])
        if text in self.names:
            return {"$ref": f"#/components/schemas/{text}"}
        raise SpecError(where, f"unknown schema or type {text!r}")


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def build_schemas(files: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    origin: dict[str, Path] = {}
    for f, data in files:
        for section in ("enums", "schemas"):
            for name in data.get(section) or {}:
                if name in origin:
                    raise SpecError(f, f"schema {name!r} is also defined in {origin[name]}")
                origin[name] = f
    types = Schemas(set(origin))
    out: dict[str, Any] = {}
    for f, data in files:
        for name, enum in (data.get("enums") or {}).items():
            if not isinstance(enum, dict) or not isinstance(enum.get("values"), list):
                raise SpecError(f, f"{_pointer('enums', name)}: an enum needs a 'values' list")
            schema: dict[str, Any] = {"type": "string"}
            if enum.get("description"):
                schema["description"] = enum["description"].strip()
            schema["enum"] = [str(v) for v in enum["values"]]
            out[name] = schema
        for name, spec in (data.get("schemas") or {}).items():
            out[name] = _message(types, f, name, spec)
    return {k: out[k] for k in sorted(out)}


def _message(types: Schemas, f: Path, name: str, spec: Any) -> dict[str, Any]:
    where = f"{f}: {_pointer('schemas', name)}"
    if not isinstance(spec, dict):
        raise SpecError(where, "a schema must be a mapping")
    unknown = sorted(set(spec) - {"description", "fields", "required", "default", "open"})
    if unknown:
        raise SpecError(where, f"unknown key(s) {unknown}")
    schema: dict[str, Any] = {"type": "object"}
    if spec.get("description"):
        schema["description"] = spec["description"].strip()
    fields = spec.get("fields") or {}
    schema["properties"] = {
        field: types.expand(expr, f"{where}/fields/{field}") for field, expr in fields.items()
    }
    for req in spec.get("required") or []:
        if req not in fields:
            raise SpecError(where, f"required field {req!r} is not among its fields")
    if spec.get("required"):
        schema["required"] = list(spec["required"])
    if not spec.get("open"):
        schema["additionalProperties"] = False
    if "default" in spec:
        schema["default"] = copy.deepcopy(spec["default"])
    return schema


# --------------------------------------------------------------------------- operations

def seed_operations(seed: dict[str, Any], seed_path: Path) -> dict[str, dict[str, Any]]:
    ops: dict[str, dict[str, Any]] = {}
    for path, item in seed["paths"].items():
        if not isinstance(item, dict):
            raise SpecError(seed_path, f"{_pointer('paths', path)} is not a mapping")
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            opid = (op or {}).get("operationId")
            if not opid:
                raise SpecError(seed_path, f"{_pointer('paths', path, method)} has no operationId")
            params = op.get("parameters") or []
            ops[opid] = {
                "method": method,
                "path": path,
                "summary": op.get("summary"),
                "tag": (op.get("tags") or [None])[0],
                "params": [(p.get("name"), p.get("in")) for p in params if p.get("in") != "body"],
                "body": any(p.get("in") == "body" for p in params),
            }
    return ops


def _scope_urls(entry: Any, scopes: dict[str, Any], sets: dict[str, list[str]], where: str) -> list[str]:
    if isinstance(entry, str):
        entry = [entry]
    if not isinstance(entry, list) or not entry:
        raise SpecError(where, "'scopes' must name at least one scope or scope set")
    urls: list[str] = []
    for name in entry:
        for short in sets.get(name, [name]):
            if short not in scopes:
                raise SpecError(where, f"unknown scope {short!r}")
            if scopes[short]["url"] not in urls:
                urls.append(scopes[short]["url"])
    return urls


def _parameter(types: Schemas, name: str, spec: Any, path: str, where: str) -> dict[str, Any]:
    in_path = name in PATH_PARAM.findall(path)
    if isinstance(spec, str):
        text, _, desc = spec.partition(" | ")
        spec = {"type": text.strip(), "description": desc.strip()}
    if not isinstance(spec, dict) or "type" not in spec:
        raise SpecError(where, f"parameter {name!r} needs a type")
    spec = dict(spec)
    location = spec.pop("in", "path" if in_path else "query")
    required = spec.pop("required", location == "path")
    description = spec.pop("description", None)
    param: dict[str, Any] = {"name": name, "in": location}
    if description:
        param["description"] = description.strip()
    if required:
        param["required"] = True
    param["schema"] = types.expand(spec, f"{where}/parameters/{name}")
    return param


def build_operation(
    opid: str, comp: dict[str, Any], seed_op: dict[str, Any] | None, f: Path,
    types: Schemas, scopes: dict[str, Any], sets: dict[str, list[str]],
) -> tuple[str, str, dict[str, Any]]:
    where = f"{f}: operation {opid}"
    if not isinstance(comp, dict):
        raise SpecError(where, "must be a mapping")
    unknown = sorted(set(comp) - OPERATION_KEYS)
    if unknown:
        raise SpecError(where, f"unknown key(s) {unknown}")
    if seed_op is not None:
        method, path = seed_op["method"], seed_op["path"]
        for key, want in (("method", method), ("path", path)):
            if key in comp and str(comp[key]).lower() != str(want).lower():
                raise SpecError(where, f"{key} {comp[key]!r} differs from the seed's {want!r}")
        tag = comp.get("tag") or seed_op["tag"]
        summary = comp.get("summary") or seed_op["summary"]
    else:
        if "method" not in comp or "path" not in comp:
            raise SpecError(where, "a supporting (non-seed) operation needs 'method' and 'path'")
        method, path = str(comp["method"]).lower(), str(comp["path"])
        if method not in HTTP_METHODS:
            raise SpecError(where, f"unknown HTTP method {method!r}")
        tag, summary = comp.get("tag"), comp.get("summary")
    if not comp.get("description"):
        raise SpecError(where, "needs a description")
    if "response" not in comp:
        raise SpecError(where, "needs a response schema")

    params_in = comp.get("parameters") or {}
    if seed_op is not None:
        for pname, _loc in seed_op["params"]:
            if pname not in params_in:
                raise SpecError(where, f"seed parameter {pname!r} has no type in the completion")
        if seed_op["body"] and "request" not in comp:
            raise SpecError(where, "the seed has a request body but the completion gives no 'request'")
    for pname in PATH_PARAM.findall(path):
        if pname not in params_in:
            raise SpecError(where, f"path parameter {pname!r} has no type in the completion")
    parameters = [_parameter(types, n, s, path, where) for n, s in params_in.items()]

    op: dict[str, Any] = {}
    if tag:
        op["tags"] = [tag]
    if summary:
        op["summary"] = summary
    op["description"] = comp["description"].strip()
    op["operationId"] = opid
    op["x-seed"] = seed_op is not None
    urls = _scope_urls(comp.get("scopes"), scopes, sets, where)
    op["x-scopes"] = urls
    if parameters:
        op["parameters"] = parameters
    if "request" in comp:
        req = comp["request"]
        req = {"schema": req} if isinstance(req, str) else dict(req)
        body: dict[str, Any] = {}
        if req.get("description"):
            body["description"] = req["description"].strip()
        body["content"] = {"application/json": {
            "schema": types.expand(req["schema"], f"{where}/request")}}
        body["required"] = bool(req.get("required", True))
        op["requestBody"] = body
    ok: dict[str, Any] = {
        "description": "Success.",
        "content": {"application/json": {"schema": types.expand(comp["response"], f"{where}/response")}},
    }
    if comp.get("links"):
        ok["links"] = {str(target): {"operationId": str(target)} for target in comp["links"]}
    op["responses"] = {"200": ok, "default": {"$ref": "#/components/responses/Error"}}
    op["security"] = [{"oauth2": [u]} for u in urls] + [{"apiKey": []}]
    return method, path, op


def _fill_links(paths: dict[str, Any], where_of: dict[str, str]) -> None:
    """Give each link every path parameter of its target, taken from the created resource's id."""
    by_id = {op["operationId"]: path for path, item in paths.items()
             for m, op in item.items() if m in HTTP_METHODS}
    for item in paths.values():
        for m, op in item.items():
            if m not in HTTP_METHODS:
                continue
            for link in (op["responses"]["200"].get("links") or {}).values():
                target = link["operationId"]
                if target not in by_id:
                    raise SpecError(where_of[op["operationId"]],
                                    f"link to unknown operation {target!r}")
                link["parameters"] = {p: "$response.body#/id" for p in PATH_PARAM.findall(by_id[target])}


def path_sort_key(path: str) -> tuple[str, int, str]:
    """Collection, then: /x, /x:verb, /x/literal, /x/{id}:verb, /x/{id}/sub, /x/{id}.

    Starlette routes in document order, so colon verbs must precede the bare ``{id}``
    route (else ``GET /x/1:verb`` reaches the get of id ``1:verb``; see
    :mod:`mockserver.routing`) and literal segments (``/search``) precede ``{id}``.
    """
    parts = path.strip("/").split("/")
    collection = parts[1].split(":")[0] if len(parts) > 1 else ""
    rest = parts[2:]
    if not rest:
        rank = 1 if ":" in parts[1] else 0
    elif not rest[0].startswith("{"):
        rank = 2
    elif len(rest) == 1 and ":" in rest[0]:
        rank = 3
    elif len(rest) > 1:
        rank = 4
    else:
        rank = 5
    return collection, rank, path


# --------------------------------------------------------------------------- document

def assemble(seed_path: Path, completion_dir: Path) -> dict[str, Any]:
    seed = load_seed(seed_path)
    files = load_completion(completion_dir)
    seed_ops = seed_operations(seed, seed_path)

    document: dict[str, Any] | None = None
    scopes: dict[str, Any] = {}
    sets: dict[str, list[str]] = {}
    completion: dict[str, tuple[Path, Any]] = {}
    for f, data in files:
        if "document" in data:
            if document is not None:
                raise SpecError(f, "'document' is given by more than one completion file")
            document = data["document"]
        scopes.update(data.get("scopes") or {})
        sets.update(data.get("scope_sets") or {})
        for opid, comp in (data.get("operations") or {}).items():
            if opid in completion:
                raise SpecError(f, f"operation {opid} is also completed in {completion[opid][0]}")
            completion[opid] = (f, comp)
    if document is None:
        raise SpecError(completion_dir, "no completion file carries the 'document' section")
    for opid, sop in seed_ops.items():
        if opid not in completion:
            raise SpecError(completion_dir, f"seed operation {opid} ({sop['method'].upper()} "
                                            f"{sop['path']}) has no completion")

    schemas = build_schemas(files)
    types = Schemas(set(schemas))
    paths: dict[str, dict[str, Any]] = {}
    where_of: dict[str, str] = {}
    for opid in sorted(completion):
        f, comp = completion[opid]
        method, path, op = build_operation(opid, comp, seed_ops.get(opid), f, types, scopes, sets)
        item = paths.setdefault(path, {})
        if method in item:
            raise SpecError(f, f"operation {opid}: {method.upper()} {path} is already "
                               f"taken by {item[method]['operationId']}")
        item[method] = op
        where_of[opid] = f"{f}: operation {opid}"
    _fill_links(paths, where_of)

    std = sorted(document.get("parameters") or {})
    ordered: dict[str, Any] = {}
    for path in sorted(paths, key=path_sort_key):
        entry: dict[str, Any] = {"parameters": [{"$ref": f"#/components/parameters/{p}"} for p in std]}
        for m in HTTP_METHODS:
            if m in paths[path]:
                entry[m] = paths[path][m]
        ordered[path] = entry

    security_schemes = copy.deepcopy(document.get("securitySchemes") or {})
    oauth = security_schemes.get("oauth2")
    if oauth:
        for flow in (oauth.get("flows") or {}).values():
            flow["scopes"] = {s["url"]: s["description"] for s in scopes.values()}
    return {
        "openapi": "3.0.3",
        "info": copy.deepcopy(document.get("info") or {}),
        "servers": copy.deepcopy(document.get("servers") or []),
        "tags": copy.deepcopy(document.get("tags") or []),
        "paths": ordered,
        "components": {
            "schemas": schemas,
            "parameters": copy.deepcopy(document.get("parameters") or {}),
            "responses": copy.deepcopy(document.get("responses") or {}),
            "securitySchemes": security_schemes,
        },
    }


# --------------------------------------------------------------------------- validation

def walk(node: Any, pointer: str = "#") -> Iterator[tuple[str, Any]]:
    """Every node of a document with its JSON pointer."""
    yield pointer, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{pointer}/{str(k).replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{pointer}/{i}")


def resolve_pointer(spec: Mapping[str, Any], ref: str) -> Any:
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def validate(spec: dict[str, Any], where: str | os.PathLike[str]) -> None:
    """openapi-spec-validator (forced to 3.0) plus our own rules; first problem wins."""
    for pointer, node in walk(spec):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/") or resolve_pointer(spec, ref) is None:
                raise SpecError(where, f"{pointer}: dangling $ref {ref!r}")
    for path, item in spec.get("paths", {}).items():
        for m, op in item.items():
            if m not in HTTP_METHODS:
                continue
            for i, p in enumerate(op.get("parameters") or []):
                if "$ref" in p:
                    continue
                schema = p.get("schema") or {}
                if "type" not in schema:
                    raise SpecError(where, f"{_pointer('paths', path, m, 'parameters', str(i))}: "
                                           f"parameter {p.get('name')!r} has no schema type")
    from openapi_spec_validator import validate as osv_validate
    from openapi_spec_validator.validation import OpenAPIV30SpecValidator

    try:
        osv_validate(spec, cls=OpenAPIV30SpecValidator)
    except Exception as exc:  # the validator raises several unrelated classes
        path = getattr(exc, "path", None) or getattr(exc, "absolute_path", None) or []
        pointer = _pointer(*[str(p) for p in path]) if path else "#"
        msg = getattr(exc, "message", None) or str(exc).splitlines()[0]
        raise SpecError(where, f"{pointer}: OpenAPI 3.0 validation failed: {msg}") from exc


# --------------------------------------------------------------------------- entry points

def render(seed: Path, completion_dir: Path, out: Path | None = None, *, validated: bool = True) -> str:
    """The merged document as YAML text (validated unless ``validated=False``)."""
    spec = assemble(Path(seed), Path(completion_dir))
    if validated:
        validate(spec, out or completion_dir)
    return dump(spec)


def build(seed: Path, completion_dir: Path, out: Path) -> None:
    """Write the merged document to ``out``; raise SpecError and leave ``out`` untouched on failure."""
    text = render(seed, completion_dir, out)
    write_atomic(Path(out), text)


def check(seed: Path, completion_dir: Path, out: Path) -> None:
    """Raise SpecError when ``out`` is missing, invalid or differs from a fresh build."""
    out = Path(out)
    try:
        current = out.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(out, f"cannot read: {exc.strerror or exc}") from exc
    try:
        committed = yaml.load(current, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise SpecError(out, f"not valid YAML: {_yaml_problem(exc)}") from exc
    if not isinstance(committed, dict):
        raise SpecError(out, "not an OpenAPI document")
    fresh = render(seed, completion_dir, out, validated=False)
    validate(committed, out)  # identical text => this also validates the fresh build
    if fresh != current:
        raise SpecError(out, "stale: differs from a fresh build (run `genomics-mock spec build`)")


def run(action: str, paths: tuple[Path, Path, Path] | None = None) -> int:
    """Run ``build`` or ``check`` on (seed, completion dir, output); print one line; exit code."""
    seed, completion_dir, out = paths or default_paths()
    if not seed.exists() and not completion_dir.exists():
        print(f"spec {action}: error: {seed.parent}: not a source checkout (no seed or completion data)",
              file=sys.stderr)
        return 2
    try:
        (build if action == "build" else check)(seed, completion_dir, out)
    except SpecError as exc:
        print(f"spec {action}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"spec {action}: error: {out}: {exc}", file=sys.stderr)
        return 1
    print(f"spec {action}: ok: {out}")
    return 0


def main_build() -> int:
    """``genomics-mock spec build``: regenerate spec/openapi.yaml; 0 on success."""
    return run("build")


def main_check() -> int:
    """``genomics-mock spec check``: fail when spec/openapi.yaml is stale or invalid."""
    return run("check")
