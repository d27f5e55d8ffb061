"""``tuneforge api serve``: one API replica, no validator in the process.

A replica answers the public API from the shared database: it authenticates keys, reserves
credits and queues generation jobs (the validators' job workers claim and run them, see
:mod:`tuneforge.api.jobs`), serves statuses, audio and scores, and delivers webhooks (deliveries
are claimed, so replicas never send the same attempt twice). Hotkey-signed routes check callers
against the registry the validator publishes in the database (:mod:`tuneforge.api.registry`).
Run several behind a load balancer over one PostgreSQL database and one Redis
(``--api.database_url postgresql+psycopg://... --api.redis_url redis://...``): rate-limit windows,
nonces and job wake-ups are then shared; without Redis each replica keeps its own windows, so
only run one replica that way. SQLite (the default, under ``--state-dir``) serves one replica on
the validator's machine.

``GET /health`` answers while the process runs; ``GET /ready`` while the database and Redis
answer (load balancers route on it). SIGTERM/SIGINT stop accepting, finish requests in flight and
the background loops, then exit 0.
"""

import argparse
import logging
import signal
from typing import Any

__all__ = ["add_serve_parser", "build_replica", "run_serve"]

log = logging.getLogger(__name__)

#: Seconds a replica reuses the published registry before reading it again.
REGISTRY_TTL_S = 5.0


def add_serve_parser(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add ``serve`` under ``tuneforge api`` (``common``: ``--state-dir``, ``--api.database_url``, ...)."""
    from tuneforge.api.settings import ApiSettings

    serve = groups.add_parser("serve", parents=[common], help="Serve the HTTP API as its own process (a replica).",
                              description=__doc__.split("\n\n")[1], conflict_handler="resolve")
    d = ApiSettings.__dataclass_fields__
    serve.add_argument("--api.host", dest="api.host", default="127.0.0.1",
                       help="Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface).")
    serve.add_argument("--api.port", dest="api.port", type=int, default=d["port"].default,
                       help="Port (default 8000).")
    serve.add_argument("--api.redis_url", dest="api.redis_url", default=None,
                       help="Redis shared by the replicas (rate-limit windows, nonces, job wake-ups).")
    serve.add_argument("--api.public_url", dest="api.public_url", default=None,
                       help="Base URL clients reach the API at (behind a load balancer).")
    serve.add_argument("--api.forwarded_allow_ips", dest="api.forwarded_allow_ips", default="",
                       help="Reverse proxies (IPs/networks) whose X-Forwarded-For is believed (default none).")
    serve.add_argument("--api.webhook_allow_private", dest="api.webhook_allow_private", action="store_true",
                       default=False, help="Allow webhook URLs on loopback/private addresses (test benches only).")
    serve.add_argument("--api.job_lease_s", dest="api.job_lease_s", type=float, default=d["job_lease_s"].default,
                       help="Seconds a claimed job stays leased without renewal (workers' setting; default 30).")
    for plan, limit in d["plan_limits"].default_factory().items():
        serve.add_argument(f"--api.rate_limit_{plan}", dest=f"api.rate_limit_{plan}", type=int, default=limit,
                           help=f"Requests per minute on the {plan} plan (default {limit}).")
    serve.add_argument("--api.rate_limit_hotkey", dest="api.rate_limit_hotkey", type=int,
                       default=d["hotkey_rate_limit_per_minute"].default,
                       help="Requests per minute per hotkey on the scores API (default 300).")


def build_replica(settings: Any) -> tuple[Any, Any]:
    """``(app, store)`` of one replica: the store opened (and migrated), no gateway, the published registry."""
    from tuneforge.api.app import create_app
    from tuneforge.api.registry import PublishedRegistry
    from tuneforge.store import Store

    store = Store(settings.database_url, settings.audio_dir, secret_key_file=settings.secret_key_file)
    registry = PublishedRegistry(store, ttl_s=REGISTRY_TTL_S)
    app = create_app(store=store, settings=settings, gateway=None, leaderboard=registry.leaderboard,
                     is_registered=registry.is_registered, registry_age=registry.age_s, run_jobs=False)
    return app, store


def run_serve(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; 1 with a one-line error when the replica cannot start."""
    import uvicorn

    from tuneforge.api.http_server import uvicorn_options
    from tuneforge.api.service import ApiStartError, _check_port
    from tuneforge.api.settings import ApiSettings
    from tuneforge.store import StoreError

    try:
        settings = ApiSettings.from_args(vars(args), state_dir=args.state_dir)
        _check_port(settings.host, settings.port)
        app, store = build_replica(settings)
    except (ValueError, StoreError, ApiStartError) as exc:
        log.error("tuneforge api serve: %s", exc)
        return 1
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", access_log=False,
                            lifespan="on", timeout_graceful_shutdown=5, **uvicorn_options(settings))
    server = _make_server(config)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: server.request_exit(signum))
    log.info("API replica on %s:%d (database %s, %s)", settings.host, settings.port,
             store.engine.url.render_as_string(hide_password=True),
             f"Redis {settings.redis_url}" if settings.redis_url else "limits in this process")
    try:
        server.run()
    finally:
        store.close()
    if not server.started:
        return 1
    log.info("API replica stopped (%s)", signal.Signals(server.exit_signal).name if server.exit_signal else "exit")
    return 0


def _make_server(config: Any) -> Any:
    """A ``uvicorn.Server`` whose SIGTERM/SIGINT end the process with status 0 after a clean shutdown
    (uvicorn's own handlers re-raise the signal once it has stopped, so the status would be -15)."""
    import contextlib

    import uvicorn

    class Server(uvicorn.Server):
        exit_signal: int | None = None

        @contextlib.contextmanager
        def capture_signals(self) -> Any:  # run_serve's handlers stay in place
            yield

        def request_exit(self, signum: int) -> None:
            self.exit_signal = signum
            if self.should_exit:  # a second signal: stop without waiting for requests in flight
                self.force_exit = True
            self.should_exit = True

    return Server(config)
