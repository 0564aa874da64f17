"""The compiled plans (mockserver/plans.py) answer exactly as Connexion's chain does.

Two apps on identical backends (same ids, clock and page-token secret), one answering
through the plans and one through Connexion's middleware chain, get the same requests —
a corpus of every kind of failure, then generated ones — and must answer byte for byte
the same: status, headers and body. The steps a plan compiles are checked against the
Connexion functions they stand for.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from connexion.decorators.parameter import get_arguments
from connexion.lifecycle import ConnexionRequest
from connexion.resolver import Resolver
from connexion.utils import extract_content_type
from connexion.validators import AbstractRequestBodyValidator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.requests import Request as StarletteRequest
from starlette.testclient import TestClient

from mockserver.app import connexion_document, create_app, load_spec
from mockserver.backend import DEFAULT_OWNER, Backend
from mockserver.backend.clock import FakeClock
from mockserver.compat import UNKNOWN, received_body
from mockserver.plans import Plan, PlannedRequest, build_plans, content_type, sanitize
from mockserver.resolver import resolve
from mockserver.routing import RouteTable
from mockserver.validation import VALIDATORS, URIParser

SECRET = b"0123456789abcdef0123456789abcdef"

Request = tuple[str, str, dict[str, str], bytes | None, dict[str, str]]


def seeded_backend() -> tuple[Backend, dict[str, str]]:
    backend = Backend(clock=FakeClock(), id_seed=99, token_secret=SECRET)
    backend.operations.mode = "immediate"
    backend.reference_sets.load_seed(
        [{"id": "rs1", "assemblyId": "a", "references": [{"name": "chr1", "length": 1_000_000}]}]
    )
    dataset = backend.datasets.create(DEFAULT_OWNER, {"projectId": "p1", "name": "d"})
    aset = backend.annotation_sets.create(
        DEFAULT_OWNER, {"datasetId": dataset["id"], "referenceSetId": "rs1", "type": "GENERIC"}
    )
    for i in range(5):
        backend.annotations.create(DEFAULT_OWNER, {"annotationSetId": aset["id"], "referenceName": "chr1",
                                                   "start": str(i * 10), "end": str(i * 10 + 5)})
    vset = backend.variant_sets.create(DEFAULT_OWNER, {"datasetId": dataset["id"]})
    return backend, {"dataset": dataset["id"], "aset": aset["id"], "vset": vset["id"]}


@pytest.fixture(scope="module")
def twins() -> Iterator[tuple[TestClient, TestClient, dict[str, str]]]:
    planned, ids = seeded_backend()
    chained, same = seeded_backend()
    assert ids == same
    with TestClient(create_app(planned), raise_server_exceptions=False) as fast, \
            TestClient(create_app(chained, fast_path=False), raise_server_exceptions=False) as chain:
        yield fast, chain, ids


def send(client: TestClient, request: Request) -> tuple[int, list[tuple[str, str]], bytes]:
    method, path, query, body, headers = request
    response = client.request(method, path, params=query, content=body, headers=headers)
    return response.status_code, sorted(response.headers.items()), response.content


def same_answer(twins: tuple[TestClient, TestClient, dict[str, str]], request: Request) -> tuple[int, bytes]:
    fast, chain, _ = twins
    planned, chained = send(fast, request), send(chain, request)
    assert planned == chained, request
    return planned[0], planned[2]


JSON = {"content-type": "application/json"}
LATIN_1 = "application/json; charset=latin-1"


def corpus(ids: dict[str, str]) -> list[Request]:
    d, a = ids["dataset"], ids["aset"]
    search = json.dumps({"annotationSetIds": [a], "referenceName": "chr1"}).encode()
    return [
        ("GET", f"/v1/datasets/{d}", {}, None, {}),
        ("GET", f"/v1/datasets/{d}", {"prettyPrint": "false", "fields": "id,name"}, None, {}),
        ("GET", f"/v1/datasets/{d}", {"fields": "id("}, None, {}),
        ("GET", "/v1/datasets/424242", {}, None, {}),
        ("GET", f"/v1/datasets/{d}:undelete", {}, None, {}),
        ("POST", f"/v1/datasets/{d}:explode", {}, None, {}),
        ("PUT", "/v1/datasets", {}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "pageSize": "1"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "pageSize": "many"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "pageSize": "1025"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "pageToken": "garbage"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "bogus": "1", "other": "2"}, None, {}),
        ("GET", "/v1/datasets", {}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "prettyPrint": "maybe"}, None, {}),
        ("GET", "/v1/datasets", {"projectId": "p1", "alt": "proto"}, None, {}),
        ("POST", "/v1/datasets", {}, b"{bad", JSON),
        ("POST", "/v1/datasets", {}, b'{"projectId": "\xff\xfe"}', JSON),
        ("POST", "/v1/datasets", {}, b'{"projectId": 12}', JSON),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p", "colour": "red"}', JSON),
        ("POST", "/v1/datasets", {}, None, JSON),
        ("POST", "/v1/datasets", {}, b"null", JSON),
        ("POST", "/v1/datasets", {}, b"[]", JSON),
        ("POST", "/v1/datasets", {}, b"projectId=p", {"content-type": "text/plain"}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p"}', {}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p"}', {"content-type": ""}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p\xe9"}', {"content-type": LATIN_1}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p"}', {"content-type": "application/merge-patch+json"}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p", "name": "n"}', JSON),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p"}', {"content-type": "Application/JSON"}),
        ("POST", "/v1/datasets", {}, b'{"projectId": "p"}', {"content-type": "application/json;x=a/b"}),
        ("POST", "/v1/annotationsets", {}, json.dumps({"datasetId": d, "referenceSetId": "rs1", "info": {
            "k": [2**70, -(2**64), 2**63, 7, "12345678901234567890"]}}).encode(), JSON),
        ("PATCH", f"/v1/datasets/{d}", {"updateMask": "name"}, b'{"name": "renamed"}', JSON),
        ("PATCH", f"/v1/datasets/{d}", {"updateMask": "projectId"}, b'{"projectId": "x"}', JSON),
        ("POST", "/v1/annotations/search", {}, search, JSON),
        ("POST", "/v1/annotations/search", {"prettyPrint": "false"}, search, JSON),
        ("POST", "/v1/annotations/search", {}, b'{"annotationSetIds": ["nope"]}', JSON),
        ("POST", "/v1/annotations/search", {}, b'{"annotationSetIds": "' + a.encode() + b'"}', JSON),
        ("POST", "/v1/annotations:batchCreate", {}, json.dumps({"annotations": [
            {"annotationSetId": a, "referenceName": "chr1", "start": 1, "end": "2"}, {}]}).encode(), JSON),
        ("POST", "/v1/annotationsets/search", {}, json.dumps({"datasetIds": [d]}).encode(), JSON),
        ("GET", f"/v1/variantsets/{ids['vset']}", {}, None, {}),
        ("POST", f"/v1/datasets/{d}:getIamPolicy", {}, b"{}", JSON),
        ("POST", f"/v1/datasets/{d}:testIamPermissions", {}, b'{"permissions": ["x.y"]}', JSON),
        ("GET", "/v1/operations", {"name": "operations"}, None, {}),
        ("POST", "/v1/readgroupsets:import", {}, b'{"datasetId": "' + d.encode() + b'"}', JSON),
        ("DELETE", f"/v1/datasets/{d}", {}, None, {}),
        ("GET", f"/v1/datasets/{d}", {}, None, {}),
        ("POST", f"/v1/datasets/{d}:undelete", {}, None, {}),
        ("GET", "/v1/nowhere", {}, None, {}),
        ("GET", "/v1/datasets/a/b/c", {}, None, {}),
    ]


def document_plans() -> dict[str, Plan]:
    """The plans create_app builds for the document, keyed by operationId."""
    return build_plans(connexion_document(load_spec()), Resolver(function_resolver=resolve), VALIDATORS,
                       uri_parser_class=URIParser)


PLANS = document_plans()


def test_every_operation_of_the_document_has_a_plan() -> None:
    assert set(PLANS) == {op.operation_id for op in RouteTable(load_spec()).operations()}


def test_every_failure_and_success_of_the_corpus_is_answered_the_same(twins, monkeypatch) -> None:
    answered = []
    original = Plan.answer

    async def counting(plan: Plan, *args: Any) -> None:
        answered.append(plan.operation.operation_id)
        await original(plan, *args)

    monkeypatch.setattr(Plan, "answer", counting)
    statuses = {same_answer(twins, request)[0] for request in corpus(twins[2])}
    assert {200, 400, 404, 405} <= statuses  # the corpus reaches successes and each kind of failure
    assert len(set(answered)) > 10  # and the plans answered one app's requests (only that app's:
    assert len(answered) < len(corpus(twins[2]))  # unknown paths and 405s never reach one)


def test_an_internal_error_is_answered_the_same(twins, monkeypatch) -> None:
    fast, chain, ids = twins
    for client in (fast, chain):
        backend = client.app.state.backend  # type: ignore[attr-defined]
        monkeypatch.setattr(backend.variant_sets, "get", lambda *_a: 1 / 0)
    status, body = same_answer(twins, ("GET", f"/v1/variantsets/{ids['vset']}", {}, None, {}))
    assert status == 500 and b"ZeroDivisionError" in body


# -- generated requests ------------------------------------------------------------------

OPERATIONS = RouteTable(load_spec()).operations()
TEXT = st.text(st.sampled_from("ab1-_:/%.é\x00 \ud800"), max_size=6)
QUERY_TEXT = st.text(st.sampled_from("ab1-_:/%.é\x00 ,"), max_size=6)  # what a URL can carry
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8)


IDS = seeded_backend()[1]  # the same in every seeded backend
#: operationId -> the query parameters its own path item declares (Google's standard ones aside)
DECLARED = {
    op["operationId"]: [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
    for item in load_spec()["paths"].values() for op in item.values() if isinstance(op, dict)
}
PLAUSIBLE_BODIES = [
    {"projectId": "p1"}, {"projectId": "p1", "name": "n"}, {"datasetId": IDS["dataset"]},
    {"datasetIds": [IDS["dataset"]]}, {"annotationSetIds": [IDS["aset"]], "referenceName": "chr1"},
    {"annotationSetIds": [IDS["aset"]], "referenceName": "chr1", "start": "0", "end": "20", "pageSize": 2},
    {"variantSetIds": [IDS["vset"]]}, {"name": "renamed"},
    {"datasetId": IDS["dataset"], "referenceSetId": "rs1"},
    {"annotationSetId": IDS["aset"], "referenceName": "chr1", "start": "1", "end": "9"},
    {"permissions": ["genomics.datasets.get"]}, {},
]


@st.composite
def requests(draw: st.DrawFn) -> Request:
    operation = draw(st.sampled_from(OPERATIONS))
    ids = [*IDS.values(), "rs1", "424242", "a b", "x%2Fy", "é"]
    path = operation.template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + draw(st.sampled_from(ids)) + path[end + 1:]
    names = DECLARED[operation.operation_id] * 4 + ["bogus", "key", "$.xgafv", "fields", "prettyPrint"]
    values = QUERY_TEXT | st.sampled_from(["1", "0", "false", "-3", "p1", "name", "id,name"])
    query = draw(st.just({}) | st.just({}) | st.dictionaries(st.sampled_from(names), values, max_size=2))
    if "projectId" in DECLARED[operation.operation_id] and draw(st.booleans()):
        query["projectId"] = "p1"
    fields = ["projectId", "name", "datasetId", "annotationSetIds", "referenceName", "start", "end",
              "pageSize", "pageToken", "annotations", "type", "info", "bogus"]
    objects = st.dictionaries(st.sampled_from(fields), VALUES, max_size=4)
    plausible = st.sampled_from(PLAUSIBLE_BODIES)
    body: Any = draw(st.one_of(st.none(), plausible, plausible, plausible, VALUES, objects))
    raw = None if body is None else json.dumps(body).encode("utf-8", "surrogatepass")
    kind = draw(st.sampled_from(["application/json", "application/json", "application/json; charset=utf-8",
                                 "text/plain", None]))
    method = draw(st.sampled_from([operation.method, operation.method, operation.method, "GET", "POST"]))
    return method, path, query, raw, {"content-type": kind} if kind else {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_generated_requests_are_answered_the_same(twins, request: Request) -> None:
    same_answer(twins, request)


# -- the compiled steps against the Connexion functions they stand for -------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_arguments_are_connexions(data: st.DataObject) -> None:
    plan = data.draw(st.sampled_from(sorted(PLANS.values(), key=lambda p: p.operation.operation_id)))
    operation = plan.operation
    path = {p["name"]: data.draw(TEXT) for p in operation.parameters if p["in"] == "path"}
    query_names = [p["name"] for p in operation.parameters if p["in"] == "query"]
    query = plan.uri_parser.resolve_query(
        data.draw(st.dictionaries(st.sampled_from(query_names), st.lists(TEXT, min_size=1, max_size=2)))
    ) if query_names else {}
    body = data.draw(st.one_of(st.none(), VALUES))
    mime = data.draw(st.sampled_from(["application/json", "application/octet-stream"]))
    expected = outcome(lambda: get_arguments(
        operation, path_params=path, query_params=query, body=body, files={}, arguments=plan.arguments,
        has_kwargs=plan.has_kwargs, sanitize=sanitize, content_type=mime,
    ))
    assert outcome(lambda: plan.arguments_for(path, query, body, mime)) == expected


def outcome(call: Any) -> tuple[str, Any]:
    """("returns", value) or ("raises", the exception's type): values validation would refuse
    (``pageSize=""``) make Connexion's conversion raise, and must make the plan's raise alike."""
    try:
        return "returns", call()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return "raises", type(exc)


HEADER_NAMES = st.sampled_from([b"content-type", b"Content-Type", b"CONTENT-TYPE", b"content-types",
                                b"accept", b"content_type", b"x"])


@given(headers=st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=8)), max_size=4))
def test_the_content_type_is_read_as_connexion_reads_it(headers: list[tuple[bytes, bytes]]) -> None:
    assert content_type(headers) == extract_content_type(headers)
    scope = {"type": "http", "headers": headers}
    planned = PlannedRequest.of(scope, None, uri_parser=None, query={}, path={})
    assert planned.content_type == ConnexionRequest(scope).content_type


def test_fixed_paths_are_routed_as_a_scan_of_the_table_routes_them() -> None:
    table = RouteTable(load_spec())
    fixed = [template for template in load_spec()["paths"] if "{" not in template]
    assert len(fixed) > 5
    for path in fixed:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            assert table.match(method, path) == table._scan(method, path), (method, path)


def test_a_plan_refuses_what_it_does_not_reproduce() -> None:
    plan = next(iter(PLANS.values()))

    class Synchronous:
        def __getattr__(self, name: str) -> Any:
            return getattr(plan.operation, name)

        @property
        def function(self) -> Any:
            return lambda datasetId: None  # noqa: N803 - a parameter named as in the document

    assert Plan.unsupported(Synchronous()) is not None  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_a_planned_request_resolves_parameters_as_connexions_does(data: st.DataObject) -> None:
    from urllib.parse import parse_qs, urlencode

    plan = data.draw(st.sampled_from(sorted(PLANS.values(), key=lambda p: p.operation.operation_id)))
    names = [p["name"] for p in plan.operation.parameters if p["in"] == "query"] + ["other"]
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(names), QUERY_TEXT | st.sampled_from(["1", "a,b"])),
                               max_size=4))
    query_string = urlencode(pairs).encode() + data.draw(st.sampled_from([b"", b"&flag", b"&x=%ff", b"&&"]))
    path = {p["name"]: data.draw(TEXT) for p in plan.operation.parameters if p["in"] == "path"}
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": query_string, "headers": [],
             "path_params": path}
    connexions = ConnexionRequest(scope, uri_parser=plan.uri_parser)
    planned = PlannedRequest.of(scope, None, uri_parser=plan.uri_parser, path=dict(path),
                             query=parse_qs(query_string.decode("latin-1"), keep_blank_values=True))
    assert planned.query_params == connexions.query_params
    assert planned.path_params == connexions.path_params


# -- the body a plan hands over ------------------------------------------------------------


def typed(value: Any) -> Any:
    """``value`` with each number tagged by its type: 1 and 1.0 compare equal, but are not the same
    body (an int64 field takes one and refuses the other)."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return type(value).__name__, value


def replayed_body(plan: Plan, raw: bytes) -> tuple[Any, Any]:
    """(what the body validator keeps for the handler, what Connexion's handler would read from the
    channel the validator hands on: Starlette's ``Request.json``) for one request body."""
    schema, nullable, validator_class = plan._body("application/json")
    validator = validator_class(schema=schema, required=plan.body_required, nullable=nullable,
                                encoding="utf-8", strict_validation=True, uri_parser=plan.uri_parser)
    scope = {"type": "http", "headers": [(b"content-type", b"application/json"),
                                         (b"content-length", str(len(raw)).encode())]}
    messages = [{"type": "http.request", "body": raw, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def read() -> tuple[Any, Any]:
        channel, new_scope = await validator.wrap_receive(receive, scope=scope)
        return received_body(validator), await StarletteRequest(new_scope, channel).json()

    return asyncio.run(read())


FREE_FORM = PLANS["genomics.annotationsets.create"]  # info: any JSON value; names: normalized


@settings(max_examples=200, deadline=None)
@given(info=VALUES, name=st.one_of(st.none(), TEXT), wide=st.booleans())
def test_the_body_handed_over_is_the_one_connexion_would_read_again(info: Any, name: Any, wide: bool) -> None:
    body = {"datasetId": "d", "referenceSetId": "rs1", "info": {"k": info}, "name": name}
    if wide:
        body["info"]["wide"] = 2**64 + 1  # orjson reads it as a double, Starlette as an int
    try:
        raw = json.dumps(body).encode()
        kept, read = replayed_body(FREE_FORM, raw)
    except Exception:  # noqa: BLE001 - a body the validator refuses reaches no handler
        return
    if kept is UNKNOWN:  # only a body with a literal that may be an integer wider than 64 bits
        assert any(len(digits) >= 19 for digits in _digit_runs(raw))
    else:
        assert typed(kept) == typed(read)


def _digit_runs(raw: bytes) -> list[bytes]:
    return re.findall(rb"[0-9]+", raw)


def test_a_plain_body_is_handed_over_without_being_read_again() -> None:
    raw = b'{"datasetId": "d", "referenceSetId": "rs1", "info": {"k": [1, 2.5]}}'
    kept, read = replayed_body(FREE_FORM, raw)
    assert kept is not UNKNOWN and typed(kept) == typed(read)


def wrapped(plan: Plan, chunks: list[bytes], length: bytes | None, connexions: bool) -> tuple[Any, ...]:
    """What a body validator's ``wrap_receive`` does with a body sent as ``chunks``: ours, or
    (``connexions``) Connexion's own on the same validator class; an error by type and text."""
    schema, nullable, validator_class = plan._body("application/json")
    validator = validator_class(schema=schema, required=plan.body_required, nullable=nullable,
                                encoding="utf-8", strict_validation=True, uri_parser=plan.uri_parser)
    headers = [(b"content-type", b"application/json")] + ([(b"content-length", length)] if length else [])
    scope = {"type": "http", "headers": headers}
    messages = [{"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
                for i, chunk in enumerate(chunks)] + [{"type": "http.disconnect"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def read() -> tuple[Any, ...]:
        wrap = AbstractRequestBodyValidator.wrap_receive if connexions else validator_class.wrap_receive
        channel, new_scope = await wrap(validator, receive, scope=scope)
        replayed = []
        while not replayed or replayed[-1].get("more_body", False):
            replayed.append(await channel())
        return replayed, new_scope["headers"], typed(received_body(validator))

    try:
        return asyncio.run(read())
    except Exception as exc:  # noqa: BLE001 - the outcome compared, whatever it is
        return type(exc), str(exc)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_the_body_validator_reads_a_body_as_connexions_wrap_receive_does(data: st.DataObject) -> None:
    plan = data.draw(st.sampled_from([FREE_FORM, PLANS["genomics.annotations.search"],
                                      PLANS["genomics.datasets.create"]]))
    body = data.draw(st.one_of(st.sampled_from(PLAUSIBLE_BODIES), VALUES))
    sent = json.dumps(body).encode("utf-8", "surrogatepass")
    raw = data.draw(st.sampled_from([sent, b"", b"{bad", b"null"]))
    cut = data.draw(st.integers(0, len(raw)))
    chunks = data.draw(st.sampled_from([[raw], [raw[:cut], raw[cut:]], [b"", raw]]))
    length = data.draw(st.sampled_from([str(len(raw)).encode(), b"0", b" 7", b"x", None]))
    assert wrapped(plan, chunks, length, connexions=False) == wrapped(plan, chunks, length, connexions=True)


WIDE_VALUES = st.recursive(
    st.one_of(SCALARS, st.integers(-(2**80), 2**80), st.from_regex(r"[0-9:,\[ ]{15,30}", fullmatch=True)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3), max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(value=WIDE_VALUES, indent=st.sampled_from([None, 0, 1, "\t"]))
def test_a_body_said_to_parse_as_the_standard_library_does_parses_so(value: Any, indent: Any) -> None:
    from mockserver.request_body import decode_json, parsed_as_stdlib

    raw = json.dumps(value, indent=indent).encode("utf-8", "surrogatepass")
    try:
        decoded = decode_json(raw)
    except ValueError:
        return  # refused: reaches no handler
    if parsed_as_stdlib(raw):
        assert typed(decoded) == typed(json.loads(raw))
