"""The public music API: submit a generation, poll its status, download audio, list history, account.

Routes run in FastAPI's thread pool (the store is synchronous). The caller was authenticated by
:class:`tuneforge.api.auth.AccessMiddleware`, which leaves the account in ``request.state``
(or the hotkey, for a signed audio download).
"""

import secrets
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from scoring.music_theory import parse_key, parse_meter
from tuneforge.api.credits import generation_cost
from tuneforge.api.views import job_status
from tuneforge.api.webhook_target import webhook_url_problem
from tuneforge.store import JOB_STATUSES, InsufficientCredits, NotFound

__all__ = ["router", "GenerateRequest", "GenerateAccepted"]

router = APIRouter()

MAX_SEED = 2**32 - 1
#: Deepest page of ``/music/generations``: an offset scans that many rows, and past 2**63 the database
#: cannot take the number at all.
MAX_OFFSET = 100_000


class GenerateRequest(BaseModel):
    """A text-to-music request. ``tempo_bpm`` counts quarter notes per minute in every meter.

    Strict JSON types: a number field takes a JSON number (an integer field an integer), a boolean
    field ``true``/``false``, a string field a string. ``"8"``, ``true`` or ``8.0`` where an integer
    belongs are refused with 400, never coerced into something the client did not write (and paid for).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    prompt: str = Field(min_length=1, max_length=2000, description="What the music should be.")
    genre: str | None = Field(default=None, max_length=80)
    mood: str | None = Field(default=None, max_length=80)
    duration_seconds: float = Field(default=15.0, description="Track length in seconds, 1-180.")
    tempo_bpm: int | None = Field(default=None, description="Quarter notes per minute, 20-300.")
    key_signature: str | None = Field(default=None, max_length=20, examples=["Eb minor"])
    time_signature: str | None = Field(default=None, max_length=8, examples=["6/8"])
    instruments: list[str] | None = Field(default=None, max_length=16)
    instrumental: bool | None = Field(default=None, description="true: no vocals. Default: vocals only with lyrics.")
    lyrics: str | None = Field(default=None, max_length=5000)
    seed: int | None = Field(default=None, description=f"0-{MAX_SEED}; variation i uses seed + i.")
    num_variations: int = Field(default=1, description="Tracks to make, 1-4, each from its own seed.")
    format: Literal["wav", "flac"] = "wav"
    webhook_url: str | None = Field(default=None, max_length=2000)

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @field_validator("duration_seconds")
    @classmethod
    def _duration(cls, v: float) -> float:
        if not 1.0 <= v <= 180.0:
            raise ValueError("must be between 1 and 180")
        return float(v)

    @field_validator("tempo_bpm")
    @classmethod
    def _tempo(cls, v: int | None) -> int | None:
        if v is not None and not 20 <= v <= 300:
            raise ValueError("must be between 20 and 300")
        return v

    @field_validator("key_signature")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and parse_key(v) is None:
            raise ValueError("not a key; use e.g. 'C major', 'Eb minor', 'F# major'")
        return v

    @field_validator("time_signature")
    @classmethod
    def _meter(cls, v: str | None) -> str | None:
        if v is not None and parse_meter(v) is None:
            raise ValueError("not a time signature; use e.g. '4/4', '6/8', '7/8'")
        return v

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        cleaned = [i.strip() for i in v]
        if any(not i or len(i) > 60 for i in cleaned):
            raise ValueError("each instrument must be a non-empty name of at most 60 characters")
        return cleaned

    @field_validator("seed")
    @classmethod
    def _seed(cls, v: int | None) -> int | None:
        if v is not None and not 0 <= v <= MAX_SEED:
            raise ValueError(f"must be between 0 and {MAX_SEED}")
        return v

    @field_validator("num_variations")
    @classmethod
    def _variations(cls, v: int) -> int:
        if not 1 <= v <= 4:
            raise ValueError("must be between 1 and 4")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _webhook(cls, v: str | None) -> str | None:
        # URL shape only here; whether private hosts are allowed is a server setting, checked in generate()
        problem = None if v is None else webhook_url_problem(v, allow_private=True)
        if problem:
            raise ValueError(problem)
        return v


class GenerateAccepted(BaseModel):
    request_id: str
    status: str
    estimated_time: float
    credits_charged: int


def estimated_seconds(duration_seconds: float) -> float:
    """A rough wait: miners generate near real time on a GPU; scoring adds a few seconds."""
    return round(10.0 + 1.5 * duration_seconds, 1)


def _account(request: Request) -> dict[str, Any]:
    account = getattr(request.state, "account", None)
    if account is None:
        raise HTTPException(status_code=401, detail="Missing API key: send 'Authorization: Bearer tf_...'.")
    return account


@router.post("/api/v1/music/generate", status_code=201, response_model=GenerateAccepted,
             tags=["music"], summary="Submit a generation (credits are reserved now, refunded on failure)")
def generate(body: GenerateRequest, request: Request) -> dict[str, Any]:
    ctx = request.app.state.ctx
    account = _account(request)
    if body.webhook_url is not None:
        problem = webhook_url_problem(body.webhook_url, allow_private=ctx.settings.webhook_allow_private)
        if problem:
            raise HTTPException(status_code=400, detail=f"webhook_url: {problem}")
    cost = generation_cost(duration_seconds=body.duration_seconds, num_variations=body.num_variations)
    base_seed = body.seed if body.seed is not None else secrets.randbelow(MAX_SEED + 1)
    params = body.model_dump(exclude={"webhook_url"})
    params["seeds"] = [(base_seed + i) % (MAX_SEED + 1) for i in range(body.num_variations)]
    try:
        job = ctx.store.submit_job(account_id=account["id"], params=params, cost=cost, webhook_url=body.webhook_url)
    except InsufficientCredits as exc:
        raise HTTPException(status_code=402, detail=str(exc)) from exc
    ctx.wake_jobs.set()
    return {"request_id": job["id"], "status": job["status"],
            "estimated_time": estimated_seconds(body.duration_seconds), "credits_charged": cost}


@router.get("/api/v1/music/status/{request_id}", tags=["music"], summary="A generation's status and tracks")
def status(request_id: str, request: Request) -> dict[str, Any]:
    account = _account(request)
    try:
        job = request.app.state.ctx.store.get_job(request_id, account_id=account["id"])
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=f"Generation {request_id} not found.") from exc
    return job_status(job)


@router.get("/api/v1/music/generations", tags=["music"], summary="The caller's generations, newest first")
def generations(
    request: Request,
    limit: int = Query(default=20, ge=1, le=100),
    offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    status: str | None = Query(default=None, description="pending | processing | completed | failed"),
) -> dict[str, Any]:
    account = _account(request)
    if status is not None and status not in JOB_STATUSES:
        raise HTTPException(status_code=400, detail=f"status: must be one of {', '.join(JOB_STATUSES)}")
    jobs = request.app.state.ctx.store.list_jobs(account["id"], limit=limit, offset=offset, status=status)
    return {"generations": [job_status(j) for j in jobs], "limit": limit, "offset": offset}


@router.get("/api/v1/music/audio/{filename}", tags=["music"],
            summary="A track's audio (.wav or .flac); API key (own tracks) or hotkey signature (any track)",
            response_class=Response, responses={200: {"content": {"audio/wav": {}, "audio/flac": {}}}})
def audio(filename: str, request: Request) -> Response:
    ctx = request.app.state.ctx
    track_id, dot, ext = filename.rpartition(".")
    if not dot or ext not in ("wav", "flac"):
        raise HTTPException(status_code=404, detail="Audio must be requested as <track_id>.wav or <track_id>.flac.")
    account = getattr(request.state, "account", None)
    try:
        track = ctx.store.get_track(track_id)
        if account is not None and track.get("account_id") != account["id"]:
            raise NotFound(track_id)
        data = ctx.store.track_audio(track_id, ext)
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=f"Track {track_id} not found.") from exc
    return Response(content=data, media_type=f"audio/{ext}",
                    headers={"Content-Disposition": f'attachment; filename="{track_id}.{ext}"'})


@router.get("/api/v1/account/me", tags=["account"], summary="The caller's account, plan, credits and usage")
async def me(request: Request) -> dict[str, Any]:
    ctx = request.app.state.ctx
    # The middleware read the account (joined with its key and plan) for this very request; it is
    # as fresh as a second read would be, so only the usage counts are queried here (one indexed
    # count: on the loop for SQLite, in the pool for a server; see ApiContext.read).
    account = _account(request)
    return {
        "account_id": account["id"], "name": account["name"], "plan": account["plan"],
        "credits": int(account["credits"]), "rate_limit_per_minute": int(account["rate_limit_per_minute"]),
        "usage": await ctx.read(ctx.store.usage, account["id"]),
    }
