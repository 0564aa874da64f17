"""Proto3 JSON input: every form Google's parser accepts reaches the backend in canonical form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.app import load_spec
from mockserver.errors import ApiError
from mockserver.proto_json import normalize, proto_name
from mockserver.routing import resolved

ANNOTATION_TYPES = ["ANNOTATION_TYPE_UNSPECIFIED", "GENERIC", "VARIANT", "GENE", "TRANSCRIPT"]
VARIANT_EFFECTS = load_spec()["components"]["schemas"]["VariantEffect"]["enum"]


def schema(name: str) -> dict[str, Any]:
    spec = load_spec()
    return resolved(spec, {"$ref": f"#/components/schemas/{name}"}, {})


def test_proto_names_are_the_snake_case_of_json_names():
    assert proto_name("projectId") == "project_id"
    assert proto_name("md5checksums") == "md5checksums"
    assert proto_name("referenceSetId") == "reference_set_id"


def test_canonical_bodies_pass_unchanged():
    body = {"annotationSetId": "s", "start": "1", "end": "5", "type": "GENE", "info": {"k": [None]}}
    out, changed = normalize(schema("Annotation"), body)
    assert out is body and not changed


@pytest.mark.parametrize(
    ("given_body", "canonical"),
    [
        ({"projectId": "p", "name": None}, {"projectId": "p"}),  # null = default
        ({"project_id": "p"}, {"projectId": "p"}),  # the original proto name
        ({"start": 10, "end": 2e1}, {"start": "10", "end": "20"}),  # int64 as numbers
        ({"type": 3}, {"type": "GENE"}),  # an enum by number
        ({"reverse_strand": True}, {"reverseStrand": True}),
        (
            {"transcript": {"exons": [{"start": 1, "end": "4", "frame": "2"}]}},
            {"transcript": {"exons": [{"start": "1", "end": "4", "frame": 2}]}},
        ),  # int32 as a string
        ({"variant": {"effect": 2, "gene_id": "g"}}, {"variant": {"effect": "FRAMESHIFT", "geneId": "g"}}),
        ({"info": {"k": [None, "1"]}}, {"info": {"k": [None, "1"]}}),  # free-form: kept as sent
    ],
)
def test_accepted_forms_become_canonical(given_body, canonical):
    name = "Dataset" if "projectId" in canonical else "Annotation"
    assert normalize(schema(name), given_body)[0] == canonical


def test_search_requests_take_strings_for_int32_and_numbers_for_enums():
    out, _ = normalize(schema("SearchAnnotationSetsRequest"), {"page_size": "10", "types": [1, "GENE"]})
    assert out == {"pageSize": 10, "types": ["GENERIC", "GENE"]}


@pytest.mark.parametrize(
    "value",
    ["ten", "1.5", "NaN", " 10", True, [10]],
)
def test_values_that_are_no_number_are_left_to_the_validator(value):
    out, _ = normalize(schema("SearchAnnotationSetsRequest"), {"pageSize": value})
    assert out == {"pageSize": value}


def test_the_same_field_twice_is_400_naming_it():
    with pytest.raises(ApiError) as info:
        normalize(schema("Dataset"), {"projectId": "p", "project_id": "q"})
    assert info.value.code == 400 and "projectId" in info.value.message
    assert info.value.details[0]["fieldViolations"][0]["field"] == "projectId"
    with pytest.raises(ApiError) as nested:
        normalize(schema("Annotation"), {"transcript": {"geneId": "a", "gene_id": "b"}})
    assert nested.value.details[0]["fieldViolations"][0]["field"] == "transcript.geneId"


# -- the property: any mix of accepted forms means exactly the canonical body ---------------------

canonical_annotations = st.fixed_dictionaries(
    {
        "annotationSetId": st.text(min_size=1, max_size=8),
        "referenceName": st.sampled_from(["chr1", "1", "chrX"]),
        "start": st.integers(0, 2**40).map(str),
        "end": st.integers(0, 2**40).map(str),
        "type": st.sampled_from(ANNOTATION_TYPES[1:]),
        "reverseStrand": st.just(True),
        "variant": st.fixed_dictionaries(
            {"effect": st.sampled_from(VARIANT_EFFECTS[1:]), "geneId": st.text(max_size=4)}
        ),
    }
)


@st.composite
def accepted_forms(draw: Any, canonical: dict[str, Any]) -> dict[str, Any]:
    """``canonical`` rewritten field by field into forms the proto3 JSON mapping also accepts."""

    def rewrite(value: Any, enum: list[str] | None = None, top: bool = False) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                name = proto_name(key) if draw(st.booleans()) else key
                sub_enum = {"type": ANNOTATION_TYPES, "effect": VARIANT_EFFECTS}.get(key)
                if key in ("start", "end") and draw(st.booleans()):  # int64: a number instead
                    item = int(item)
                out[name] = rewrite(item, sub_enum)
            if top and draw(st.booleans()):
                out["name"] = None  # an unset field written as null
            return out
        if enum is not None and draw(st.booleans()):
            return enum.index(value)
        return value

    return rewrite(canonical, top=True)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), canonical=canonical_annotations)
def test_any_accepted_form_normalizes_to_the_canonical_body(data, canonical):
    form = data.draw(accepted_forms(canonical))
    out, _ = normalize(schema("Annotation"), form)
    assert out == canonical
    again, changed = normalize(schema("Annotation"), out)
    assert again is out and not changed  # canonical input is left alone


# -- over HTTP: the backend sees the canonical body; unknown fields stay 400 ------------------------


def test_http_bodies_in_every_accepted_form(client):
    dataset = client.post("/v1/datasets", json={"project_id": "p", "name": None})
    assert dataset.status_code == 200, dataset.text
    assert dataset.json()["projectId"] == "p" and "name" not in dataset.json()
    aset = client.post(
        "/v1/annotationsets",
        json={"dataset_id": dataset.json()["id"], "referenceSetId": "EMud_c37lKPXTQ", "type": 3},
    )
    assert aset.status_code == 200 and aset.json()["type"] == "GENE"
    made = client.post(
        "/v1/annotations",
        json={
            "annotation_set_id": aset.json()["id"],
            "referenceName": "chr1",
            "start": 100,
            "end": "2e2",
            "type": 3,
        },
    )
    assert made.status_code == 400  # "2e2" is no int64 text: the validator names the field
    made = client.post(
        "/v1/annotations",
        json={"annotation_set_id": aset.json()["id"], "referenceName": "chr1", "start": 100, "end": 2e2},
    )
    assert made.status_code == 200, made.text
    assert (made.json()["start"], made.json()["end"]) == ("100", "200")  # output stays canonical
    found = client.post(
        "/v1/annotationsets/search",
        json={"dataset_ids": [dataset.json()["id"]], "pageSize": "1", "types": [3]},
    )
    assert found.status_code == 200 and [s["id"] for s in found.json()["annotationSets"]] == [
        aset.json()["id"]
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"projectId": "p", "colour": None},
        {"projectId": "p", "project_id": "p"},
        {"projectId": "p", "name": 5},
    ],
)
def test_http_unknown_repeated_or_mistyped_fields_are_still_400(client, body):
    response = client.post("/v1/datasets", json=body)
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"


# -- the fast path for fields already canonical -------------------------------------------------------

#: a value of every JSON type, and the forms a normalizer rewrites (numbers as text, integral floats)
SAMPLE_VALUES = [
    "", "x", "10", "-3", "1.5", "GENE", 0, 7, -(2**70), True, False, 1.0, 2.5, float("inf"),
    [], ["a"], [1, None], {}, {"k": None}, {"start": 5},
]


def body_nodes() -> list[Any]:
    """The compiled normalizer of every request body schema of the document, and every node under it."""
    from mockserver.proto_json import normalizer

    spec = load_spec()
    nodes: dict[int, Any] = {}
    pending = [
        normalizer(resolved(spec, media["schema"], {}))
        for path in spec["paths"].values()
        for operation in path.values()
        if isinstance(operation, dict)
        for media in ((operation.get("requestBody") or {}).get("content") or {}).values()
        if "schema" in media
    ]
    while pending:
        node = pending.pop()
        if id(node) not in nodes:
            nodes[id(node)] = node
            pending.extend(node.fields.values())
            pending.extend([node.item] if node.item is not None else [])
    return list(nodes.values())


def test_a_field_skipped_as_canonical_is_one_the_walk_keeps_unchanged():
    """An object skips the walk of a field whose value has one of the field's canonical types:
    only sound when the walk returns every such value itself (a wrong entry would let a number
    reach an int64 field, or an integral float an int32 one)."""
    from mockserver.proto_json import ANY_VALUE, _walk

    checked = 0
    for node in body_nodes():
        assert not set(node.canonical) & set(node.aliases)  # a proto name always takes the walk
        for name, kept in node.canonical.items():
            for value in SAMPLE_VALUES:
                if kept is ANY_VALUE or type(value) in kept:
                    assert _walk(node.fields[name], value) is value, (name, value)
                    checked += 1
    assert checked > 100


def test_the_fast_path_changes_nothing_a_field_by_field_walk_would_give():
    """Bodies mixing canonical and rewritten fields (canonical ones before and after a change)."""
    body = {"annotationSetIds": ["s"], "start": 5, "referenceName": "chr1", "page_size": "10", "end": "9"}
    out, changed = normalize(schema("SearchAnnotationsRequest"), body)
    assert changed
    canonical = {"annotationSetIds": ["s"], "start": "5", "referenceName": "chr1", "pageSize": 10, "end": "9"}
    assert out == canonical
    assert list(out) == ["annotationSetIds", "start", "referenceName", "pageSize", "end"]
