"""The conformance command: a separately started server, JUnit output, failure reproductions."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts.core import Target, iter_checks
from contracts.local import _live_server
from contracts.outcome import run_check
from mockserver import cli
from mockserver.app import create_app
from mockserver.backend import paging


def conformance_against_a_live_server(junit: Path, *options: str) -> int:
    """``genomics-mock conformance`` against a fresh mock on a real socket, JUnit XML to ``junit``."""
    with _live_server(create_app()) as server:
        return cli.main(["conformance", "--base-url", server.url, *options, "--junit-xml", str(junit)])


def test_conformance_against_a_running_open_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "report.xml"
    suites = ["--suite", "fields", "--suite", "permissions"]
    code = conformance_against_a_live_server(junit, *suites, "--seed", "3")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "operations covered" in out.replace("\n", " ") or "operations" in out
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"fields", "permissions"}
    assert suites["fields"].get("failures") == "0"
    # an open server with no caller tokens: the fixed-caller check is skipped with a reason, not failed
    skipped = [c for c in root.iter("testcase") if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["fixed_callers"]


def without_variants(app: Any) -> Any:
    """``app`` as a server without the variants methods: every ``/v1/variants`` path is a 404."""
    from starlette.responses import JSONResponse

    async def serve(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/variants"):
            error = {"code": 404, "message": "no such method", "status": "NOT_FOUND", "details": []}
            await JSONResponse({"error": error}, status_code=404)(scope, receive, send)
        else:
            await app(scope, receive, send)

    return serve


def test_a_target_without_variants_skips_their_checks_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "report.xml"
    with _live_server(without_variants(create_app())) as server:
        options = ["--base-url", server.url, "--suite", "model", "--seed", "5", "--junit-xml", str(junit)]
        code = cli.main(["conformance", *options])
        pages = next(c for c in iter_checks(["pagination"]) if c.name == "variants_search_pages")
        paged = run_check(pages, Target(server.url))
    out = capsys.readouterr().out
    reason = "the target serves no variants (POST /v1/variants/search: 404)"
    assert (paged.status, paged.message) == ("skipped", reason)
    assert code == 0, out
    assert f"skipped model::variants_model_run: {reason}" in out
    # the skip is counted apart: it is not a pass
    assert "1/2 checks passed, 1 skipped" in out
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["variants_model_run"].find("skipped").get("message") == reason  # type: ignore[union-attr]
    assert cases["model_based_run"].find("skipped") is None


def test_failure_prints_curl_reproduction_and_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "_canonical", lambda query: {})
    junit = tmp_path / "report.xml"
    code = conformance_against_a_live_server(junit, "--suite", "pagination", "--seed", "7")
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED pagination::page_tokens_bound" in out
    assert "curl -sS -X POST" in out and "pageToken" in out
    assert "--seed 7" in out
    failure: Any = next(
        c for c in ET.parse(junit).getroot().iter("testcase") if c.find("failure") is not None
    )
    assert "curl" in failure.find("failure").text


# -- verdicts that cannot be false passes ------------------------------------------------------


def closed_port_url() -> str:
    import socket

    with socket.socket() as sock:  # bound, never listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_target_is_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = closed_port_url()
    code = cli.main(["conformance", "--base-url", url, "--suite", "schema"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [f"genomics-mock conformance: cannot reach {url}: connection refused"]
    assert "PASS" not in out and "checks passed" not in out


@pytest.mark.parametrize("url", ["localhost:8306", "ftp://example.com", "http://", "127.0.0.1"])
def test_base_url_is_validated_up_front(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["conformance", "--base-url", url])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an absolute http(s) URL" in err[0] and repr(url) in err[0]


def test_a_server_that_does_not_speak_the_api_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse

    async def page(request: Any, exc: Any) -> HTMLResponse:
        return HTMLResponse("<h1>not here</h1>", status_code=404)

    with _live_server(Starlette(routes=[], exception_handlers={404: page})) as server:
        code = cli.main(["conformance", "--base-url", server.url])
    assert code == 2
    err = capsys.readouterr().err
    assert "does not answer like a Genomics v1 server" in err and "404 (text/html)" in err


def test_a_target_refusing_the_writer_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with _live_server(create_app(auth="strict")) as server:
        code = cli.main(["conformance", "--base-url", server.url, "--writer-token", "nobody-knows-me"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "refuses the writer's credentials (401 UNAUTHENTICATED" in err[0]


def test_a_project_scoped_writer_needs_its_project(capsys: pytest.CaptureFixture[str]) -> None:
    from mockserver.auth import TokenRegistry

    tokens = TokenRegistry()
    app = create_app(auth="strict", tokens=tokens, admin_token="set-up")
    with _live_server(app) as server:
        owner = {"member": "user:w@example.com", "token": "w", "roles": ["roles/owner"], "projectId": "mine"}
        admin = {"Authorization": "Bearer set-up"}  # a strict server's admin API needs the admin token
        made = httpx.post(f"{server.url}/_mock/principals", json=owner, headers=admin)
        assert made.status_code == 200
        code = cli.main(["conformance", "--base-url", server.url, "--writer-token", "w"])
    assert code == 2
    assert "give --project, a project where the writer holds roles/owner" in capsys.readouterr().err


def test_a_check_that_evaluates_no_invariant_fails() -> None:
    from contracts.core import Check, Target
    from contracts.runner import run_check

    def looks_busy(ctx: Any) -> None:
        ctx.stats.cases += 5  # requests may have gone out, but nothing was compared

    result = run_check(Check("demo", "looks_busy", "", looks_busy), Target("http://127.0.0.1:1"))
    assert result.status == "failed"
    assert result.message.startswith("checked nothing: 5 cases ran but no invariant was evaluated")


def test_credentials_are_never_generated() -> None:
    from contracts.schema import CREDENTIAL_PARAMETERS, contract_document

    document = contract_document()
    assert f"#/components/parameters/{CREDENTIAL_PARAMETERS[0]}" not in json.dumps(document)
    shared = document["components"]["parameters"]
    names: set[str] = set()
    for item in document["paths"].values():
        for value in [item, *item.values()]:
            for parameter in value.get("parameters", []) if isinstance(value, dict) else []:
                ref = parameter.get("$ref", "").rsplit("/", 1)[-1]
                names.add(parameter.get("name") or shared[ref]["name"])
    assert not names & set(CREDENTIAL_PARAMETERS)
    assert {"fields", "alt", "prettyPrint", "quotaUser"} <= names  # the other standard parameters stay


def test_the_schema_suite_passes_on_an_open_server_without_credentials() -> None:
    """An open server refuses unknown credentials (401, as Google does): had the suite generated
    key/access_token/oauth_token values, this run would fail with 401s."""
    from contracts.core import Target
    from contracts.preflight import prepare
    from contracts.runner import run_suites

    with _live_server(create_app()) as server:
        target = prepare(Target(server.url, seed=2, max_examples=3))
        report = run_suites(target, ["schema"])
    assert not report.failed, "\n".join(f"{r.id}: {r.message[:500]}" for r in report.failed)
    assert all(r.invariants > 0 for r in report.results)


def test_sigint_stops_the_run_with_130_and_junit_says_interrupted(tmp_path: Path) -> None:
    """Ctrl-C while a check waits on the server: exit 130, one line, no traceback, and the JUnit
    report marks that check interrupted and the rest not run."""
    junit = tmp_path / "report.xml"
    with _live_server(create_app()) as server:
        # the first annotations.search of the run is held for 5 s: the run is inside a check
        search = "genomics.annotations.search"
        fault = {"operationId": search, "action": "latency", "fixedMs": 5_000, "count": 1}
        httpx.post(f"{server.url}/_mock/faults", json=fault).raise_for_status()
        command = [sys.executable, "-m", "mockserver.cli", "conformance", "--base-url", server.url,
                   "--suite", "pagination", "--suite", "fields", "--seed", "1", "--junit-xml", str(junit)]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while httpx.get(f"{server.url}/_mock/faults").json()["faults"][0].get("remaining", 1):
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 130, out + err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genomics-mock conformance: interrupted (SIGINT)")
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    interrupted = [n for n, c in cases.items() if c.find("error") is not None]
    assert interrupted == ["annotations_search_order"]
    assert cases["annotations_search_order"].find("error").get("type") == "interrupted"  # type: ignore[union-attr]
    not_run = [n for n, c in cases.items() if c.find("skipped") is not None]
    assert len(not_run) == len(cases) - 1
    assert all("not run" in (cases[n].find("skipped").get("message") or "") for n in not_run)  # type: ignore[union-attr]


def test_annotation_sets_name_a_reference_set_the_target_knows() -> None:
    """The first reference set the target lists that holds the references the suites annotate
    (on the mock: a built-in public set), unless --reference-set-id names one."""
    from contracts.core import Context, Target
    from contracts.preflight import SUITE_REFERENCES, prepare

    with _live_server(create_app()) as server:
        target = prepare(Target(server.url))
        assert target.reference_set_id == "EMWV_ZfLxrDY-wE"  # hg19: the first listed with chr1 ... chrX
        ctx = Context(target)
        made = ctx.new_annotation_set(ctx.new_dataset())
        assert made["referenceSetId"] == target.reference_set_id
        for name, least in SUITE_REFERENCES.items():
            body = {"annotationSetId": made["id"], "referenceName": name, "start": str(least - 1)}
            placed = ctx.writer.post("/v1/annotations", {**body, "end": str(least)})
            assert placed.status_code == 200, placed.text
        ctx.cleanup()
        assert prepare(Target(server.url, reference_set_id="given")).reference_set_id == "given"


@pytest.mark.parametrize(
    ("listed", "chosen"),
    [
        ({"a": {"1": 10**9, "2": 10**9}, "b": {"chr1": 10**9, "chr2": 5000, "chr10": 99, "chrX": 5000}}, "a"),
        ({"a": {"1": 10**9}, "b": {"chr1": 10**9, "chr2": 5000, "chr10": 5000, "chrX": 5000}}, "b"),
        ({"a": {"1": 10**9}, "short": {"chr1": 1000, "chr2": 5000, "chr10": 5000, "chrX": 5000}}, "a"),
        ({}, "contracts-refset"),
    ],
)
def test_the_reference_set_choice_on_other_targets(listed: dict[str, dict[str, int]], chosen: str) -> None:
    """Nothing suitable listed: the first listed (a name-checking target then refuses the suites'
    annotations; --reference-set-id is the way out); nothing listed: the made-up fallback."""
    from contracts.preflight import reference_set_for_suites

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path == "/v1/referencesets/search":
            return httpx.Response(200, json={"referenceSets": [{"id": i} for i in listed]})
        references = listed[body["referenceSetId"]]
        found = [{"name": n, "length": str(v)} for n, v in references.items()]
        return httpx.Response(200, json={"references": found})

    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        assert reference_set_for_suites(http, "http://target", None) == chosen


def test_the_documented_strict_set_up_passes_with_a_project_owner_writer() -> None:
    """docs/conformance.md's set-up: the writer is roles/owner on --project, not a superuser, so
    the target rightly answers it 403 for other projects; the verdicts accept exactly that."""
    from contracts.core import Target
    from contracts.preflight import prepare
    from contracts.runner import run_suites
    from mockserver.auth import TokenRegistry

    tokens = TokenRegistry()
    tokens.add_token("admin", "serviceAccount:admin@example.com", superuser=True)
    with _live_server(create_app(auth="strict", tokens=tokens)) as server:
        callers = {"writer": ["roles/owner"], "reader": ["roles/viewer"], "outsider": []}
        for name, roles in callers.items():
            body = {"member": f"user:{name}@example.com", "token": name, "roles": roles, "projectId": "p"}
            admin = {"Authorization": "Bearer admin"}
            httpx.post(f"{server.url}/_mock/principals", json=body, headers=admin).raise_for_status()
        target = Target(server.url, writer_token="writer", admin_token="admin", reader_token="reader",
                        outsider_token="outsider", project="p", strict_auth=True, seed=3, max_examples=3)
        prepare(target)
        assert target.writer_sees_all_projects is False
        report = run_suites(target, ["pagination", "permissions"])
    assert not report.failed, "\n".join(f"{r.id}: {r.message[:500]}" for r in report.failed)
    assert [r.id for r in report.results if r.status != "passed"] == []


def test_requests_take_int64_as_numbers_too_responses_keep_strings() -> None:
    """proto3 JSON input takes an int64 as a decimal string or a number (Google's parser and the
    mock alike), so the schema suite must not call a number "invalid data"; output stays strings."""
    from contracts.schema import REQUEST_TWIN, contract_document

    document = contract_document({"POST /v1/datasets": {"projectId": "p"}})
    annotations = document["paths"]["/v1/annotations"]["post"]
    body = annotations["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/Annotation{REQUEST_TWIN}"}
    schemas = document["components"]["schemas"]
    start = schemas[f"Annotation{REQUEST_TWIN}"]["properties"]["start"]
    assert [branch.get("type") for branch in start["anyOf"]] == ["string", "integer"]
    assert schemas["Annotation"]["properties"]["start"]["type"] == "string"  # what responses must be
    created = annotations["responses"]["200"]["content"]["application/json"]["schema"]
    assert created == {"$ref": "#/components/schemas/Annotation"}
    example = document["paths"]["/v1/datasets"]["post"]["requestBody"]["content"]["application/json"]
    assert example["example"] == {"projectId": "p"}


def test_every_dataset_a_check_creates_is_deleted_with_it() -> None:
    """Ours and the schema engine's: otherwise they pile up in --project (on a foreign server, for
    good) and every later list of that project pages through them."""
    from contracts.core import Target, iter_checks
    from contracts.preflight import prepare
    from contracts.runner import run_check

    checks = {c.id: c for c in iter_checks()}
    with _live_server(create_app()) as server:
        target = prepare(Target(server.url, project="p", seed=1, max_examples=3))
        for check_id in ("schema::datasets", "pagination::datasets_list_pages", "fields::required_fields"):
            assert run_check(checks[check_id], target).status == "passed", check_id
            left = httpx.get(f"{server.url}/v1/datasets", params={"projectId": "p"}).json()
            assert left.get("datasets", []) == [], check_id
