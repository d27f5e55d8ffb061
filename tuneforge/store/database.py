"""Open a SQLAlchemy engine for the store: SQLite tuned for concurrent use, or any other URL.

SQLite gets owner-only files (the database and its ``-wal``/``-shm`` 0600, a directory it creates
0700: :mod:`tuneforge.store.permissions`), WAL journaling (readers never block the writer), a busy timeout (a writer waits for
the lock instead of failing), foreign keys on, a larger page cache, memory-mapped reads, and
explicit transaction control: ordinary sessions begin with ``BEGIN``, write sessions (the engine
returned as ``write_engine``) with ``BEGIN IMMEDIATE``, which takes the write lock up front so a read-then-write transaction cannot
fail half-way with ``database is locked``.

PostgreSQL (``postgresql+psycopg://...``, the ``postgres`` extra) and other servers get none of
that: a connection pool sized for the API's worker threads plus the validator's, and an
``application_name`` (``tuneforge`` unless the URL sets one) so their sessions are recognisable in
``pg_stat_activity``. A pooled connection that sat idle for ``PING_AFTER_IDLE_S`` is pinged when it
is checked out, and replaced if the server dropped it (a restart, an idle timeout); a busy one is
not (SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per query, which
measured 15 % of a replica's CPU and half its latency on ``/account/me``). Their engine is also the write engine: the server's row locks and the store's
conditional updates order concurrent writers (see :mod:`tuneforge.store.store`).
"""

import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError

from tuneforge.store.permissions import private_directory, private_sqlite_files

__all__ = ["open_engines", "is_sqlite", "BUSY_TIMEOUT_MS", "SERVER_POOL_SIZE", "SERVER_MAX_OVERFLOW"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "tuneforge_begin_immediate"
POOL_SIZE = 48
CACHE_KIB = 8_192  # page cache per connection (negative PRAGMA value: KiB)
MMAP_BYTES = 256 * 1024 * 1024  # reads served from the OS page cache without copies
# Database servers: connections are server processes, so fewer than SQLite's. 16 kept open covers the API's
# worker threads (8), asyncio's executor and the validator's own threads; 16 more open under bursts. A thread
# that finds all 32 busy waits for one (SQLAlchemy's 30 s pool timeout) rather than failing.
SERVER_POOL_SIZE = 16
SERVER_MAX_OVERFLOW = 16
APPLICATION_NAME = "tuneforge"
#: Seconds a pooled server connection may sit idle before its next checkout pings it first.
PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "tuneforge_idle_since"


def is_sqlite(database_url: str) -> bool:
    """Whether ``database_url`` is a SQLite database (the default) rather than a database server."""
    return make_url(database_url).get_backend_name() == "sqlite"


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it was idle for ``PING_AFTER_IDLE_S``; a dead
    one raises ``DisconnectionError``, on which the pool discards it and connects afresh."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return  # fresh from connect(), or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # whatever the driver raises for a dropped connection
            log.info("a pooled database connection idle for %.0f s was dropped by the server (%s); reconnecting",
                     time.monotonic() - idle_since, type(exc).__name__)
            raise DisconnectionError(str(exc)) from exc


def open_engines(database_url: str) -> tuple[Engine, Engine]:
    """``(engine, write_engine)`` for ``database_url``; the second begins write transactions."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        connect_args: dict[str, str] = {}
        if url.get_backend_name() == "postgresql" and "application_name" not in url.query:
            connect_args["application_name"] = APPLICATION_NAME
        engine = create_engine(url, pool_size=SERVER_POOL_SIZE, max_overflow=SERVER_MAX_OVERFLOW,
                               connect_args=connect_args)
        _ping_when_idle(engine)
        return engine, engine
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        # owner-only: a new directory 0700, the database 0600 before SQLite opens it (its -wal and
        # -shm files then get 0600 too, see tuneforge.store.permissions)
        database = Path(url.database).expanduser()
        private_directory(database.parent, tighten=False)
        private_sqlite_files(database)
    engine = create_engine(
        url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000.0, "check_same_thread": False},
        # The API's worker threads, asyncio's executor and the validator's own threads all read: keep a
        # pooled connection per thread rather than opening and closing overflow connections under load.
        pool_size=POOL_SIZE, max_overflow=POOL_SIZE,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of the process, fsync at checkpoints
        cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine, engine.execution_options(**{_IMMEDIATE: True})
