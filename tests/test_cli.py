"""The ``genomics-mock`` command line as a user meets it: help, versions, one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockserver import __version__
from mockserver.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("serve", "health", "conformance", "spec")


def _exit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_version_on_every_command(capsys, command):
    code, out, _err = _exit(capsys, *command, "--version")
    assert (code, out.strip()) == (0, f"genomics-mock {__version__}")


def test_package_metadata_agrees_with_the_version_shown():
    from importlib.metadata import version

    assert version("genomics-mock") == __version__


@pytest.mark.parametrize("command", [(), *((c,) for c in COMMANDS)])
def test_help_is_plain_text(capsys, command):
    code, out, _err = _exit(capsys, *command, "--help")
    assert code == 0
    assert "``" not in out and ":mod:" not in out  # no reST leaking from docstrings


def test_top_level_help_lists_every_command(capsys):
    _code, out, _err = _exit(capsys, "--help")
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", out, re.M), command


def test_an_unknown_option_is_reported_by_its_command_with_a_suggestion(capsys):
    code, _out, err = _exit(capsys, "serve", "--prot", "8080")
    assert code == 2
    assert err.strip() == (
        "genomics-mock serve: error: unrecognized arguments: --prot 8080; did you mean --port? "
        "(see genomics-mock serve --help)"
    )


@pytest.mark.parametrize(
    ("var", "value", "reason"),
    [
        ("GENOMICS_MOCK_PORT", "abc", "port must be a number"),
        ("GENOMICS_MOCK_PORT", "70000", "port must be 0-65535"),
        ("GENOMICS_MOCK_AUTH", "lax", "must be one of open, strict"),
        ("GENOMICS_MOCK_SAVE_INTERVAL", "soon", "must be a number of seconds"),
        ("GENOMICS_MOCK_NO_ADMIN", "maybe", "must be 1/true/yes/on or 0/false/no/off"),
    ],
)
def test_a_bad_environment_value_is_reported_under_the_variable(capsys, monkeypatch, var, value, reason):
    monkeypatch.setenv(var, value)
    code, _out, err = _exit(capsys, "serve")
    assert code == 2
    assert err.startswith(f"genomics-mock serve: error: environment variable {var}={value!r}: {reason}")
    assert "argument --" not in err


def test_environment_values_are_converted_and_the_command_line_wins():
    env = {"GENOMICS_MOCK_PORT": "9999", "GENOMICS_MOCK_NO_ADMIN": "yes", "GENOMICS_MOCK_ACCESS_LOG": "0",
           "GENOMICS_MOCK_SAVE_INTERVAL": "2.5", "GENOMICS_MOCK_NO_CORS": "on"}
    args = build_parser(env).parse_args(["serve"])
    assert (args.port, args.no_admin, args.access_log, args.save_interval) == (9999, True, False, 2.5)
    assert args.no_cors is True and build_parser({}).parse_args(["serve"]).no_cors is False
    assert build_parser(env).parse_args(["serve", "--port", "1234"]).port == 1234


def test_a_bad_serve_variable_does_not_break_other_commands():
    args = build_parser({"GENOMICS_MOCK_PORT": "abc"}).parse_args(["spec", "check"])
    assert args.action == "check"


def test_conformance_help_lists_its_environment_variables(capsys):
    """Every variable docs/conformance.md's option table names is in ``conformance --help``."""
    table = (ROOT / "docs" / "conformance.md").read_text()
    documented = set(re.findall(r"\[`(GENOMICS_[A-Z_]+)`\]", table))
    assert len(documented) >= 5
    _code, out, _err = _exit(capsys, "conformance", "--help")
    assert {v for v in documented if f"[{v}]" not in out} == set()


def test_serve_help_lists_the_variables_of_the_usage_table(capsys):
    """docs/usage.md's option table and ``serve --help`` name the same environment variables."""
    usage = (ROOT / "docs" / "usage.md").read_text()
    documented = set(re.findall(r"\| `(GENOMICS_MOCK_[A-Z_]+)` \|", usage))
    _code, out, _err = _exit(capsys, "serve", "--help")
    shown = set(re.findall(r"\[(GENOMICS_MOCK_[A-Z_]+)\]", out))
    assert documented == shown
