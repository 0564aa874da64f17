"""``genomics-mock`` command line: serve the mock, build/check the spec."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mockserver.app import create_app
    from mockserver.backend import Backend

    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"genomics-mock: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    backend = Backend()
    app = create_app(backend)
    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log)
    server = uvicorn.Server(config)
    print(f"genomics-mock serving the Genomics v1 API on http://{host}:{port}/", flush=True)
    server.run(sockets=[sock])
    return 0


def _spec(args: argparse.Namespace) -> int:
    from mockserver import spec_build

    return spec_build.main_build() if args.action == "build" else spec_build.main_check()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genomics-mock", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the mock server")
    serve.add_argument("--host", default=os.environ.get("GENOMICS_MOCK_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("GENOMICS_MOCK_PORT", "8080")))
    serve.add_argument("--log-level", default=os.environ.get("GENOMICS_MOCK_LOG_LEVEL", "warning"),
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(run=_serve)

    spec = sub.add_parser("spec", help="rebuild or check spec/openapi.yaml")
    spec.add_argument("action", choices=["build", "check"])
    spec.set_defaults(run=_spec)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
