"""Bring a database to the newest schema with Alembic, from inside the process.

:func:`upgrade` points an Alembic ``Config`` at this package's ``migrations`` directory and runs
``alembic.command.upgrade(config, "head")`` on an open connection, so the validator, the API
and the admin CLI all migrate the database they open before touching it. On PostgreSQL the
migration transaction first takes a transaction-scoped advisory lock, so processes starting
together against one fresh database migrate it one after the other instead of racing to create
the same tables (the later ones find it at head and do nothing); on SQLite the store hands in its
write engine, whose ``BEGIN IMMEDIATE`` does the same. Within one process a lock keeps migrations
apart as well: Alembic's ``op`` and ``context`` are process-wide.
"""

import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

__all__ = ["MIGRATIONS_DIR", "alembic_config", "upgrade"]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: ``pg_advisory_xact_lock`` key held while migrating a PostgreSQL database (any constant; "TFMIGRAT").
MIGRATION_LOCK_KEY = 0x54464D4947524154
_process_lock = threading.Lock()


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for this package's migrations and the database at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Apply every migration not yet applied to ``engine``'s database (idempotent)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    alembic_log = logging.getLogger("alembic")
    previous = alembic_log.level
    alembic_log.setLevel(max(previous, logging.WARNING))  # its per-run INFO lines are noise here
    try:
        with _process_lock, engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        alembic_log.setLevel(previous)
    log.debug("database %s at schema head", engine.url.render_as_string(hide_password=True))
