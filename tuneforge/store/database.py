"""Open a SQLAlchemy engine for the store: SQLite tuned for concurrent use, or any other URL.

SQLite gets WAL journaling (readers never block the writer), a busy timeout (a writer waits for
the lock instead of failing), foreign keys on, and explicit transaction control: ordinary
sessions begin with ``BEGIN``, write sessions (the engine returned as ``write_engine``) with
``BEGIN IMMEDIATE``, which takes the write lock up front so a read-then-write transaction cannot
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
        pool_size=8, max_overflow=24,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API objects
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _begin)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:  # noqa: ANN001
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine, engine.execution_options(**{_IMMEDIATE: True})
