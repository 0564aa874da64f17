"""Attacks with hostile request bodies: each is a 4xx envelope naming what was wrong, nothing is stored,
and every later read, list, search and state export still works.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock
from mockserver.request_body import MAX_DEPTH, first, header_value, within

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def world(client: TestClient) -> dict[str, str]:
    """A dataset, a reference set and an annotation set to aim the attacks at."""
    ds = client.post("/v1/datasets", json={"projectId": "p1", "name": "target"}).json()["id"]
    seeded = client.post("/_mock/seed", json={"referenceSets": [
        {"id": "rs1", "references": [{"name": "chr1", "length": 1000}]}]})
    assert seeded.status_code == 200, seeded.text
    aset = client.post("/v1/annotationsets", json={"datasetId": ds, "referenceSetId": "rs1", "name": "a"})
    assert aset.status_code == 200, aset.text
    return {"ds": ds, "rs": "rs1", "aset": aset.json()["id"]}


def _everything_still_renders(client: TestClient, world: dict[str, str]) -> None:
    """The poison was not stored: every read path answers 200 with JSON."""
    assert client.get(f"/v1/datasets/{world['ds']}").status_code == 200
    assert client.get("/v1/datasets", params={"projectId": "p1"}).status_code == 200
    assert client.get(f"/v1/annotationsets/{world['aset']}").status_code == 200
    found = client.post("/v1/annotationsets/search", json={"datasetIds": [world["ds"]]})
    assert found.status_code == 200
    annotations = client.post("/v1/annotations/search", json={"annotationSetIds": [world["aset"]]})
    assert annotations.status_code == 200
    state = client.get("/_mock/state")
    assert state.status_code == 200 and state.json()["format"] == "genomics-mock-state"


def _names(client: TestClient) -> list[str]:
    return [d.get("name") for d in client.get("/v1/datasets", params={"projectId": "p1"}).json()["datasets"]]


POISON = [
    ('"\\ud800"', "lone surrogate"),
    ('"x\\udfff"', "lone surrogate"),
    ('"\\udc00\\ud800"', "lone surrogate"),
]


@pytest.mark.parametrize(("literal", "reason"), POISON)
def test_a_lone_surrogate_in_any_string_is_400_naming_the_field(client, world, literal, reason):
    attacks = [
        ("POST", "/v1/datasets", f'{{"projectId": "p1", "name": {literal}}}', "name"),
        ("PATCH", f"/v1/datasets/{world['ds']}?updateMask=name", f'{{"name": {literal}}}', "name"),
        ("POST", "/v1/annotationsets", f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", '
                                       f'"info": {{"k": ["ok", {literal}]}}}}', "info.k[1]"),
        ("POST", "/v1/annotationsets", f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", '
                                       f'"info": {{{literal}: ["v"]}}}}', "info"),
        ("POST", "/v1/annotations", f'{{"annotationSetId": "{world["aset"]}", "referenceName": "chr1", '
                                     f'"start": "1", "end": "2", "name": {literal}}}', "name"),
    ]
    for method, path, body, field in attacks:
        response = client.request(method, path, content=body.encode(), headers=JSON)
        assert response.status_code == 400, (path, response.text)
        message = response.json()["error"]["message"]
        assert reason in message and f"'{field}" in message, message
    assert _names(client) == ["target"]
    _everything_still_renders(client, world)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("1e400", "out of the range of a double"),
        ("-1e400", "out of the range of a double"),
        ("NaN", "not a number JSON allows"),
        ("Infinity", "not a number JSON allows"),
        ("-Infinity", "not a number JSON allows"),
        ("1" * 400, "400 digits"),
        ("1" * 5000, "5000 digits"),
    ],
    ids=["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "400-digits", "5000-digits"],
)
def test_numbers_beyond_a_double_are_400_and_nothing_is_stored(client, world, value, reason):
    body = f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", "info": {{"k": [{value}]}}}}'
    response = client.post("/v1/annotationsets", content=body.encode(), headers=JSON)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert reason in message and "'info.k[0]'" in message, message
    patched = client.put(f"/v1/annotationsets/{world['aset']}", params={"updateMask": "info"},
                         content=body.encode(), headers=JSON)
    assert patched.status_code == 400
    sets = client.post("/v1/annotationsets/search", json={"datasetIds": [world["ds"]]}).json()
    assert [s["id"] for s in sets["annotationSets"]] == [world["aset"]]
    assert "info" not in sets["annotationSets"][0]
    _everything_still_renders(client, world)


def test_a_wide_integer_in_a_free_form_value_is_a_double_as_in_google_protobuf_value(client, world):
    """google.protobuf.Value holds numbers as doubles: 2**70 is accepted and written as one."""
    body = f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", "info": {{"k": [{2**70}, 7]}}}}'
    created = client.post("/v1/annotationsets", content=body.encode(), headers=JSON)
    assert created.status_code == 200, created.text
    assert created.json()["info"]["k"] == [float(2**70), 7]
    assert client.get(f"/v1/annotationsets/{created.json()['id']}").json()["info"]["k"] == [float(2**70), 7]
    _everything_still_renders(client, world)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("start", 2**63),
        ("start", "9223372036854775808"),
        ("start", "-9223372036854775809"),
        ("end", "1" * 30),
        ("end", 2**70),
    ],
)
def test_int64_fields_must_fit_64_bits(client, world, field, value):
    body = {"annotationSetId": world["aset"], "referenceName": "chr1", "start": "1", "end": "2", field: value}
    response = client.post("/v1/annotations", content=json.dumps(body).encode(), headers=JSON)
    assert response.status_code == 400, response.text
    assert f"'{field}'" in response.json()["error"]["message"]


def test_int32_fields_must_fit_32_bits(client, world):
    exon = {"start": "1", "end": "2", "frame": -(2**40)}
    body = {"annotationSetId": world["aset"], "referenceName": "chr1", "start": "1", "end": "5",
            "type": "TRANSCRIPT", "transcript": {"exons": [exon]}}
    response = client.post("/v1/annotations", json=body)
    assert response.status_code == 400, response.text
    assert "transcript.exons.0.frame" in response.json()["error"]["message"]
    query = client.get("/v1/datasets", params={"projectId": "p1", "pageSize": str(2**40)})
    assert query.status_code == 400


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1000, 5000])
def test_deep_nesting_is_400_on_the_api_and_the_admin_api(client, world, depth):
    nested = "[" * depth + "]" * depth
    body = f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", "info": {{"k": {nested}}}}}'
    for path in ("/v1/annotationsets", "/_mock/faults"):
        response = client.post(path, content=body.encode(), headers=JSON)
        assert response.status_code == 400, (path, response.text)
        assert f"deeper than {MAX_DEPTH} levels" in response.json()["error"]["message"]
    _everything_still_renders(client, world)


def test_nesting_up_to_the_limit_is_not_refused_for_its_depth(client, world):
    nested = "[" * (MAX_DEPTH - 3) + "]" * (MAX_DEPTH - 3)  # info -> k -> list: 3 levels above
    body = f'{{"datasetId": "{world["ds"]}", "referenceSetId": "rs1", "info": {{"k": [{nested}]}}}}'
    response = client.post("/v1/annotationsets", content=body.encode(), headers=JSON)
    assert response.status_code == 200, response.text
    _everything_still_renders(client, world)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_without_a_json_content_type_is_400(client, world, method, content_type):
    path = "/v1/datasets" if method == "POST" else f"/v1/datasets/{world['ds']}?updateMask=name"
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"projectId": "p1", "name": "typeless"}'
    response = client.request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and "application/json" in error["message"]
    assert _names(client) == ["target"]


def test_a_request_with_no_body_needs_no_content_type(client, world):
    client.delete(f"/v1/datasets/{world['ds']}")
    assert client.post(f"/v1/datasets/{world['ds']}:undelete").status_code == 200


def test_invalid_utf8_is_400(client):
    response = client.post("/v1/datasets", content=b'{"projectId": "p1", "name": "\xff\xfe"}', headers=JSON)
    assert response.status_code == 400 and "UTF-8" in response.json()["error"]["message"]


# -- size limit and stalls, at the ASGI level (what the server is handed, byte by byte) --------


def _asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[Any]) -> dict:
    """Run one request; ``chunks`` are body parts, ``...`` a part that never comes, ``(seconds,
    part)`` one sent after a pause. Returns the status, the JSON body and how many parts the app
    asked for."""
    asked = [0]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if asked[0] >= len(chunks):
            await asyncio.Event().wait()  # the client stalls forever
        chunk = chunks[asked[0]]
        asked[0] += 1
        if chunk is ...:
            await asyncio.Event().wait()
        if isinstance(chunk, tuple):
            pause, chunk = chunk
            await asyncio.sleep(pause)
        return {"type": "http.request", "body": chunk, "more_body": asked[0] < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"test"), *headers], "scheme": "http", "server": ("test", 80),
             "client": ("test", 1), "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"}}
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 30))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "json": json.loads(body), "asked": asked[0],
            "headers": dict(start["headers"])}


@pytest.fixture
def small_app() -> Any:
    return create_app(Backend(clock=FakeClock()), max_request_bytes=4096, read_timeout=0.2)


BODY_READERS = ["/v1/datasets", "/_mock/seed", "/batch"]  # the API, the admin API, batches


@pytest.mark.parametrize("path", BODY_READERS)
def test_a_declared_oversized_body_is_413_before_any_of_it_is_read(small_app, path):
    headers = [(b"content-type", b"application/json"), (b"content-length", b"50000000")]
    result = _asgi(small_app, "POST", path, headers, [b"x" * 1000] * 50_000)
    assert result["status"] == 413 and result["asked"] == 0
    assert result["json"]["error"]["code"] == 413 and "4096 bytes" in result["json"]["error"]["message"]
    assert result["headers"][b"connection"] == b"close"


@pytest.mark.parametrize("path", BODY_READERS)
def test_a_chunked_body_is_cut_off_at_the_limit(small_app, path):
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    result = _asgi(small_app, "POST", path, headers, [b'{"name": "' + b"x" * 1000] * 1000)
    assert result["status"] == 413 and result["asked"] <= 5  # 5 KB read of 1 MB sent
    assert result["json"]["error"]["code"] == 413


@pytest.mark.parametrize("path", BODY_READERS)
def test_a_stalled_body_is_408(small_app, path):
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    result = _asgi(small_app, "POST", path, headers, [b'{"projectId": ', ...])
    assert result["status"] == 408 and result["json"]["error"]["status"] == "DEADLINE_EXCEEDED"


def test_a_body_part_after_a_pause_within_the_timeout_is_served(small_app):
    """The reads that wait (finished under the timer) hand over what arrives, as the ones that do not."""
    body = json.dumps({"projectId": "p1", "name": "late"}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    result = _asgi(small_app, "POST", "/v1/datasets", headers, [body[:10], (0.05, body[10:])])
    assert result["status"] == 200 and result["json"]["name"] == "late"


async def _waits(seconds: float, log: list[str], value: Any = "answer", fail: bool = False) -> Any:
    try:
        if seconds:
            await asyncio.sleep(seconds)
        if fail:
            raise LookupError("the call failed")
        return value
    finally:
        log.append("finished")


@pytest.mark.parametrize("seconds", [0, 0.01])
def test_within_hands_over_a_calls_answer_whether_or_not_it_waits(seconds):
    log: list[str] = []
    assert asyncio.run(within(1, _waits(seconds, log, value={"k": 1}))) == {"k": 1}
    assert log == ["finished"]


@pytest.mark.parametrize("seconds", [0, 0.01])
def test_within_passes_a_calls_failure_on(seconds):
    log: list[str] = []
    with pytest.raises(LookupError, match="the call failed"):
        asyncio.run(within(1, _waits(seconds, log, fail=True)))
    assert log == ["finished"]


def test_within_times_out_a_call_that_waits_too_long_and_the_call_cleans_up():
    log: list[str] = []
    with pytest.raises(TimeoutError):
        asyncio.run(within(0.01, _waits(5, log)))
    assert log == ["finished"]


def test_within_lets_a_cancellation_from_outside_through():
    log: list[str] = []

    async def cancelled() -> None:
        task = asyncio.ensure_future(within(5, _waits(5, log)))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancelled())
    assert log == ["finished"]


def test_within_takes_any_awaitable():
    async def future_answer() -> Any:
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, 7)
        return await within(1, future)

    assert asyncio.run(future_answer()) == 7


def test_a_method_override_body_is_bounded_too(small_app):
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"transfer-encoding", b"chunked"),
               (b"x-http-method-override", b"GET")]
    result = _asgi(small_app, "POST", "/v1/datasets", headers, [b"projectId=" + b"p" * 1000] * 1000)
    assert result["status"] == 413 and result["asked"] <= 5


def test_a_chunked_body_within_the_limit_is_served(small_app):
    headers = [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]
    result = _asgi(small_app, "POST", "/v1/datasets", headers, [b'{"projectId": ', b'"p1", "name": "c"}'])
    assert result["status"] == 200 and result["json"]["name"] == "c"


def test_a_body_within_the_limit_is_served(small_app):
    body = json.dumps({"projectId": "p1", "name": "x" * 3000}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    result = _asgi(small_app, "POST", "/v1/datasets", headers, [body[:1000], body[1000:]])
    assert result["status"] == 200 and result["json"]["name"] == "x" * 3000


def test_an_internal_failure_before_the_api_is_still_the_envelope(app, client, monkeypatch):
    from mockserver.routing import RouteTable

    def broken(*_args: Any) -> Any:
        raise KeyError("routing exploded")

    monkeypatch.setattr(RouteTable, "match", broken)
    response = client.get("/v1/datasets", params={"projectId": "p1"})
    assert response.status_code == 500 and response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["status"] == "INTERNAL" and "exploded" not in response.text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('projects: {p1: {datasets: [{name: "\\ud800"}]}}', "lone surrogate"),
        ("projects: {p1: {datasets: [{name: .inf}]}}", "not a finite number"),
        ("projects: {p1: {datasets: [{name: .nan}]}}", "not a finite number"),
        ("projects: " + "[" * 200 + "]" * 200, "deeper than 100 levels"),
    ],
)
def test_seed_and_token_files_are_checked_like_bodies(client, tmp_path, text, reason):
    from mockserver.auth import TokenFileError, TokenRegistry
    from mockserver.seed import SeedError, read_seed_file

    seed = tmp_path / "seed.yaml"
    seed.write_text(text)
    with pytest.raises(SeedError, match=reason):
        read_seed_file(seed)
    sent = client.post("/_mock/seed", content=text.encode(), headers={"Content-Type": "application/yaml"})
    assert sent.status_code == 400 and reason in sent.json()["error"]["message"]
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(text.replace("projects", "tokens"))
    with pytest.raises(TokenFileError, match=reason):
        TokenRegistry.from_file(tokens)


_NAMES = st.sampled_from([b"origin", b"content-length", b"x-http-method-override", b"origin2", b"x"])


@given(
    headers=st.lists(st.tuples(_NAMES, st.binary(max_size=8)), max_size=6),
    name=_NAMES,
)
def test_header_value_reads_a_header_as_starlette_does(headers, name):
    """The middlewares' raw-header look-up gives what ``Headers`` would: the first value, or None."""
    scope = {"type": "http", "headers": headers}
    assert header_value(scope, name) == first(Headers(scope=scope), name.decode())


@pytest.mark.parametrize("starts_first", [False, True])
def test_a_limit_hit_is_answered_once(starts_first):
    """RequestLimits answers a limit the reader let through, unless that reader already started
    its own response: then nothing more is sent (an ASGI server refuses a second start)."""
    from mockserver.request_body import RequestLimits

    async def reader(scope, receive, send):
        if starts_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        while (await receive()).get("more_body"):
            pass

    sent: list[dict[str, Any]] = []

    async def send(message):
        if message["type"] == "http.response.start" and any(
            m["type"] == "http.response.start" for m in sent
        ):
            raise RuntimeError("Unexpected ASGI message 'http.response.start'")  # as uvicorn
        sent.append(message)

    chunks = iter([b"x" * 3000, b"x" * 3000])

    async def receive():
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    scope = {"type": "http", "method": "POST", "path": "/x", "headers": [(b"transfer-encoding", b"chunked")]}
    asyncio.run(RequestLimits(reader, max_bytes=4096)(scope, receive, send))
    starts = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert starts == ([200] if starts_first else [413])
