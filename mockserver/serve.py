"""``genomics-mock serve``: the standalone server for CI and local use.

Start-up order matters for "nothing overwritten": every input (tokens, state
file, seed file) is read and checked and the port is bound *before* anything
is written; any failure prints one line to stderr and exits non-zero:

====  =====================================================
code  meaning
====  =====================================================
0     stopped by SIGTERM/SIGINT after draining and saving
1     the last changes could not be saved (what is on disk is the last durable state)
2     bad command line (unknown option, bad value)
3     a tokens, seed, state or journal file, storage root or URL file that cannot be used
4     cannot listen on host:port (in use, no permission)
====  =====================================================

``--storage-root`` is created when missing (its parent must exist): in the container a volume
mounted over ``/data`` hides the image's ``/data/storage``. ``--url-file`` receives the URL
once the port is bound, which is what ``genomics-mock health`` (the image's HEALTHCHECK)
probes, so a ``--port`` on the command line is followed too.

With ``--state FILE``: an existing file (and its journal) is loaded, and
``--seed`` ignored (the state already holds it); a missing file starts from
``--seed`` (or empty) and is written before the port is served. Every change
is journaled within ~0.1 s; a full state file is rewritten in the background
when the journal has grown (at least every ``--save-interval`` seconds while
changes arrive). See :mod:`mockserver.persistence`.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mockserver.env import env_default, env_flag
from mockserver.request_body import MAX_REQUEST_BYTES, READ_TIMEOUT

EXIT_OK, EXIT_SAVE_FAILED, EXIT_USAGE, EXIT_INPUT, EXIT_LISTEN = 0, 1, 2, 3, 4

log = logging.getLogger("genomics_mock")


class StartupError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int) -> int:
    print(f"genomics-mock: error: {message}", file=sys.stderr, flush=True)
    return code


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_LISTEN) from None
    sock.set_inheritable(True)
    return sock


def build(args: argparse.Namespace) -> tuple[Any, Any]:
    """(app, store or None) with all inputs loaded; raises StartupError.

    Every input is checked before the web stack (connexion) is even imported, so a
    bad file is reported in well under a second.
    """
    from mockserver.auth import TokenFileError, TokenRegistry
    from mockserver.backend import Backend
    from mockserver.persistence import StateFileError, Store
    from mockserver.seed import SeedError, load_seed, read_seed_file

    try:
        tokens = TokenRegistry.from_file(args.tokens) if args.tokens else TokenRegistry()
    except (OSError, TokenFileError) as exc:
        raise StartupError(f"tokens file {args.tokens}: {exc}", EXIT_INPUT) from None
    token_file = tokens.snapshot()
    seed = None
    if args.seed:
        try:
            seed = read_seed_file(args.seed)
        except SeedError as exc:
            raise StartupError(str(exc), EXIT_INPUT) from None
    for option, root in (("--storage-root", args.storage_root), ("--bigquery-root", args.bigquery_root)):
        if root:
            _storage_directory(option, Path(root))
    if args.seed_root and not Path(args.seed_root).is_dir():
        raise StartupError(f"--seed-root {args.seed_root} is not a directory", EXIT_INPUT)
    backend = Backend(storage_root=args.storage_root, bigquery_root=args.bigquery_root)
    backend.operations.mode = args.operations
    loaded = False
    store = None
    if args.state:
        state_dir = Path(args.state).resolve().parent
        if not state_dir.is_dir():
            raise StartupError(f"--state {args.state}: directory {state_dir} does not exist", EXIT_INPUT)
        store = Store(args.state, backend, tokens, compact_interval=args.save_interval)
        try:
            loaded = store.load()
        except StateFileError as exc:
            raise StartupError(str(exc), EXIT_INPUT) from None
        if loaded:
            tokens.load(token_file)  # the --tokens file as given now wins over the saved copy
    if seed is not None and not loaded:
        try:
            load_seed(backend, seed, tokens, base_dir=Path(args.seed).resolve().parent,
                      seed_root=args.seed_root)
        except SeedError as exc:
            raise StartupError(f"seed file {args.seed}: {exc}", EXIT_INPUT) from None

    from mockserver.app import create_app

    app = create_app(
        backend, auth=args.auth, tokens=tokens, admin=not args.no_admin, admin_token=args.admin_token,
        seed_root=args.seed_root, max_request_bytes=args.max_request_bytes, read_timeout=args.read_timeout,
        cors=not args.no_cors,
    )
    control = app.state.control
    if store is not None and loaded:
        control.capture_baseline(restore_with=store.restore_loaded)  # no copy of a large state
    elif seed is not None:
        control.capture_baseline()
    if store is not None:
        control.persistence = store
        try:
            store.start()  # journal from here on; a fresh or upgraded state is written at once
        except OSError as exc:
            raise StartupError(f"--state {args.state}: cannot write it: {exc.strerror or exc}",
                               EXIT_INPUT) from None
    return app, store


def _storage_directory(option: str, root: Path) -> None:
    """Create --storage-root (or --bigquery-root) when missing (its parent must exist): a volume
    mounted over the image's /data hides the directory the image made, and the server should
    still start."""
    try:
        root.mkdir(exist_ok=True)
    except FileExistsError:
        raise StartupError(f"{option} {root} exists and is not a directory", EXIT_INPUT) from None
    except OSError as exc:
        raise StartupError(f"{option} {root}: cannot create it: {exc.strerror or exc}",
                           EXIT_INPUT) from None


def _write_url_file(path: str, url: str) -> None:
    from mockserver.persistence import write_atomic

    try:
        write_atomic(path, [(url + "\n").encode("utf-8")])
    except OSError as exc:
        raise StartupError(f"--url-file {path}: cannot write it: {exc.strerror or exc}", EXIT_INPUT) from None


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        sock = _bind(args.host, args.port)
        app, store = build(args)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/"
        if args.url_file:
            _write_url_file(args.url_file, url)
    except StartupError as exc:
        return fail(str(exc), exc.code)
    import gc

    import uvicorn

    # the app and the loaded state live as long as the process: kept out of the collector's
    # sight, no full collection walks them again (~0.1-0.3 s per collection with a large state)
    gc.freeze()

    signals: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        signals.append(signum)
        server.should_exit = True
        if len(signals) > 1 and signum == signal.SIGINT:
            server.force_exit = True

    from mockserver.live import server_config

    server = uvicorn.Server(
        server_config(app, log_level=args.log_level, access_log=args.access_log, timeout_graceful_shutdown=10)
    )
    if args.access_log:  # uvicorn logs requests at INFO: show them whatever --log-level says
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    details = [f"auth {args.auth}", "admin off" if args.no_admin else "admin /_mock/"]
    if args.state:
        details.append(f"state {args.state}")
    print(f"genomics-mock serving the Genomics v1 API on {url} ({', '.join(details)})", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        app.state.backend.operations.shutdown()
        if args.url_file:
            Path(args.url_file).unlink(missing_ok=True)
    code = EXIT_OK
    if store is not None:
        from mockserver.persistence import StateFileError

        try:
            store.close()
        except StateFileError as exc:
            code = fail(f"saving state to {args.state} failed: {exc}", EXIT_SAVE_FAILED)
    print("genomics-mock stopped" + (f"; state saved to {args.state}" if store and not code else ""),
          flush=True)
    return code


def add_listen_arguments(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    """--host, --port and --url-file: shared by ``serve`` and ``health`` (same variables, same defaults)."""
    parser.add_argument("--host", default=env_default(env, "GENOMICS_MOCK_HOST", "127.0.0.1"),
                        help="[GENOMICS_MOCK_HOST] 127.0.0.1")
    parser.add_argument("--port", type=_port, default=env_default(env, "GENOMICS_MOCK_PORT", 8080),
                        help="[GENOMICS_MOCK_PORT] 8080; 0 picks a free port")
    parser.add_argument("--url-file", default=env_default(env, "GENOMICS_MOCK_URL_FILE"), metavar="FILE",
                        help="[GENOMICS_MOCK_URL_FILE] serve writes the URL it listens on here once it "
                        "listens (removed on exit); health reads it")


def add_arguments(serve: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    def default(name: str, fallback: Any = None, convert: Any = None) -> Any:
        return env_default(env, f"GENOMICS_MOCK_{name}", fallback, convert)

    add_listen_arguments(serve, env)
    serve.add_argument("--seed", default=default("SEED"), metavar="FILE",
                       help="[GENOMICS_MOCK_SEED] YAML/JSON fixtures loaded at start-up")
    serve.add_argument("--state", default=default("STATE"), metavar="FILE",
                       help="[GENOMICS_MOCK_STATE] persist state here (loaded at start, every change "
                       "journaled to FILE.journal.N)")
    serve.add_argument("--save-interval", type=_seconds, default=default("SAVE_INTERVAL", 60.0),
                       metavar="SECONDS", help="[GENOMICS_MOCK_SAVE_INTERVAL] 60; every change is journaled "
                       "at once, the state file is rewritten at least this often while changes arrive "
                       "(sooner when the journal outgrows it)")
    serve.add_argument("--auth", choices=["open", "strict"], default=default("AUTH", "open"),
                       help="[GENOMICS_MOCK_AUTH] open: no credentials act as the owner; strict: 401")
    serve.add_argument("--tokens", default=default("TOKENS"), metavar="FILE",
                       help="[GENOMICS_MOCK_TOKENS] YAML/JSON bearer tokens and API keys")
    serve.add_argument("--storage-root", default=default("STORAGE_ROOT"), metavar="DIR",
                       help="[GENOMICS_MOCK_STORAGE_ROOT] directory standing in for gs:// buckets, "
                       "created if missing (default: a temporary directory)")
    serve.add_argument("--bigquery-root", default=default("BIGQUERY_ROOT"), metavar="DIR",
                       help="[GENOMICS_MOCK_BIGQUERY_ROOT] directory standing in for BigQuery "
                       "(variantsets.export writes PROJECT/DATASET/TABLE.jsonl), created if missing "
                       "(default: .bigquery in the storage root)")
    serve.add_argument("--operations", choices=["background", "immediate", "manual"],
                       default=default("OPERATIONS", "background"),
                       help="[GENOMICS_MOCK_OPERATIONS] how import/export operations run; manual: "
                       "until POST /_mock/operations/{id}:complete")
    serve.add_argument("--log-level", default=default("LOG_LEVEL", "warning"),
                       choices=["critical", "error", "warning", "info", "debug"],
                       help="[GENOMICS_MOCK_LOG_LEVEL] warning")
    serve.add_argument("--access-log", action="store_true", default=default("ACCESS_LOG", False, env_flag),
                       help="[GENOMICS_MOCK_ACCESS_LOG] log every request")
    serve.add_argument("--no-admin", action="store_true", default=default("NO_ADMIN", False, env_flag),
                       help="[GENOMICS_MOCK_NO_ADMIN] turn off the /_mock/ admin API (health stays)")
    serve.add_argument("--no-cors", action="store_true", default=default("NO_CORS", False, env_flag),
                       help="[GENOMICS_MOCK_NO_CORS] answer browsers without CORS headers")
    serve.add_argument("--admin-token", default=default("ADMIN_TOKEN"), metavar="TOKEN",
                       help="[GENOMICS_MOCK_ADMIN_TOKEN] a bearer token that may call the admin API "
                       "(with --auth strict: it and superusers' tokens only)")
    serve.add_argument("--seed-root", default=default("SEED_ROOT"), metavar="DIR",
                       help="[GENOMICS_MOCK_SEED_ROOT] a directory whose files seeds loaded through "
                       "the admin API may name, besides --storage-root")
    serve.add_argument("--max-request-bytes", type=_byte_count,
                       default=default("MAX_REQUEST_BYTES", MAX_REQUEST_BYTES), metavar="N",
                       help="[GENOMICS_MOCK_MAX_REQUEST_BYTES] 16777216 (16 MiB); a larger body is 413")
    serve.add_argument("--read-timeout", type=_seconds, default=default("READ_TIMEOUT", READ_TIMEOUT),
                       metavar="SECONDS", help="[GENOMICS_MOCK_READ_TIMEOUT] 30; a request body that "
                       "pauses longer is 408")


def add_health_arguments(health: argparse.ArgumentParser, env: Mapping[str, str]) -> None:
    add_listen_arguments(health, env)
    health.add_argument("--wait", type=_seconds, default=None, metavar="SECONDS",
                        help="keep trying for up to SECONDS (default: one try)")


def health_url(args: argparse.Namespace) -> str:
    """Where ``serve`` listens: its --url-file when present, else --host/--port (a wildcard host
    is probed on loopback)."""
    if args.url_file:
        try:
            written = Path(args.url_file).read_text(encoding="utf-8").strip()
        except OSError:
            written = ""
        if written:
            return written.rstrip("/")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(args.host, args.host)
    return f"http://[{host}]:{args.port}" if ":" in host else f"http://{host}:{args.port}"


def health(args: argparse.Namespace) -> int:
    """``genomics-mock health``: 0 when GET /_mock/health answers ``{"status": "ok"}``, else 1."""
    import json
    import time
    import urllib.request

    deadline = time.monotonic() + (args.wait or 0)
    while True:
        url = health_url(args)
        try:
            with urllib.request.urlopen(f"{url}/_mock/health", timeout=3) as response:
                status = json.loads(response.read()).get("status")
            if status == "ok":
                print(f"genomics-mock at {url}/ is healthy", flush=True)
                return 0
            problem = f"answered status {status!r}"
        except (OSError, ValueError) as exc:
            problem = str(getattr(exc, "reason", None) or exc)
        if time.monotonic() >= deadline:
            return fail(f"no healthy genomics-mock at {url}/ ({problem})", 1)
        time.sleep(0.2)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"port must be a number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, got {value}")
    return value


def _byte_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of bytes, got {text!r}") from None
    if value < 1024:
        raise argparse.ArgumentTypeError(f"must be at least 1024 bytes, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 3600 seconds, got {value}")
    return value
