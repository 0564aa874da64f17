"""A real uvicorn server in a background thread (pytest plugin, CLI conformance, tests).

The socket is bound (port 0 by default) before the thread starts, so the URL
is known at once and no port race exists; start-up takes ~10 ms on the
development machine. (Connexion 3 apps are ASGI: a WSGI server such as
werkzeug's would serve the inner app without Connexion's middleware.)
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from mockserver.compat import HTTP_PROTOCOL


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for serving the mock (``serve`` and :class:`LiveServer`): its
    HTTP protocol writes each response once (:data:`mockserver.compat.HTTP_PROTOCOL`), no
    lifespan events; ``options`` are uvicorn's own and win."""
    return uvicorn.Config(app, **{"http": HTTP_PROTOCOL, "lifespan": "off", **options})


class LiveServer:
    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> None:
        self.app = app
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self.host, self.port = self._socket.getsockname()[:2]
        options = {"log_level": "warning", "access_log": False, **uvicorn_options}
        # uvicorn installs signal handlers only on the main thread, so this one leaves them alone
        self._server = uvicorn.Server(server_config(app, **options))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> LiveServer:
        self._thread = threading.Thread(target=self._run, name=f"genomics-mock:{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"genomics-mock server on {self.url} did not start")
            time.sleep(0.002)
        return self

    def _run(self) -> None:
        # Server.run sets up uvicorn's event loop (uvloop when installed); a plain
        # asyncio.run(serve()) served ~10x fewer requests per second here.
        self._server.run(sockets=[self._socket])

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
