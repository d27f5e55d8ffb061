"""Open a SQLAlchemy engine for the store: SQLite tuned for concurrent use, or any other URL.

SQLite gets WAL journaling (readers never block the writer), a busy timeout (a writer waits for
the lock instead of failing), foreign keys on, a larger page cache, memory-mapped reads, and
explicit transaction control: ordinary sessions begin with ``BEGIN``, write sessions (the engine
returned as ``write_engine``) with ``BEGIN IMMEDIATE``, which takes the write lock up front so a read-then-write transaction cannot
fail half-way with ``database is locked``. Postgres and others are used as SQLAlchemy opens them.
"""

import logging
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

__all__ = ["open_engines", "BUSY_TIMEOUT_MS"]

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "tuneforge_begin_immediate"
POOL_SIZE = 48
CACHE_KIB = 8_192  # page cache per connection (negative PRAGMA value: KiB)
MMAP_BYTES = 256 * 1024 * 1024  # reads served from the OS page cache without copies


def open_engines(database_url: str) -> tuple[Engine, Engine]:
    """``(engine, write_engine)`` for ``database_url``; the second begins write transactions."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        engine = create_engine(url, pool_pre_ping=True)
        return engine, engine
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
