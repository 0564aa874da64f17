"""Property: any record the server accepted can be read, listed, searched, exported to state and restored.

Hypothesis writes create bodies of every creatable resource whose strings and free-form
values may hold hostile content (lone surrogates, NaN, infinities, integers far wider than 64
bits, deep nesting); the server must answer each with 200 or a 4xx envelope — and whatever it
answered 200 to must come back, unchanged, through every read path and a state round trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.backend import Backend
from mockserver.backend.clock import FakeClock

JSON = {"Content-Type": "application/json"}
HOSTILE = ["\ud800", "x\udfff", "\udc00\ud800", "\x00", "\ufffe", "😀", "é", ""]

texts = st.one_of(
    st.text(max_size=8),
    st.builds(lambda a, b, c: a + b + c, st.text(max_size=3), st.sampled_from(HOSTILE), st.text(max_size=3)),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([10**400, -(10**400), 2**63, 2**64, -(2**63) - 1, 1e308]),
)
scalars = st.one_of(texts, numbers, st.booleans(), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
deep_values = st.builds(lambda depth, leaf: json.loads("[" * depth + json.dumps(leaf) + "]" * depth),
                        st.integers(min_value=90, max_value=110), st.integers(0, 3))
info = st.dictionaries(texts, st.lists(st.one_of(values, deep_values), max_size=3), max_size=3)


def _raw(body: dict[str, Any]) -> bytes:
    """The body as a client would send it: ``\\ud800`` escapes, ``NaN``/``Infinity`` literals."""
    return json.dumps(body, allow_nan=True).encode("ascii")


Maker = Callable[[dict[str, str]], Any]  # the ids of the test's containers -> a body or a request


class Resource:
    """How to create and list (or search) one kind of record over HTTP."""

    def __init__(self, kind: str, body: Maker, search: Maker) -> None:
        self.kind, self.body, self.search = kind, body, search


def _body(**fields: Any) -> Any:
    """A create body: constants as they are, strategies drawn."""
    drawn = {k: v if isinstance(v, st.SearchStrategy) else st.just(v) for k, v in fields.items()}
    return st.fixed_dictionaries(drawn)


def _search(path: str, **body: Any) -> tuple[str, str, dict[str, Any]]:
    return ("POST", path, {"json": body})


metadata = st.lists(_body(key=texts, value=texts, info=info), max_size=2)
RESOURCES = [
    Resource("datasets", lambda w: _body(projectId="p1", name=texts),
             lambda w: ("GET", "/v1/datasets", {"params": {"projectId": "p1", "pageSize": 1000}})),
    Resource("annotationsets",
             lambda w: _body(datasetId=w["ds"], referenceSetId="rs1", name=texts, sourceUri=texts, info=info),
             lambda w: _search("/v1/annotationsets/search", datasetIds=[w["ds"]])),
    Resource("annotations",
             lambda w: _body(annotationSetId=w["aset"], referenceName="chr1", start="1", end="5", name=texts,
                             info=info),
             lambda w: _search("/v1/annotations/search", annotationSetIds=[w["aset"]])),
    Resource("variantsets",
             lambda w: _body(datasetId=w["ds"], name=texts, description=texts, metadata=metadata),
             lambda w: _search("/v1/variantsets/search", datasetIds=[w["ds"]])),
    Resource("callsets", lambda w: _body(variantSetIds=[w["vs"]], name=texts, sampleId=texts, info=info),
             lambda w: _search("/v1/callsets/search", variantSetIds=[w["vs"]])),
    Resource("variants",
             lambda w: _body(variantSetId=w["vs"], referenceName="chr1", start="1", referenceBases="A",
                             alternateBases=st.lists(texts, max_size=2), names=st.lists(texts, max_size=2),
                             filter=st.lists(texts, max_size=2), info=info,
                             calls=st.lists(_body(callSetId=w["cs"], genotype=[0, 1], phaseset=texts,
                                                                  info=info), max_size=1)),
             lambda w: _search("/v1/variants/search", variantSetIds=[w["vs"]], referenceName="chr1")),
]


@pytest.fixture(scope="module")
def server() -> Iterator[TestClient]:
    with TestClient(create_app(Backend(clock=FakeClock())), raise_server_exceptions=False) as client:
        yield client


def _world(client: TestClient) -> dict[str, str]:
    assert client.post("/_mock/reset").status_code == 200
    seeded = client.post("/_mock/seed", json={"referenceSets": [
        {"id": "rs1", "references": [{"name": "chr1", "length": 1000}]}]})
    assert seeded.status_code == 200
    ds = client.post("/v1/datasets", json={"projectId": "p1", "name": "world"}).json()["id"]
    aset = client.post("/v1/annotationsets", json={"datasetId": ds, "referenceSetId": "rs1"}).json()["id"]
    vs = client.post("/v1/variantsets", json={"datasetId": ds, "name": "vs"}).json()["id"]
    cs = client.post("/v1/callsets", json={"variantSetIds": [vs], "name": "cs"}).json()["id"]
    return {"ds": ds, "aset": aset, "vs": vs, "cs": cs}


def _listed(client: TestClient, resource: Resource, world: dict[str, str]) -> list[dict[str, Any]]:
    method, path, kwargs = resource.search(world)
    response = client.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    return response.json().get(resource.kind.replace("annotationsets", "annotationSets")
                                .replace("variantsets", "variantSets").replace("callsets", "callSets"), [])


@pytest.mark.parametrize("resource", RESOURCES, ids=[r.kind for r in RESOURCES])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_an_accepted_record_renders_everywhere_and_survives_a_state_round_trip(server, resource, data):
    world = _world(server)
    before = _listed(server, resource, world)
    body = data.draw(resource.body(world))
    created = server.post(f"/v1/{resource.kind}", content=_raw(body), headers=JSON)
    assert created.status_code < 500, created.text
    event(f"answered {created.status_code}")
    listed = _listed(server, resource, world)
    if created.status_code != 200:
        error = created.json()["error"]
        assert error["code"] == created.status_code and error["message"]
        assert listed == before  # refused: nothing stored
        assert server.get("/_mock/state").status_code == 200
        return
    record = created.json()
    assert server.get(f"/v1/{resource.kind}/{record['id']}").json() == record
    assert record in listed
    state = server.get("/_mock/state")
    assert state.status_code == 200, state.text
    assert server.post("/_mock/reset").status_code == 200
    restored = server.put("/_mock/state", content=state.content, headers=JSON)
    assert restored.status_code == 200, restored.text
    assert server.get(f"/v1/{resource.kind}/{record['id']}").json() == record
    assert record in _listed(server, resource, world)
