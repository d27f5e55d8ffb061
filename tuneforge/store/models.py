"""The stored records, as SQLAlchemy 2 declarative models.

Times are Unix seconds (floats) so SQLite and Postgres order them the same way. Identifiers
carry a readable prefix (``acc_``, ``key_``, ``req_``, ``trk_``). JSON columns hold request
parameters, challenges and score breakdowns exactly as the API returns them. The schema itself
is created by the Alembic migrations in ``tuneforge/store/migrations``, never by ``create_all``.
"""

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base", "Plan", "Account", "ApiKey", "LedgerEntry", "Job", "Track", "Round", "SeenNonce",
    "WebhookDelivery", "WebhookAttempt", "PublishedState",
]


class Base(DeclarativeBase):
    pass


class Plan(Base):
    """A subscription plan: its per-minute request limit."""

    __tablename__ = "plans"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)


class Account(Base):
    """An API customer. ``credits`` is the balance; every change to it is a :class:`LedgerEntry`."""

    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(ForeignKey("plans.name"))
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    rate_limit_override: Mapped[int | None] = mapped_column(Integer, nullable=True)
    webhook_secret: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[float] = mapped_column(Float)


class ApiKey(Base):
    """An API key; only its SHA-256 is stored (the key itself is shown once, at creation)."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(Float)
    revoked_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class LedgerEntry(Base):
    """One credit movement: ``delta`` > 0 a grant or refund, < 0 a charge."""

    __tablename__ = "credit_ledger"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    delta: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(32))  # grant | generation | refund
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    created_at: Mapped[float] = mapped_column(Float)


class Job(Base):
    """A generation request: pending → processing → completed | failed.

    A worker that claims a job holds its lease (``lease_owner`` until ``lease_expires_at``) and
    renews it while it works; a job whose lease ran out goes back to pending (or fails, refunded,
    after its last attempt), and only the lease holder may store its tracks or finish it."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    cost: Mapped[int] = mapped_column(Integer)
    refunded: Mapped[int] = mapped_column(Integer, default=0)
    webhook_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    lease_expires_at: Mapped[float | None] = mapped_column(Float, nullable=True)

    __table_args__ = (
        Index("ix_jobs_account_created", "account_id", "created_at"),
        Index("ix_jobs_status_created", "status", "created_at"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
    )


class Track(Base):
    """One scored clip (from a validation round or an organic job) and its audio file."""

    __tablename__ = "tracks"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    variation: Mapped[int | None] = mapped_column(Integer, nullable=True)
    round_id: Mapped[str | None] = mapped_column(String(80), nullable=True, index=True)
    challenge_id: Mapped[str] = mapped_column(String(80))
    uid: Mapped[int] = mapped_column(Integer)
    hotkey: Mapped[str] = mapped_column(String(64), index=True)
    is_organic: Mapped[bool] = mapped_column(Boolean)
    prompt: Mapped[str] = mapped_column(Text)
    genre: Mapped[str] = mapped_column(String(80))
    mood: Mapped[str] = mapped_column(String(80))
    requested_seconds: Mapped[float] = mapped_column(Float)
    duration_seconds: Mapped[float] = mapped_column(Float)  # measured from the audio
    sample_rate: Mapped[int] = mapped_column(Integer)
    channels: Mapped[int] = mapped_column(Integer)
    audio_format: Mapped[str] = mapped_column(String(8))
    audio_sha256: Mapped[str] = mapped_column(String(64), index=True)
    model_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    final_score: Mapped[float] = mapped_column(Float)
    score_breakdown: Mapped[dict[str, Any]] = mapped_column(JSON)
    challenge: Mapped[dict[str, Any]] = mapped_column(JSON)
    rtt_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_tracks_created_id", "created_at", "id"),
        Index("ix_tracks_score", "final_score"),
        Index("uq_tracks_job_variation", "job_id", "variation", unique=True),
    )


class Round(Base):
    """A validation round: its challenge and timing (its clips are :class:`Track` rows)."""

    __tablename__ = "rounds"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    challenge_id: Mapped[str] = mapped_column(String(80))
    challenge: Mapped[dict[str, Any]] = mapped_column(JSON)
    started_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float] = mapped_column(Float)
    num_miners: Mapped[int] = mapped_column(Integer)


class SeenNonce(Base):
    """A signed-request nonce already accepted for a hotkey (replay protection)."""

    __tablename__ = "seen_nonces"
    hotkey: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[float] = mapped_column(Float, index=True)


class WebhookDelivery(Base):
    """A webhook to deliver: ``status`` pending → delivered | failed after the last attempt."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(40), index=True)
    account_id: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)  # the exact JSON body sent
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class WebhookAttempt(Base):
    """One POST of a webhook and what came back."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class PublishedState(Base):
    """State a validator publishes for API replicas that run without it: ``name`` is
    ``"registry"`` (the subnet's registered hotkeys) or ``"leaderboard"``; ``data`` its JSON."""

    __tablename__ = "published_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    published_at: Mapped[float] = mapped_column(Float)
