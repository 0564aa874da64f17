"""The fields= selector grammar and JSON output forms."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import Response

from mockserver.errors import ApiError
from mockserver.rendering import JSON_MEDIA_TYPE, JsonResponse, parse_fields, render_json, select


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id,name", {"id": None, "name": None}),
        ("datasets(id,name),nextPageToken", {"datasets": {"id": None, "name": None}, "nextPageToken": None}),
        ("a/b/c,a/d,e", {"a": {"b": {"c": None}, "d": None}, "e": None}),
        ("x(y(z)),x(y(w))", {"x": {"y": {"z": None, "w": None}}}),  # merged all the way down
        ("a,a(b)", {"a": None}),  # a field selected whole absorbs a sub-selection
        ("a(b),a", {"a": None}),
        (" a , b ( c ) ", {"a": None, "b": {"c": None}}),
    ],
)
def test_parse_fields(text, expected):
    assert parse_fields(text) == expected


@pytest.mark.parametrize("text", ["", "a,", "a(b", "a)", "(a)", "a//b", "a(b))"])
def test_malformed_fields_are_400(text):
    with pytest.raises(ApiError) as info:
        parse_fields(text)
    assert info.value.code == 400 and "fields" in info.value.message


def test_select_maps_through_lists_and_ignores_absent_fields():
    data = {"items": [{"id": "1", "x": {"y": 1, "z": 2}}, {"id": "2"}], "next": "t", "other": 3}
    assert select(data, parse_fields("items(id,x/z),next,missing")) == {
        "items": [{"id": "1", "x": {"z": 2}}, {"id": "2"}],
        "next": "t",
    }


def test_render_pretty_and_compact_hold_the_same_json():
    data = {"a": [1, "ü"], "b": {"c": None}}
    pretty, compact = render_json(data), render_json(data, pretty=False)
    assert pretty.startswith(b'{\n  "a"') and pretty.endswith(b"\n")
    assert b"\n" not in compact and b" " not in compact
    assert json.loads(pretty) == json.loads(compact) == data
    assert "ü".encode() in compact  # UTF-8, not \u escapes


def test_integers_wider_than_64_bits_are_written_as_doubles():
    """A free-form ``info`` value may hold any JSON number; a google.protobuf.Value number is a
    double, and the mock writes it as one instead of failing (500) on the encoder's 64-bit limit."""
    wide = 65249017502789149154021998592
    data = {"info": {"k": [wide, -wide, 10**400, 7, True]}}
    expected = {"info": {"k": [float(wide), -float(wide), None, 7, True]}}
    assert json.loads(render_json(data, pretty=False)) == expected
    assert json.loads(render_json(data)) == json.loads(render_json(data, pretty=False))


def test_an_annotation_set_with_a_wide_integer_in_info_round_trips(client):
    body = b'{"datasetId": "DS", "referenceSetId": "EMud_c37lKPXTQ", '
    body += b'"info": {"n": [65249017502789149154021998592]}}'
    dataset = client.post("/v1/datasets", json={"projectId": "p"}).json()["id"]
    made = client.post("/v1/annotationsets", content=body.replace(b"DS", dataset.encode()),
                       headers={"Content-Type": "application/json"})
    assert made.status_code == 200, made.text
    assert made.json()["info"] == {"n": [6.524901750278915e28]}
    stored = client.get(f"/v1/annotationsets/{made.json()['id']}").json()
    assert stored["info"] == {"n": [6.524901750278915e28]}


@given(
    body=st.binary(max_size=64),
    status=st.sampled_from([200, 201, 204, 304, 400, 401, 404, 405, 409, 413, 429, 500, 503]),
    headers=st.none() | st.dictionaries(
        st.sampled_from(["Allow", "Retry-After", "Connection", "X-Extra", "Content-Type"]),
        st.text(alphabet="abcdefgh ,0123456789", max_size=8),
        max_size=3,
    ),
)
def test_a_json_response_carries_the_headers_starlette_would_give_it(
    body: bytes, status: int, headers: dict[str, str] | None
) -> None:
    ours = JsonResponse(body, status_code=status, headers=headers)
    starlettes = Response(body, status_code=status, headers=headers, media_type=JSON_MEDIA_TYPE)
    assert ours.raw_headers == starlettes.raw_headers
    assert (ours.status_code, ours.body, ours.background) == (status, body, None)
