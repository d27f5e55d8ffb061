"""Build the FastAPI application: routes, the access middleware, error shapes, background loops.

``create_app`` wires the music and scores routers to a store and to the validator's hooks
(organic gateway, leaderboard, registration check) and to the backends replicas share
(:mod:`tuneforge.api.backends`: Redis or this process). The app's lifespan — run by uvicorn, not by
in-process test transports — runs, until shutdown, the job workers (only with a gateway: an API
replica without a validator accepts jobs and leaves them to the validators' workers), the webhook
dispatcher, the maintenance loop and, with Redis, the wake-up relays. ``GET /health`` answers
while the process serves; ``GET /ready`` only while the database (and Redis) answer. Validation errors become 400 with the field
named (``"duration_seconds: must be between 1 and 180"``); every error body is ``{"detail": ...}``.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tuneforge.api import music, scores
from tuneforge.api.auth import AccessMiddleware
from tuneforge.api.backends import SharedBackends, build_backends
from tuneforge.api.context import ApiContext
from tuneforge.api.dashboard import install_dashboard
from tuneforge.api.docs import install_docs
from tuneforge.api.jobs import JobRunner
from tuneforge.api.maintenance import Maintenance
from tuneforge.api.ratelimit import RateLimiter
from tuneforge.api.settings import ApiSettings
from tuneforge.api.webhooks import WebhookDispatcher

__all__ = ["create_app", "validation_detail"]

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
#: Threads for the synchronous routes and the middleware's store calls (anyio's default is 40). On a
#: validator's few cores more threads only fight over the GIL and the database; requests queue instead.
WORKER_THREADS = 8


def validation_detail(errors: list[dict[str, Any]]) -> str:
    """One line naming each invalid field: ``"duration_seconds: must be between 1 and 180"``."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
        kind = err.get("type", "")
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if kind == "json_invalid":
            parts.append("Request body is not valid JSON.")
        elif kind == "missing" and not loc:
            parts.append("Request body is required (JSON object).")
        elif kind == "model_attributes_type":
            parts.append("Request body must be a JSON object.")
        elif kind == "extra_forbidden":
            parts.append(f"{'.'.join(loc)}: unknown field")
        else:
            parts.append(f"{'.'.join(loc) or 'body'}: {msg[:1].lower() + msg[1:]}")
    return "; ".join(dict.fromkeys(parts)) or "Invalid request."


def readiness(ctx: ApiContext) -> tuple[dict[str, Any], int]:
    """``({"status", "checks", ...}, HTTP status)``: 200 when every probe answers, else 503."""
    checks: dict[str, str] = {}
    for name, probe in ctx.ready_checks.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # a probe's failure is the answer, not an error of this route
            checks[name] = f"unreachable: {type(exc).__name__}"
            log.warning("readiness: %s unreachable: %s: %s", name, type(exc).__name__, exc)
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "unavailable", "checks": checks}
    if ctx.registry_age is not None:
        age = ctx.registry_age()
        body["registry_age_s"] = None if age is None else round(age, 1)
    return body, 200 if ok else 503


def create_app(
    *,
    store: Any,
    settings: ApiSettings,
    gateway: Any = None,
    leaderboard: Callable[[], list[dict[str, Any]]] = lambda: [],
    is_registered: Callable[[str], bool] = lambda hotkey: False,
    limiter: RateLimiter | None = None,
    backends: SharedBackends | None = None,
    registry_age: Callable[[], float | None] | None = None,
    run_jobs: bool | None = None,
) -> FastAPI:
    """The API app. ``gateway``: the validator's organic gateway (``await gateway.generate(request,
    num_candidates=, timeout=)``). ``run_jobs`` (default: whether a gateway is given) runs job
    workers in the lifespan; workers without a gateway fail every job they claim, with a refund."""
    backends = backends or build_backends(settings, store, limiter=limiter)
    ctx = ApiContext(store=store, settings=settings, gateway=gateway, leaderboard=leaderboard,
                     is_registered=is_registered, limiter=backends.limiter, wake_jobs=backends.wake_jobs,
                     wake_webhooks=backends.wake_webhooks, nonces=backends.nonces,
                     ready_checks=dict(backends.ready_checks), registry_age=registry_age)
    store.sync_plans(settings.plan_limits)
    work_jobs = gateway is not None if run_jobs is None else run_jobs

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        jobs = app.state.jobs
        # Bind (and relay from Redis) only the wake-ups this loop waits on: a validator working its
        # jobs on its own loop binds ctx.wake_jobs there, and the routes' set() reaches it across threads.
        wake_hooks = ctx.wake_webhooks.bind()
        waited = [ctx.wake_webhooks]
        if work_jobs:
            wake_jobs = ctx.wake_jobs.bind()
            waited.append(ctx.wake_jobs)
        tasks = [asyncio.create_task(relay.relay(stop)) for relay in backends.relays() if relay in waited]
        if work_jobs:
            await asyncio.to_thread(jobs.recover)
            tasks += [asyncio.create_task(jobs.run(stop, wake_jobs, name=f"jobs-{i}"))
                      for i in range(settings.job_workers)]
        tasks.append(asyncio.create_task(app.state.webhooks.run(stop, wake_hooks)))
        tasks.append(asyncio.create_task(Maintenance(ctx).run(stop)))
        try:
            yield
        finally:
            stop.set()  # every loop waits on it too
            done, pending = await asyncio.wait(tasks, timeout=10.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            aclose = getattr(ctx.limiter, "aclose", None)
            if aclose is not None:
                await aclose()

    app = FastAPI(
        title="TuneForge API", version=API_VERSION, lifespan=lifespan,
        description="Text-to-music generation on the TuneForge Bittensor subnet, and the subnet's scores. "
                    "Contract, examples and errors: docs/api.md.",
        docs_url=None, redoc_url=None,  # served from this package by install_docs: no CDN, works offline
    )
    install_docs(app)
    app.state.ctx = ctx
    app.state.jobs = JobRunner(ctx)
    app.state.webhooks = WebhookDispatcher(ctx)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": validation_detail(list(exc.errors()))})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content={"detail": str(exc.detail)},
                            headers=getattr(exc, "headers", None))

    @app.get("/api/v1/health", tags=["meta"], summary="Liveness and queue depth")
    def health(request: Request) -> dict[str, Any]:
        return {"status": "ok", "pending_jobs": request.app.state.ctx.store.pending_job_count()}

    @app.get("/health", tags=["meta"], summary="Alive: the process serves requests (no dependency checked)")
    def alive() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/ready", tags=["meta"], summary="Ready: the database (and Redis, when configured) answer",
             responses={503: {"description": "a dependency is unreachable"}})
    def ready(request: Request) -> JSONResponse:
        return JSONResponse(*readiness(request.app.state.ctx))

    app.include_router(music.router)
    app.include_router(scores.router)
    install_dashboard(app)  # /dashboard: public, read-only
    app.add_middleware(AccessMiddleware, ctx=ctx)
    return app
