"""The normalizer: determinism, atomic writes, staleness check and every bad-input case.

Each bad-input test works on copies in tmp_path, builds a good document first, breaks
one input, and asserts the build fails with a one-line message naming the file and the
operation or pointer, while the previous output stays byte-for-byte the same.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver import spec_build
from mockserver.spec_build import SpecError, build, check, path_sort_key, render, run, validate

SEED, COMPLETION, OUT = spec_build.default_paths()


@pytest.fixture(scope="module")
def built() -> str:
    """One validated build of the real inputs, shared by the tests (validation is slow)."""
    return render(SEED, COMPLETION, OUT)


@pytest.fixture
def tree(tmp_path: Path, built: str) -> tuple[Path, Path, Path]:
    """Copies of the seed and completion data plus a good output built from them."""
    seed = tmp_path / "seed.yaml"
    shutil.copyfile(SEED, seed)
    completion = tmp_path / "completion"
    shutil.copytree(COMPLETION, completion)
    out = tmp_path / "openapi.yaml"
    out.write_text(built, encoding="utf-8")
    return seed, completion, out


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def fails(tree: tuple[Path, Path, Path], *needles: str) -> str:
    """Build must raise SpecError mentioning every needle and leave the old output alone."""
    seed, completion, out = tree
    before = out.read_bytes()
    with pytest.raises(SpecError) as info:
        build(seed, completion, out)
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    assert out.read_bytes() == before
    assert sorted(p.name for p in out.parent.iterdir() if p.name.endswith(".tmp")) == []
    return message


# ----------------------------------------------------------------------------- good builds

def test_two_builds_are_byte_identical(tree: tuple[Path, Path, Path], built: str, capsys) -> None:
    seed, completion, out = tree
    out.unlink()
    assert run("build", tree) == 0
    assert "ok" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == built
    assert out.stat().st_mode & 0o444 == 0o444  # world-readable, not mkstemp's 0600


def test_committed_document_is_up_to_date(built: str) -> None:
    assert built == OUT.read_text(encoding="utf-8"), (
        "spec/openapi.yaml is stale: run `genomics-mock spec build`")


def test_run_check_succeeds_on_fresh_output(tree: tuple[Path, Path, Path], capsys) -> None:
    assert run("check", tree) == 0
    assert "ok" in capsys.readouterr().out


# ----------------------------------------------------------------------------- check

def test_check_fails_on_stale_output(tree: tuple[Path, Path, Path], capsys) -> None:
    seed, completion, out = tree
    out.write_text(out.read_text().replace("Success.", "Fine."))
    with pytest.raises(SpecError, match="stale"):
        check(seed, completion, out)
    assert run("check", tree) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0]


def test_check_fails_on_invalid_output(tree: tuple[Path, Path, Path]) -> None:
    seed, completion, out = tree
    edit(out, lambda d: d["info"].pop("version"))
    with pytest.raises(SpecError, match="#/info"):
        check(seed, completion, out)


def test_check_fails_on_missing_output(tree: tuple[Path, Path, Path]) -> None:
    seed, completion, out = tree
    out.unlink()
    with pytest.raises(SpecError, match="cannot read"):
        check(seed, completion, out)


# ----------------------------------------------------------------------------- bad input

def test_missing_seed(tree: tuple[Path, Path, Path], capsys) -> None:
    tree[0].unlink()
    fails(tree, str(tree[0]), "cannot read seed")
    assert run("build", tree) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(tree[0]) in err[0]


def test_unparsable_seed(tree: tuple[Path, Path, Path]) -> None:
    tree[0].write_text("swagger: '2.0'\npaths: {/v1/x: [unclosed\n")
    fails(tree, str(tree[0]), "not valid YAML", "line")


def test_seed_without_paths(tree: tuple[Path, Path, Path]) -> None:
    tree[0].write_text("swagger: '2.0'\n---\n")
    fails(tree, str(tree[0]), "paths")


def test_seed_operation_without_completion(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "callsets.yaml", lambda d: d["operations"].pop("genomics.callsets.delete"))
    fails(tree, str(tree[1]), "genomics.callsets.delete", "DELETE /v1/callsets/{callSetId}", "no completion")


def test_seed_parameter_without_type(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "datasets.yaml",
         lambda d: d["operations"]["genomics.datasets.patch"]["parameters"].pop("updateMask"))
    fails(tree, "datasets.yaml", "genomics.datasets.patch", "updateMask")


def test_completion_references_unknown_schema(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "datasets.yaml", lambda d: d["schemas"]["Dataset"]["fields"].update(name="Nonexistent"))
    fails(tree, "datasets.yaml", "#/schemas/Dataset/fields/name", "'Nonexistent'")


def test_operation_references_unknown_schema(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "callsets.yaml",
         lambda d: d["operations"]["genomics.callsets.get"].update(response="NoSuchMessage"))
    fails(tree, "callsets.yaml", "genomics.callsets.get", "'NoSuchMessage'")


def test_link_to_unknown_operation(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "callsets.yaml",
         lambda d: d["operations"]["genomics.callsets.create"]["links"].append("genomics.callsets.nope"))
    fails(tree, "callsets.yaml", "genomics.callsets.create", "genomics.callsets.nope")


def test_seed_method_mismatch(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "callsets.yaml", lambda d: d["operations"]["genomics.callsets.get"].update(method="post"))
    fails(tree, "callsets.yaml", "genomics.callsets.get", "differs from the seed")


def test_duplicate_schema(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "callsets.yaml",
         lambda d: d["schemas"].update(Dataset={"description": "again", "fields": {}}))
    fails(tree, "Dataset", "datasets.yaml", "callsets.yaml")


def test_unparsable_completion(tree: tuple[Path, Path, Path]) -> None:
    (tree[1] / "reads.yaml").write_text("schemas: {Read: [\n")
    fails(tree, "reads.yaml", "not valid YAML")


def test_result_failing_openapi_validation(tree: tuple[Path, Path, Path]) -> None:
    edit(tree[1] / "document.yaml", lambda d: d["document"]["info"].pop("version"))
    fails(tree, str(tree[2]), "#/info", "OpenAPI 3.0 validation failed")


def test_dangling_ref_in_result(tree: tuple[Path, Path, Path]) -> None:
    def change(d: dict[str, Any]) -> None:
        d["document"]["responses"]["Error"]["content"]["application/json"]["schema"] = {
            "$ref": "#/components/schemas/Missing"}
    edit(tree[1] / "document.yaml", change)
    fails(tree, "#/components/responses/Error", "dangling $ref", "Missing")


def test_unwritable_output_reports_one_line(tree: tuple[Path, Path, Path], capsys) -> None:
    seed, completion, out = tree
    assert run("build", (seed, completion, out.parent / "no-such-dir" / "openapi.yaml")) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no-such-dir" in err[0]


def test_untyped_parameter_is_rejected() -> None:
    spec = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/x": {"get": {
        "parameters": [{"name": "q", "in": "query", "schema": {}}],
        "responses": {"200": {"description": "ok"}}}}}}
    with pytest.raises(SpecError, match="'q' has no schema type"):
        validate(spec, "mem")


# ----------------------------------------------------------------------------- helpers

def test_path_order_puts_verbs_and_literals_before_ids() -> None:
    paths = ["/v1/x/{id}", "/v1/x/{id}:undelete", "/v1/x/search", "/v1/x", "/v1/x:batch",
             "/v1/x/{id}/sub", "/v1/a/{id}"]
    assert sorted(paths, key=path_sort_key) == [
        "/v1/a/{id}", "/v1/x", "/v1/x:batch", "/v1/x/search", "/v1/x/{id}:undelete",
        "/v1/x/{id}/sub", "/v1/x/{id}"]


@pytest.mark.parametrize("expr,want", [
    ("int64", {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}),
    ("[string] | ids", {"type": "array", "items": {"type": "string"}, "description": "ids"}),
    ("{string}", {"type": "object", "additionalProperties": {"type": "string"}}),
    ("info", {"type": "object", "additionalProperties": {"type": "array", "items": {}}}),
    ("Dataset | ignored", {"$ref": "#/components/schemas/Dataset"}),
])
def test_type_expressions(expr: str, want: dict[str, Any]) -> None:
    assert spec_build.Schemas({"Dataset"}).expand(expr, "here") == want
