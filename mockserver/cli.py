"""The ``genomics-mock`` command line: serve, health, conformance and spec sub-commands.

Options that can also come from an environment variable get a
:class:`~mockserver.env.FromEnv` default; it is converted and checked after
parsing, so a bad value is reported under the variable's name
(``GENOMICS_MOCK_PORT='abc': ...``), not as if it had been typed as ``--port``.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from mockserver import __version__
from mockserver.env import FromEnv

DESCRIPTION = (
    "genomics-mock: a stateful mock of the Google Genomics v1 REST API, and contract suites "
    "for any server that speaks it. Run 'genomics-mock COMMAND --help' for a command's options."
)
VERSION = f"genomics-mock {__version__}"


class _Parser(argparse.ArgumentParser):
    """One-line errors (exit 2) that point at the right ``--help``; environment defaults checked."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: sub-command name -> its parser, so an unknown option is reported by the sub-command
        self.commands: dict[str, _Parser] = {}

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = super().parse_known_args(args, namespace)
        for action in self._actions:
            value = getattr(namespace, action.dest, None)
            if isinstance(value, FromEnv):
                setattr(namespace, action.dest, self._from_env(action, value))
        return namespace, extras

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        namespace, extras = self.parse_known_args(args, namespace)
        if extras:
            owner = self.commands.get(getattr(namespace, "command", None) or "", self)
            owner.error(owner._unrecognized(extras))
        return namespace

    def _from_env(self, action: argparse.Action, value: FromEnv) -> Any:
        convert = value.convert or action.type or str
        try:
            result = convert(value.text)  # type: ignore[operator]
        except (argparse.ArgumentTypeError, ValueError) as exc:
            self.error(f"environment variable {value!r}: {exc}")
        if action.choices is not None and result not in action.choices:
            choices = ", ".join(map(str, action.choices))
            self.error(f"environment variable {value!r}: must be one of {choices}")
        return result

    def _unrecognized(self, extras: list[str]) -> str:
        message = f"unrecognized arguments: {' '.join(extras)}"
        options = [o for o in self._option_string_actions if o.startswith("--")]
        for extra in extras:
            close = difflib.get_close_matches(extra.partition("=")[0], options, n=1)
            if extra.startswith("-") and close:
                return f"{message}; did you mean {close[0]}?"
        return message


def _serve(args: argparse.Namespace) -> int:
    from mockserver.serve import run

    return run(args)


def _health(args: argparse.Namespace) -> int:
    from mockserver.serve import health

    return health(args)


def _spec(args: argparse.Namespace) -> int:
    from mockserver import spec_build

    return spec_build.main_build() if args.action == "build" else spec_build.main_check()


def _conformance(args: argparse.Namespace) -> int:
    from contracts.runner import main as run_conformance

    return run_conformance(args)


def build_parser(env: Mapping[str, str] | None = None) -> _Parser:
    env = dict(os.environ) if env is None else env
    parser = _Parser(prog="genomics-mock", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=VERSION)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> _Parser:
        made: _Parser = sub.add_parser(name, help=summary, description=description)
        made.add_argument("--version", action="version", version=VERSION)
        parser.commands[name] = made
        return made

    from mockserver.serve import add_arguments, add_health_arguments

    serve = command("serve", "run the mock server",
                    "Run the mock server. Each option can also be set by the environment variable in "
                    "brackets.")
    add_arguments(serve, env)
    serve.set_defaults(run=_serve)

    health = command("health", "check that a running 'genomics-mock serve' answers (exit 0) or not (1)",
                     "Probe GET /_mock/health of a running server: the URL in --url-file when that file "
                     "exists (serve writes it), else --host/--port. Reads the same environment "
                     "variables as serve, so a container's HEALTHCHECK needs no arguments.")
    add_health_arguments(health, env)
    health.set_defaults(run=_health)

    from contracts.runner import add_arguments as add_conformance_arguments

    conformance = command(
        "conformance", "run the contract suites against a server (default: the mock, in-process)",
        "Run the contract suites against a server (default: the mock, started in-process). "
        "Options with a variable in brackets can also be set by that environment variable.",
    )
    add_conformance_arguments(conformance)
    conformance.set_defaults(run=_conformance)

    spec = command("spec", "rebuild or check spec/openapi.yaml",
                   "build: regenerate spec/openapi.yaml from the seed and spec/completion/; "
                   "check: fail when the committed file is stale or invalid.")
    spec.add_argument("action", choices=["build", "check"])
    spec.set_defaults(run=_spec)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # connexion imports starlette's TestClient, which warns about httpx on every start
    warnings.filterwarnings("ignore", message=".*starlette.testclient")
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":  # python -m mockserver.cli: run the package's copy of this module, so
    from mockserver.cli import main as package_main  # FromEnv is one class, not two

    sys.exit(package_main())
