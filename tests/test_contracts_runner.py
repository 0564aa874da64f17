"""The conformance command: a separately started server, JUnit output, failure reproductions."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from contracts.local import _live_server
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
