"""The validator's persistent store: accounts, keys, credits, jobs, scored clips, nonces, webhooks.

:class:`Store` opens the database (migrating it to the newest schema first) and the
content-addressed audio directory, and offers one method per operation the API, the validator
and the admin CLI need. Every method runs in its own transaction and returns plain dicts, so no
caller ever holds a session. Credit changes are conditional updates written together with their
ledger row (a balance can never go below zero, even with concurrent submissions). A failed write
rolls the transaction back and removes any audio file it had just created, so nothing already
stored is lost and no orphan file is left.

The same code runs on SQLite and on PostgreSQL. On SQLite one process-wide lock queues the writers
(the database admits one at a time anyway). On PostgreSQL writers run concurrently, in this process
and in others: credit reservations are single ``UPDATE ... WHERE credits >= cost`` statements (and a
``CHECK (credits >= 0)`` backs them), read-modify-write paths lock their rows (``SELECT ... FOR
UPDATE``; SQLite ignores the clause), and workers claim jobs with ``FOR UPDATE SKIP LOCKED``. Text
is stored the way both accept it: values that come from miners or callers are cut to their column's
length (PostgreSQL enforces ``VARCHAR(n)``, SQLite does not) and lose NUL characters (PostgreSQL text
cannot hold them); non-finite floats in JSON columns become ``null`` (PostgreSQL's JSON has no NaN).
"""

import base64
import contextlib
import functools
import hashlib
import io
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import soundfile as sf
from sqlalchemy import Connection, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from tuneforge.store.audio_files import AUDIO_FORMATS, AudioFiles, AudioWriteError
from tuneforge.store.database import is_sqlite, open_engines
from tuneforge.store.migrate import upgrade
from tuneforge.store.models import (
    Account,
    ApiKey,
    Job,
    LedgerEntry,
    Plan,
    PublishedState,
    Round,
    SeenNonce,
    Track,
    WebhookAttempt,
    WebhookDelivery,
)
from tuneforge.store.secret_box import SEALED_PREFIX, SecretBox, SecretKeyError, default_key_file, is_sealed

__all__ = [
    "Store", "StoreError", "StoreWriteError", "InsufficientCredits", "JobLeaseLost", "NotFound", "InvalidCursor",
    "JOB_STATUSES", "hash_api_key", "new_api_key",
]

log = logging.getLogger(__name__)

JOB_STATUSES = ("pending", "processing", "completed", "failed")
#: Worker name of claims made without one (a single process working its own queue).
LOCAL_WORKER = "local"
#: Seconds a claimed job stays leased without a renewal (workers renew every third of it).
DEFAULT_LEASE_S = 30.0
API_KEY_PREFIX = "tf_"


class StoreError(RuntimeError):
    """Root of the store's errors."""


class StoreWriteError(StoreError):
    """A write failed (disk full, database error); it was rolled back and nothing stored was lost."""


class JobLeaseLost(StoreError):
    """A worker tried to write to a job it no longer holds (its lease ran out, or the job finished)."""

    def __init__(self, job_id: str, status: str, owner: str | None) -> None:
        super().__init__(f"job {job_id} is {status} (lease held by {owner or 'nobody'}); this worker's lease is gone")
        self.job_id = job_id
        self.status = status
        self.owner = owner


class NotFound(StoreError):
    """No record with that id."""


class InvalidCursor(StoreError, ValueError):
    """An export cursor that this store did not issue."""


class InsufficientCredits(StoreError):
    """The account's balance is below the cost; ``needed`` and ``available`` are credits."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(f"Insufficient credits. You need {needed} credits but have {available} remaining.")
        self.needed = needed
        self.available = available


def new_api_key() -> str:
    """A fresh API key: ``tf_`` + 43 URL-safe random characters (256 bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of the key (keys carry 256 random bits, so no salt or pepper is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _columns(row: Any) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns}


def _non_finite(_constant: str) -> None:
    """``json.loads``' hook for ``NaN`` and ``±Infinity``: JSON (and PostgreSQL's JSON types) have no such values."""
    return None


def _json_value(value: Any, *, default: Any) -> Any:
    """``value`` as plain JSON data: unknown objects through ``default``, non-finite floats as None."""
    return json.loads(json.dumps(value, default=default), parse_constant=_non_finite)


def _text(value: str | None, column: Any = None) -> str | None:
    """``value`` without NUL characters and cut to ``column``'s length, as every backend stores it."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    length = getattr(column.type, "length", None) if column is not None else None
    return value[:length] if length else value


def _breakdown_dict(breakdown: Any) -> dict[str, Any]:
    if breakdown is None:
        return {}
    if hasattr(breakdown, "to_dict"):
        return _json_value(breakdown.to_dict(), default=float)
    if isinstance(breakdown, dict):
        return _json_value(breakdown, default=float)
    raise TypeError(f"breakdown must be a dict or have to_dict(), got {type(breakdown).__name__}")


def _measure(audio_bytes: bytes, audio_format: str | None) -> tuple[bytes, str, float, int, int]:
    """``(bytes, format, seconds, sample_rate, channels)``; OGG and other containers become FLAC."""
    try:
        info = sf.info(io.BytesIO(audio_bytes))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"audio cannot be read: {exc}") from exc
    fmt = (info.format or "").lower()
    if fmt in AUDIO_FORMATS:
        return audio_bytes, fmt, info.frames / float(info.samplerate), info.samplerate, info.channels
    samples, rate = sf.read(io.BytesIO(audio_bytes), dtype="float32", always_2d=True)
    out = io.BytesIO()
    sf.write(out, samples, rate, format="FLAC", subtype="PCM_16")
    log.debug("converted %s audio (%s declared) to FLAC for storage", fmt, audio_format)
    return out.getvalue(), "flac", samples.shape[0] / float(rate), rate, samples.shape[1]


def encode_cursor(created_at: float, track_id: str) -> str:
    raw = json.dumps([created_at, track_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, track_id = json.loads(raw)
        at = float(created_at)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidCursor("cursor is not one this server issued") from exc
    if not math.isfinite(at) or not isinstance(track_id, str):  # never issued: times are finite, ids strings
        raise InvalidCursor("cursor is not one this server issued")
    return at, track_id


def _usage_bounds(now: float | None) -> tuple[float, float]:
    """Unix seconds of the start of the UTC day and of the UTC month containing ``now``."""
    moment = datetime.fromtimestamp(now if now is not None else time.time(), tz=UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    month = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()
    return day, month


_ACCOUNT_COLUMNS = tuple(Account.__table__.columns)
_TRACK_COLUMNS = tuple(Track.__table__.columns)
_NAME_MAX = Account.__table__.c.name.type.length
_TRACK = Track.__table__.c
_JOB = Job.__table__.c


def _jobs_since(bound: str) -> Any:
    return (select(func.count()).select_from(Job)
            .where(Job.account_id == bindparam("account_id"), Job.created_at >= bindparam(bound)).scalar_subquery())


# The hot paths' statements are built once (building one costs more than running it on SQLite).
_AUTH_QUERY = (select(ApiKey.revoked_at.label("_key_revoked_at"),
                      Plan.rate_limit_per_minute.label("_plan_rate_limit"), *_ACCOUNT_COLUMNS)
               .join_from(ApiKey, Account, Account.id == ApiKey.account_id)
               .join(Plan, Plan.name == Account.plan)
               .where(ApiKey.key_hash == bindparam("key_hash")))
_USAGE_QUERY = select(_jobs_since("day"), _jobs_since("month"))


@functools.cache
def _best_query(*, with_since: bool, with_genre: bool) -> Any:
    """Highest scores first, ties newest first; binds ``limit`` and, when asked, ``since`` and ``genre``."""
    query = select(*_TRACK_COLUMNS)
    if with_since:
        query = query.where(Track.created_at >= bindparam("since"))
    if with_genre:
        query = query.where(func.lower(Track.genre) == bindparam("genre"))
    return query.order_by(Track.final_score.desc(), Track.created_at.desc(), Track.id).limit(bindparam("limit"))


def _track_rows(conn: Connection, query: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a Core select over :data:`_TRACK_COLUMNS` as the dicts ``_columns(Track)`` would give."""
    keys = [c.key for c in _TRACK_COLUMNS]
    return [dict(zip(keys, row, strict=True)) for row in conn.execute(query, params)]


def _safe_url(database_url: str) -> str:
    """``database_url`` with its password masked, for messages."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable database URL)"


class Store:
    """Everything the validator and its API persist.

    Args:
        database_url: SQLAlchemy URL (``sqlite:///path.db`` by default; ``postgresql+psycopg://...``).
        audio_dir: directory for the content-addressed audio files.
        secret_key_file: the key webhook secrets are sealed with (:mod:`tuneforge.store.secret_box`);
            default ``api_secrets.key`` beside a SQLite database, else beside ``audio_dir``. Created
            (0600) on first use.

    Raises:
        StoreError: the database cannot be reached or migrated, its driver is not installed, or the
            secrets key is missing or is not the one the stored webhook secrets were sealed with.
    """

    def __init__(self, database_url: str, audio_dir: str | Path, *,
                 secret_key_file: str | Path | None = None) -> None:
        self.database_url = database_url
        try:
            self.engine, self._write_engine = open_engines(database_url)
            upgrade(self._write_engine)  # SQLite: BEGIN IMMEDIATE, so processes opening it together migrate in turn
        except ImportError as exc:
            hint = " (pip install 'tuneforge[postgres]')" if "psycopg" in str(exc) else ""
            raise StoreError(f"no driver for {_safe_url(database_url)}: {exc}{hint}") from exc
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc  # the driver's own error, without SQLAlchemy's link
            raise StoreError(f"cannot open the database {_safe_url(database_url)}: "
                             f"{type(cause).__name__}: {' '.join(str(cause).split())}") from exc
        self.audio = AudioFiles(audio_dir)
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        # SQLite admits one writer at a time and makes the others poll with growing sleeps (up to
        # 100 ms each); queueing this process's writers on a lock hands the database over at once.
        # A database server takes concurrent writers; row locks and conditional updates order them.
        self._write_lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if is_sqlite(database_url) else contextlib.nullcontext())
        self._secrets = self._open_secrets(secret_key_file, audio_dir)

    def close(self) -> None:
        self.engine.dispose()

    # -- webhook secrets at rest -------------------------------------------------------------
    def _open_secrets(self, key_file: str | Path | None, audio_dir: str | Path) -> SecretBox:
        """The box webhook secrets are sealed with (its key checked against a stored secret); seals
        any secret an older version stored in plain text."""
        path = Path(key_file).expanduser() if key_file else default_key_file(self.database_url, audio_dir)
        with self._read() as s:
            sample = s.execute(select(Account.id, Account.webhook_secret)
                               .where(Account.webhook_secret.like(f"{SEALED_PREFIX}%")).limit(1)).first()
            plain = s.execute(select(Account.id, Account.webhook_secret)
                              .where(Account.webhook_secret.not_like(f"{SEALED_PREFIX}%"))).all()
        try:
            if path is None:
                box = SecretBox.ephemeral()
            elif path.exists():
                box = SecretBox.load(path)
            elif sample is not None:
                raise SecretKeyError(f"the secrets key {path} is missing, and this database's webhook secrets are "
                                     "sealed with it (restore the file, or name it with --api.secret_key_file)")
            else:
                box = SecretBox.create(path)
            if sample is not None:
                box.open(sample.webhook_secret, context=sample.id)
        except SecretKeyError as exc:
            raise StoreError(str(exc)) from exc
        if plain:
            with self._write() as s:
                for account_id, secret in plain:  # conditional: another process may be sealing the same rows
                    s.execute(update(Account).where(Account.id == account_id, Account.webhook_secret == secret)
                              .values(webhook_secret=box.seal(secret, context=account_id)))
            log.info("sealed %d webhook secrets that were stored in plain text", len(plain))
        return box

    def _with_secret(self, account: dict[str, Any]) -> dict[str, Any]:
        """``account`` with its webhook secret opened (a plain-text one, from an older writer, as is)."""
        value = account.get("webhook_secret")
        if value and is_sealed(value):
            try:
                account["webhook_secret"] = self._secrets.open(value, context=account["id"])
            except SecretKeyError as exc:
                raise StoreError(str(exc)) from exc
        return account

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with self._read_sessions() as session, session.begin():
            yield session

    @contextmanager
    def _read_core(self) -> Iterator[Connection]:
        """A read transaction on a bare connection: the hot paths skip the ORM's identity map."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction; any failure rolls it back and surfaces as :class:`StoreWriteError`."""
        try:
            with self._write_lock, self._write_sessions() as session, session.begin():
                yield session
        except (StoreError, ValueError, KeyError):
            raise
        except SQLAlchemyError as exc:
            raise StoreWriteError(f"database write failed and was rolled back: {type(exc).__name__}: {exc}") from exc

    # -- plans -------------------------------------------------------------------------------
    def sync_plans(self, limits: dict[str, int]) -> None:
        """Create or update plans so their per-minute limits match ``limits``."""
        with self._write() as s:
            for name, per_minute in limits.items():
                plan = s.get(Plan, name)
                if plan is None:
                    s.add(Plan(name=name, rate_limit_per_minute=int(per_minute)))
                else:
                    plan.rate_limit_per_minute = int(per_minute)

    def plans(self) -> dict[str, int]:
        with self._read() as s:
            return {p.name: p.rate_limit_per_minute for p in s.scalars(select(Plan))}

    # -- accounts ----------------------------------------------------------------------------
    def create_account(self, *, name: str, plan: str = "free", credits: int = 0,
                       rate_limit_per_minute: int | None = None) -> dict[str, Any]:
        """A new account with ``credits`` granted (one ledger row). Raises ValueError on a bad plan."""
        name = _text(name or "").strip()
        if not name:
            raise ValueError("account name must not be empty")
        if len(name) > _NAME_MAX:
            raise ValueError(f"account name must be at most {_NAME_MAX} characters, got {len(name)}")
        if credits < 0:
            raise ValueError(f"credits must be >= 0, got {credits}")
        now = time.time()
        with self._write() as s:
            if s.get(Plan, plan) is None:
                known = sorted(p.name for p in s.scalars(select(Plan)))
                raise ValueError(f"unknown plan {plan!r}; plans: {', '.join(known)}")
            account_id = _new_id("acc")
            secret = self._secrets.seal("whsec_" + secrets.token_urlsafe(24), context=account_id)
            account = Account(id=account_id, name=name, plan=plan, credits=int(credits),
                              rate_limit_override=rate_limit_per_minute, webhook_secret=secret, created_at=now)
            s.add(account)
            s.flush()
            if credits:
                s.add(LedgerEntry(account_id=account.id, delta=int(credits), balance_after=int(credits),
                                  reason="grant", created_at=now))
        return self.get_account(account.id)

    def get_account(self, account_id: str) -> dict[str, Any]:
        """The account with its effective ``rate_limit_per_minute``. Raises :class:`NotFound`."""
        with self._read() as s:
            row = s.execute(select(Account, Plan.rate_limit_per_minute).join(Plan, Plan.name == Account.plan)
                            .where(Account.id == account_id)).first()
            if row is None:
                raise NotFound(f"no account {account_id!r}")
            account, plan_limit = row
            data = _columns(account)
            data["rate_limit_per_minute"] = account.rate_limit_override or plan_limit
        return self._with_secret(data)

    def list_accounts(self) -> list[dict[str, Any]]:
        with self._read() as s:
            rows = [_columns(a) for a in s.scalars(select(Account).order_by(Account.created_at))]
        return [self._with_secret(row) for row in rows]

    def set_rate_limit(self, account_id: str, per_minute: int | None) -> None:
        """Give one account its own per-minute limit (None: its plan's)."""
        with self._write() as s:
            account = s.get(Account, account_id)
            if account is None:
                raise NotFound(f"no account {account_id!r}")
            account.rate_limit_override = per_minute

    def add_credits(self, account_id: str, amount: int, *, reason: str = "grant") -> int:
        """Add ``amount`` (> 0) credits; returns the new balance."""
        if amount <= 0:
            raise ValueError(f"amount must be a positive number of credits, got {amount}")
        with self._write() as s:
            return self._credit(s, account_id, int(amount), reason=reason, job_id=None)

    def _credit(self, s: Session, account_id: str, delta: int, *, reason: str, job_id: str | None) -> int:
        result = s.execute(update(Account).where(Account.id == account_id)
                           .values(credits=Account.credits + delta).returning(Account.credits))
        balance = result.scalar_one_or_none()
        if balance is None:
            raise NotFound(f"no account {account_id!r}")
        s.add(LedgerEntry(account_id=account_id, delta=delta, balance_after=balance, reason=reason,
                          job_id=job_id, created_at=time.time()))
        return int(balance)

    def ledger(self, account_id: str) -> list[dict[str, Any]]:
        with self._read() as s:
            rows = s.scalars(select(LedgerEntry).where(LedgerEntry.account_id == account_id).order_by(LedgerEntry.id))
            return [_columns(r) for r in rows]

    def ledger_balance(self, account_id: str) -> int:
        """The balance the ledger implies (sum of every movement); equals ``credits`` when consistent."""
        with self._read() as s:
            total = s.scalar(select(func.coalesce(func.sum(LedgerEntry.delta), 0))
                             .where(LedgerEntry.account_id == account_id))
            return int(total or 0)

    def usage(self, account_id: str, *, now: float | None = None) -> dict[str, int]:
        """Generations submitted today and this calendar month (UTC), counted in one query."""
        day, month = _usage_bounds(now)
        with self._read_core() as conn:
            today, this_month = conn.execute(_USAGE_QUERY, {"account_id": account_id, "day": day,
                                                            "month": month}).one()
        return {"generations_today": int(today or 0), "generations_this_month": int(this_month or 0)}

    # -- API keys ----------------------------------------------------------------------------
    def create_api_key(self, account_id: str) -> tuple[str, str]:
        """``(key_id, key)``; the key is not stored (only its hash) and cannot be shown again."""
        key = new_api_key()
        with self._write() as s:
            if s.get(Account, account_id) is None:
                raise NotFound(f"no account {account_id!r}")
            row = ApiKey(id=_new_id("key"), account_id=account_id, key_hash=hash_api_key(key),
                         prefix=key[:10], created_at=time.time())
            s.add(row)
        return row.id, key

    def list_api_keys(self, account_id: str | None = None) -> list[dict[str, Any]]:
        with self._read() as s:
            query = select(ApiKey).order_by(ApiKey.created_at)
            if account_id is not None:
                query = query.where(ApiKey.account_id == account_id)
            return [{k: v for k, v in _columns(r).items() if k != "key_hash"} for r in s.scalars(query)]

    def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        """Revoke a key (idempotent); raises :class:`NotFound` for an unknown id."""
        with self._write() as s:
            row = s.get(ApiKey, key_id)
            if row is None:
                raise NotFound(f"no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = time.time()
            return {k: v for k, v in _columns(row).items() if k != "key_hash"}

    def authenticate_key(self, key: str) -> tuple[dict[str, Any] | None, str | None]:
        """``(account, None)`` for a valid key, ``(None, reason)`` otherwise (unknown or revoked).

        One Core query on the hot path of every music request (key, account and plan joined)."""
        with self._read_core() as conn:
            row = conn.execute(_AUTH_QUERY, {"key_hash": hash_api_key(key)}).first()
        if row is None:
            return None, "Invalid API key."
        if row._key_revoked_at is not None:
            return None, "This API key has been revoked."
        mapping = row._mapping
        account = {c.key: mapping[c] for c in _ACCOUNT_COLUMNS}
        account["rate_limit_per_minute"] = account["rate_limit_override"] or row._plan_rate_limit
        del account["webhook_secret"]  # sealed; requests never need it (get_account opens it)
        return account, None

    # -- jobs --------------------------------------------------------------------------------
    def submit_job(self, *, account_id: str, params: dict[str, Any], cost: int,
                   webhook_url: str | None = None) -> dict[str, Any]:
        """Reserve ``cost`` credits and create a pending job, atomically.

        Raises:
            InsufficientCredits: the balance is below ``cost`` (nothing is charged).
        """
        if cost < 1:
            raise ValueError(f"cost must be >= 1 credit, got {cost}")
        now = time.time()
        job_id = _new_id("req")
        with self._write() as s:
            result = s.execute(update(Account).where(Account.id == account_id, Account.credits >= cost)
                               .values(credits=Account.credits - cost).returning(Account.credits))
            balance = result.scalar_one_or_none()
            if balance is None:
                available = s.scalar(select(Account.credits).where(Account.id == account_id))
                if available is None:
                    raise NotFound(f"no account {account_id!r}")
                raise InsufficientCredits(cost, int(available))
            s.add(LedgerEntry(account_id=account_id, delta=-cost, balance_after=int(balance),
                              reason="generation", job_id=job_id, created_at=now))
            s.add(Job(id=job_id, account_id=account_id, status="pending", params=_json_value(params, default=str),
                      cost=cost, refunded=0,
                      webhook_url=webhook_url, attempts=0, created_at=now))
        return self.get_job(job_id)

    def get_job(self, job_id: str, *, account_id: str | None = None) -> dict[str, Any]:
        """The job with its ``tracks`` (variation order). Raises :class:`NotFound` (also for
        another account's job when ``account_id`` is given)."""
        with self._read() as s:
            job = s.get(Job, job_id)
            if job is None or (account_id is not None and job.account_id != account_id):
                raise NotFound(f"no generation {job_id!r}")
            data = _columns(job)
            tracks = s.scalars(select(Track).where(Track.job_id == job_id).order_by(Track.variation, Track.id))
            data["tracks"] = [_columns(t) for t in tracks]
            return data

    def list_jobs(self, account_id: str, *, limit: int = 20, offset: int = 0,
                  status: str | None = None) -> list[dict[str, Any]]:
        """The account's jobs, newest first."""
        with self._read() as s:
            query = select(Job.id).where(Job.account_id == account_id)
            if status is not None:
                query = query.where(Job.status == status)
            ids = list(s.scalars(query.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit).offset(offset)))
        return [self.get_job(i) for i in ids]

    def claim_job(self, *, worker: str = LOCAL_WORKER, lease_s: float = DEFAULT_LEASE_S,
                  now: float | None = None) -> dict[str, Any] | None:
        """Lease the oldest pending job to ``worker`` for ``lease_s`` seconds and return it (None
        when none waits). Concurrent claimers never get the same job: PostgreSQL skips rows another
        transaction holds (``FOR UPDATE SKIP LOCKED``); SQLite admits one writer at a time."""
        now = time.time() if now is None else now
        with self._write() as s:
            job_id = s.scalar(select(Job.id).where(Job.status == "pending")
                              .order_by(Job.created_at, Job.id).limit(1).with_for_update(skip_locked=True))
            if job_id is None:
                return None
            claimed = s.execute(update(Job).where(Job.id == job_id, Job.status == "pending").values(
                status="processing", started_at=now, attempts=Job.attempts + 1,
                lease_owner=_text(worker, _JOB.lease_owner), lease_expires_at=now + float(lease_s)))
            if claimed.rowcount != 1:  # another worker took it first (not expected with SKIP LOCKED)
                return None
        return self.get_job(job_id)

    def renew_lease(self, job_id: str, *, worker: str, lease_s: float = DEFAULT_LEASE_S,
                    now: float | None = None) -> bool:
        """Extend ``worker``'s lease on a job it is processing; False when it no longer holds it
        (the lease ran out and the job was requeued, re-claimed or failed)."""
        now = time.time() if now is None else now
        with self._write() as s:
            renewed = s.execute(update(Job).where(
                Job.id == job_id, Job.status == "processing", Job.lease_owner == worker,
            ).values(lease_expires_at=now + float(lease_s)))
            return renewed.rowcount == 1

    def pending_job_count(self) -> int:
        with self._read() as s:
            return int(s.scalar(select(func.count()).select_from(Job).where(Job.status == "pending")) or 0)

    def _held_job(self, s: Session, job_id: str, worker: str | None) -> Job:
        """The job row, locked; raises :class:`JobLeaseLost` unless it is processing (under
        ``worker``'s lease when one is named)."""
        job = s.get(Job, job_id, with_for_update=True)
        if job is None:
            raise NotFound(f"no generation {job_id!r}")
        if job.status != "processing" or (worker is not None and job.lease_owner != worker):
            raise JobLeaseLost(job_id, job.status, job.lease_owner)
        return job

    def finish_job(self, job_id: str, *, refund: int = 0, error: str | None = None,
                   worker: str | None = None) -> dict[str, Any]:
        """Mark a processing job completed, refunding ``refund`` credits (variations that produced nothing).

        Raises:
            JobLeaseLost: the job is not processing, or not under ``worker``'s lease (given one):
                another worker owns it now, or it already finished; nothing was changed.
        """
        with self._write() as s:
            job = self._held_job(s, job_id, worker)
            job.status, job.finished_at, job.error = "completed", time.time(), _text(error)
            job.lease_owner, job.lease_expires_at = None, None
            self._refund(s, job, refund)
        return self.get_job(job_id)

    def fail_job(self, job_id: str, error: str, *, worker: str | None = None) -> dict[str, Any]:
        """Mark a processing job failed and refund whatever of its cost was not refunded yet.

        Raises:
            JobLeaseLost: as for :meth:`finish_job`; in particular a job is never refunded twice.
        """
        with self._write() as s:
            job = self._held_job(s, job_id, worker)
            self._fail(s, job, error)
        return self.get_job(job_id)

    def _fail(self, s: Session, job: Job, error: str) -> None:
        job.status, job.finished_at, job.error = "failed", time.time(), _text(error)
        job.lease_owner, job.lease_expires_at = None, None
        self._refund(s, job, job.cost - job.refunded)

    def _refund(self, s: Session, job: Job, amount: int) -> None:
        amount = max(0, min(int(amount), job.cost - job.refunded))
        if amount:
            self._credit(s, job.account_id, amount, reason="refund", job_id=job.id)
            job.refunded += amount

    def expire_leases(self, *, max_attempts: int = 2, now: float | None = None,
                      limit: int = 100) -> tuple[list[str], list[str]]:
        """Jobs whose lease ran out (their worker died or hung; a lease from before leases existed
        counts as run out) go back to ``pending`` when they have attempts left, else fail with a
        refund. Returns ``(requeued_ids, failed_ids)``; any worker may call it at any time."""
        now = time.time() if now is None else now
        requeued: list[str] = []
        failed: list[str] = []
        with self._write() as s:
            expired = s.scalars(select(Job).where(
                Job.status == "processing", or_(Job.lease_expires_at.is_(None), Job.lease_expires_at < now),
            ).order_by(Job.created_at, Job.id).limit(limit).with_for_update(skip_locked=True))
            for job in expired:
                if job.attempts < max_attempts:
                    job.status, job.started_at = "pending", None
                    job.lease_owner, job.lease_expires_at = None, None
                    requeued.append(job.id)
                else:
                    self._fail(s, job, f"its worker stopped answering (lease expired) after {job.attempts} attempt(s)")
                    failed.append(job.id)
        return requeued, failed

    def recover_jobs(self, *, max_attempts: int = 2, now: float | None = None) -> tuple[list[str], list[str]]:
        """:meth:`expire_leases` (the name from before jobs had leases: what a restart recovers)."""
        return self.expire_leases(max_attempts=max_attempts, now=now)

    # -- scored clips ------------------------------------------------------------------------
    def record_scored_clip(
        self, *, round_id: str | None, challenge: dict[str, Any], uid: int, hotkey: str,
        audio_bytes: bytes | None, audio_format: str | None, breakdown: Any, final_score: float,
        is_organic: bool, rtt_seconds: float | None, model_id: str | None,
        job_id: str | None = None, variation: int | None = None, worker: str | None = None,
    ) -> str | None:
        """Store one scored clip and its audio; returns its ``trk_`` id (None when there was no audio).

        ``worker``: store an organic job's clip only while that worker holds the job's lease.

        Raises:
            ValueError: unreadable audio.
            JobLeaseLost: ``worker`` no longer holds the job (nothing was kept).
            StoreWriteError: the audio file or the row could not be written (also: that job's
                variation is already stored); nothing was kept.
        """
        if not audio_bytes:
            return None
        data, fmt, seconds, rate, channels = _measure(audio_bytes, audio_format)
        try:
            sha, created = self.audio.put(data, fmt)
        except AudioWriteError as exc:
            raise StoreWriteError(str(exc)) from exc
        track_id = _new_id("trk")
        try:
            with self._write() as s:
                if worker is not None and job_id is not None:
                    self._held_job(s, job_id, worker)
                c = _TRACK
                s.add(Track(
                    id=track_id, job_id=job_id, variation=variation, round_id=round_id,
                    challenge_id=_text(str(challenge.get("challenge_id") or ""), c.challenge_id), uid=int(uid),
                    hotkey=hotkey, is_organic=bool(is_organic), prompt=_text(str(challenge.get("prompt") or "")),
                    genre=_text(str(challenge.get("genre") or ""), c.genre),
                    mood=_text(str(challenge.get("mood") or ""), c.mood),
                    requested_seconds=float(challenge.get("duration_seconds") or 0.0), duration_seconds=seconds,
                    sample_rate=rate, channels=channels, audio_format=fmt, audio_sha256=sha,
                    model_id=_text(model_id, c.model_id), final_score=float(final_score),
                    score_breakdown=_breakdown_dict(breakdown), challenge=_json_value(challenge, default=str),
                    rtt_seconds=rtt_seconds, created_at=time.time(),
                ))
        except (StoreWriteError, JobLeaseLost):
            if created and not self._audio_referenced(sha):
                self.audio.remove(sha, fmt)
            raise
        return track_id

    def _audio_referenced(self, sha: str) -> bool:
        with self._read() as s:
            return s.scalar(select(func.count()).select_from(Track).where(Track.audio_sha256 == sha)) > 0

    def record_round(self, *, round_id: str, challenge: dict[str, Any], started_at: float, finished_at: float,
                     num_miners: int) -> None:
        """Store a validation round (its clips are stored by :meth:`record_scored_clip`)."""
        with self._write() as s:
            row = s.get(Round, round_id) or Round(id=round_id)
            row.challenge_id = _text(str(challenge.get("challenge_id") or ""), Round.__table__.c.challenge_id)
            row.challenge = _json_value(challenge, default=str)
            row.started_at, row.finished_at, row.num_miners = float(started_at), float(finished_at), int(num_miners)
            s.add(row)

    def get_round(self, round_id: str) -> dict[str, Any]:
        with self._read() as s:
            row = s.get(Round, round_id)
            if row is None:
                raise NotFound(f"no round {round_id!r}")
            return _columns(row)

    def get_track(self, track_id: str) -> dict[str, Any]:
        with self._read() as s:
            row = s.get(Track, track_id)
            if row is None:
                raise NotFound(f"no track {track_id!r}")
            data = _columns(row)
            if row.job_id is not None:
                data["account_id"] = s.scalar(select(Job.account_id).where(Job.id == row.job_id))
            return data

    def track_audio(self, track_id: str, audio_format: str) -> bytes:
        """The track's audio as ``wav`` or ``flac`` (converted when stored in the other format)."""
        if audio_format not in AUDIO_FORMATS:
            raise ValueError(f"audio format must be one of {AUDIO_FORMATS}, got {audio_format!r}")
        track = self.get_track(track_id)
        try:
            data = self.audio.read(track["audio_sha256"], track["audio_format"])
        except FileNotFoundError as exc:
            raise NotFound(f"the audio of track {track_id} is no longer stored") from exc
        if track["audio_format"] == audio_format:
            return data
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        out = io.BytesIO()
        sf.write(out, samples, rate, format=audio_format.upper(), subtype="PCM_16")
        return out.getvalue()

    def best_tracks(self, *, limit: int = 20, since: float | None = None,
                    genre: str | None = None) -> list[dict[str, Any]]:
        """Highest-scoring clips (ties: newest first)."""
        params: dict[str, Any] = {"limit": int(limit)}
        if since is not None:
            params["since"] = since
        if genre:
            params["genre"] = genre.lower()
        query = _best_query(with_since=since is not None, with_genre=bool(genre))
        with self._read_core() as conn:
            return _track_rows(conn, query, params)

    def export_tracks(self, *, since: float | None = None, until: float | None = None,
                      min_score: float | None = None, cursor: str | None = None,
                      limit: int = 100) -> tuple[list[dict[str, Any]], str | None]:
        """One page of clips in ``(created_at, id)`` order and the cursor of the next page (None at the end)."""
        with self._read() as s:
            query = select(Track)
            if since is not None:
                query = query.where(Track.created_at >= since)
            if until is not None:
                query = query.where(Track.created_at < until)
            if min_score is not None:
                query = query.where(Track.final_score >= min_score)
            if cursor:
                at, last_id = decode_cursor(cursor)
                query = query.where(or_(Track.created_at > at, and_(Track.created_at == at, Track.id > last_id)))
            rows = [_columns(t) for t in s.scalars(query.order_by(Track.created_at, Track.id).limit(limit + 1))]
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None
        return rows, next_cursor

    def miner_history(self, hotkey: str, *, limit: int = 50) -> list[dict[str, Any]]:
        """A miner's most recent scored clips, newest first."""
        with self._read() as s:
            rows = s.scalars(select(Track).where(Track.hotkey == hotkey)
                             .order_by(Track.created_at.desc(), Track.id.desc()).limit(limit))
            return [_columns(t) for t in rows]

    def prune_tracks(self, *, retention_days: float, now: float | None = None) -> int:
        """Delete validation clips (not organic ones) and rounds older than ``retention_days``,
        and audio files no clip references any more; returns the number of clips removed."""
        cutoff = (now if now is not None else time.time()) - retention_days * 86400.0
        with self._write() as s:
            old = list(s.execute(select(Track.id, Track.audio_sha256, Track.audio_format)
                                 .where(Track.is_organic.is_(False), Track.created_at < cutoff)))
            if old:
                s.execute(delete(Track).where(Track.id.in_([r.id for r in old])))
            s.execute(delete(Round).where(Round.finished_at < cutoff))
        for sha, fmt in {(r.audio_sha256, r.audio_format) for r in old}:
            if not self._audio_referenced(sha):
                self.audio.remove(sha, fmt)
        return len(old)

    # -- signed-request nonces ---------------------------------------------------------------
    def use_nonce(self, hotkey: str, nonce: int, *, now: float | None = None) -> bool:
        """Record ``nonce`` for ``hotkey``; False when it was already used (a replay)."""
        row = {"hotkey": hotkey, "nonce": int(nonce), "seen_at": now if now is not None else time.time()}
        try:
            with self._write_lock, self._write_engine.begin() as conn:
                conn.execute(insert(SeenNonce.__table__), row)
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise StoreWriteError(f"database write failed and was rolled back: {type(exc).__name__}: {exc}") from exc
        return True

    def prune_nonces(self, *, older_than: float) -> int:
        """Forget nonces seen before ``older_than`` (Unix seconds); they are outside the window anyway."""
        with self._write() as s:
            return int(s.execute(delete(SeenNonce).where(SeenNonce.seen_at < older_than)).rowcount or 0)

    # -- state a validator publishes for API replicas ----------------------------------------
    def publish(self, name: str, data: dict[str, Any], *, now: float | None = None) -> None:
        """Replace the published ``name`` (``"registry"``, ``"leaderboard"``) with ``data`` (JSON)."""
        now = time.time() if now is None else now
        with self._write() as s:
            row = s.get(PublishedState, name, with_for_update=True)
            if row is None:
                s.add(PublishedState(name=name, data=_json_value(data, default=str), published_at=now))
            else:
                row.data, row.published_at = _json_value(data, default=str), now

    def published(self, name: str) -> tuple[dict[str, Any], float] | None:
        """``(data, published_at)`` of the published ``name``, or None when nothing was published."""
        with self._read_core() as conn:
            row = conn.execute(select(PublishedState.data, PublishedState.published_at)
                               .where(PublishedState.name == name)).first()
        return None if row is None else (dict(row.data), float(row.published_at))

    def ping(self) -> None:
        """One round trip to the database (``SELECT 1``); raises :class:`StoreError` when it fails."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            raise StoreError(f"database unreachable: {type(exc).__name__}: {exc}") from exc

    # -- webhooks ----------------------------------------------------------------------------
    def enqueue_webhook(self, *, job_id: str, account_id: str, url: str, payload: str) -> int:
        now = time.time()
        with self._write() as s:
            row = WebhookDelivery(job_id=job_id, account_id=account_id, url=url, payload=payload, status="pending",
                                  attempts=0, next_attempt_at=now, created_at=now)
            s.add(row)
            s.flush()
            return int(row.id)

    def due_webhooks(self, *, now: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
        with self._read() as s:
            rows = s.scalars(select(WebhookDelivery).where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= (now if now is not None else time.time()),
            ).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
            return [_columns(r) for r in rows]

    def claim_due_webhooks(self, *, lease_s: float, now: float | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """Due deliveries, each hidden from other dispatchers for ``lease_s`` seconds (its
        ``next_attempt_at`` moved to then) so replicas never POST the same attempt twice; the
        attempt's outcome (:meth:`record_webhook_attempt`) sets the real next time. A dispatcher
        that dies mid-POST leaves the delivery due again after the lease: at-least-once delivery."""
        now = time.time() if now is None else now
        with self._write() as s:
            rows = list(s.scalars(select(WebhookDelivery).where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
            ).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)
                .with_for_update(skip_locked=True)))
            out = [_columns(r) for r in rows]
            for row in rows:
                row.next_attempt_at = now + float(lease_s)
            return out

    def record_webhook_attempt(self, delivery_id: int, *, status_code: int | None, error: str | None,
                               delivered: bool, next_attempt_at: float | None) -> None:
        """Log one POST; ``next_attempt_at`` None after the last allowed attempt marks it failed."""
        now = time.time()
        with self._write() as s:
            row = s.get(WebhookDelivery, delivery_id, with_for_update=True)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            row.attempts += 1
            error = _text(error)
            s.add(WebhookAttempt(delivery_id=delivery_id, attempt=row.attempts, at=now,
                                 status_code=status_code, error=error))
            row.last_error = error
            if delivered:
                row.status, row.delivered_at = "delivered", now
            elif next_attempt_at is None:
                row.status = "failed"
            else:
                row.next_attempt_at = next_attempt_at

    def webhook_deliveries(self, job_id: str) -> list[dict[str, Any]]:
        """Deliveries for a job, each with its ``attempts_log``."""
        with self._read() as s:
            out = []
            for row in s.scalars(select(WebhookDelivery).where(WebhookDelivery.job_id == job_id)
                                 .order_by(WebhookDelivery.id)):
                data = _columns(row)
                data["attempts_log"] = [_columns(a) for a in s.scalars(
                    select(WebhookAttempt).where(WebhookAttempt.delivery_id == row.id).order_by(WebhookAttempt.id))]
                out.append(data)
            return out
