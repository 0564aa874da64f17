"""``genomics-mock`` command line: serve the mock, run the conformance suites, build/check the spec."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import NoReturn


def _serve(args: argparse.Namespace) -> int:
    from mockserver.serve import run

    return run(args)


def _spec(args: argparse.Namespace) -> int:
    from mockserver import spec_build

    return spec_build.main_build() if args.action == "build" else spec_build.main_check()


def _conformance(args: argparse.Namespace) -> int:
    from contracts.runner import main as run_conformance

    return run_conformance(args)


class _Parser(argparse.ArgumentParser):
    """Errors are one line (and exit 2), so CI logs show exactly what was wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _serve_doc() -> str:
    return "Run the mock server. Each option can also be set by the environment variable in brackets."


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="genomics-mock", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the mock server", description=_serve_doc())
    from mockserver.serve import add_arguments

    add_arguments(serve, dict(os.environ))
    serve.set_defaults(run=_serve)

    conformance = sub.add_parser(
        "conformance", help="run the contract suites against a server (default: the mock, in-process)"
    )
    from contracts.runner import add_arguments as add_conformance_arguments

    add_conformance_arguments(conformance)
    conformance.set_defaults(run=_conformance)

    spec = sub.add_parser("spec", help="rebuild or check spec/openapi.yaml")
    spec.add_argument("action", choices=["build", "check"])
    spec.set_defaults(run=_spec)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # connexion imports starlette's TestClient, which warns about httpx on every start
    warnings.filterwarnings("ignore", message=".*starlette.testclient")
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
