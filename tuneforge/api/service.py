"""Serve the API from inside the validator process: uvicorn in a background thread.

``ApiService.from_validator(validator, settings)`` takes the validator's store (which the validator
built, once, in its set-up), its organic gateway, leaderboard snapshot and registration check.
``start()`` returns once the port accepts connections and raises :class:`ApiStartError` when the
port is taken or the server dies on start; the app's lifespan then recovers interrupted jobs and
runs the job workers, webhook delivery and maintenance. ``stop()`` shuts the server down cleanly.
"""

import errno
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from tuneforge.api.app import create_app
from tuneforge.api.http_server import uvicorn_options
from tuneforge.api.settings import ApiSettings

__all__ = ["ApiService", "ApiStartError"]

log = logging.getLogger(__name__)

START_TIMEOUT_S = 20.0


class ApiStartError(RuntimeError):
    """The API server could not start (port busy, bad address, crash during start-up)."""


def _check_port(host: str, port: int) -> None:
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
            raise ApiStartError(f"cannot serve the API on {host}:{port}: {reason} (choose another --api.port)") from exc


class ApiService:
    """The HTTP API of one validator, served by uvicorn in a daemon thread."""

    def __init__(self, *, store: Any, settings: ApiSettings, gateway: Any = None,
                 leaderboard: Any = None, is_registered: Any = None, backends: Any = None,
                 run_jobs: bool | None = None) -> None:
        self.store = store
        self.settings = settings
        self.app = create_app(
            store=store, settings=settings, gateway=gateway,
            leaderboard=leaderboard or (lambda: []), is_registered=is_registered or (lambda hotkey: False),
            backends=backends, run_jobs=run_jobs,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    @classmethod
    def from_validator(cls, validator: Any, settings: ApiSettings) -> "ApiService":
        """The API of a set-up validator: its store (the validator builds it, once), its organic
        gateway, leaderboard snapshot and registration check. Raises ValueError without a store."""
        store = getattr(validator, "store", None)
        if store is None:
            raise ValueError("the validator has no store: call setup() before serving its API")
        # A validator that works its organic jobs on its own loop (tuneforge.validator.neuron) shares
        # its backends (wake-ups) with the API and the API runs no job workers of its own.
        own_workers = getattr(validator, "api_backends", None) is not None
        return cls(store=store, settings=settings, gateway=getattr(validator, "organic", None),
                   leaderboard=validator.leaderboard_snapshot, is_registered=validator.is_registered,
                   backends=getattr(validator, "api_backends", None), run_jobs=False if own_workers else None)

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.settings.port

    @property
    def url(self) -> str:
        """Base URL of the running API (loopback when listening on every interface)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        host = "127.0.0.1" if self.settings.host in ("0.0.0.0", "", "::") else self.settings.host
        return f"http://{host}:{self.port}"

    def start(self) -> "ApiService":
        if self._thread is not None and self._thread.is_alive():
            return self
        _check_port(self.settings.host, self.settings.port)
        config = uvicorn.Config(self.app, host=self.settings.host, port=self.settings.port, log_level="warning",
                                access_log=False, lifespan="on", timeout_graceful_shutdown=5,
                                **uvicorn_options(self.settings))
        server = uvicorn.Server(config)
        self._server = server
        failure: list[BaseException] = []

        def serve() -> None:
            try:
                server.run()
            except BaseException as exc:  # uvicorn exits with SystemExit on bind failures
                failure.append(exc)

        self._thread = threading.Thread(target=serve, name="tuneforge-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._server = None
                why = f"{type(failure[0]).__name__}: {failure[0]}" if failure else "see the log above"
                raise ApiStartError(f"the API server on {self.settings.host}:{self.settings.port} did not start ({why})")
            time.sleep(0.02)
        sockets = [s for srv in (server.servers or []) for s in srv.sockets]
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info("API listening on %s (docs at %s/docs)", self.url, self.url)
        return self

    def stop(self, *, timeout_s: float = 15.0) -> None:
        """Stop accepting requests, finish the background loops and join the thread. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=timeout_s)
        if thread.is_alive():
            log.error("the API server did not stop within %.0f s", timeout_s)
        self._server, self._thread = None, None
