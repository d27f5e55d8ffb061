"""Throwaway databases for tests and benchmarks: a SQLite file, or a fresh PostgreSQL schema.

PostgreSQL is opt-in: set ``TF_TEST_POSTGRES_URL`` to a database the tests may create schemas in,
e.g. ``postgresql+psycopg://tf:tf@127.0.0.1:5432/tf_test``. :func:`scratch_postgres_url` creates
an empty schema ``tf_test_<random>`` there and returns a URL whose connections see only that schema
(``options=-csearch_path=<schema>``) and carry it as their ``application_name``; the store migrates
it like any new database. :func:`drop_scratch_postgres` ends any session still connected through
that URL (a test that did not close its store) and drops the schema with everything in it.

:func:`database_url_for` is what the test harnesses call: the SQLite file they always used, or,
with ``TF_TEST_POSTGRES_URL`` set, one scratch schema per file name, kept until
:func:`drop_scratch_databases` (which ``tests/conftest.py`` calls after every test).
"""

import logging
import os
import re
import secrets
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

__all__ = [
    "POSTGRES_URL_ENV", "SCHEMA_PREFIX", "postgres_test_url", "scratch_postgres_url", "drop_scratch_postgres",
    "database_url_for", "drop_scratch_databases",
]

log = logging.getLogger(__name__)

POSTGRES_URL_ENV = "TF_TEST_POSTGRES_URL"
SCHEMA_PREFIX = "tf_test_"
_SCHEMA_NAME = re.compile(rf"^{SCHEMA_PREFIX}[0-9a-f]{{12}}$")

_scratch: dict[str, str] = {}  # SQLite path the caller asked for -> the scratch schema's URL standing in for it


def postgres_test_url() -> str | None:
    """The server database named by ``TF_TEST_POSTGRES_URL``, or None when PostgreSQL tests are off."""
    return os.environ.get(POSTGRES_URL_ENV, "").strip() or None


def _schema_of(url: str) -> str:
    name = make_url(url).query.get("application_name")
    if not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        raise ValueError("not a URL from scratch_postgres_url()")
    return name


def scratch_postgres_url(base_url: str) -> str:
    """Create an empty schema in ``base_url``'s database; the URL returned uses only that schema."""
    name = SCHEMA_PREFIX + secrets.token_hex(6)
    base = make_url(base_url)
    engine = create_engine(base, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
    finally:
        engine.dispose()
    options = " ".join(filter(None, [base.query.get("options"), f"-csearch_path={name}"]))
    url = base.update_query_dict({"options": options, "application_name": name})
    log.debug("scratch schema %s on %s", name, base.render_as_string(hide_password=True))
    return url.render_as_string(hide_password=False)


def drop_scratch_postgres(url: str) -> None:
    """End the sessions still using a :func:`scratch_postgres_url` schema and drop it (CASCADE)."""
    name = _schema_of(url)
    engine = create_engine(make_url(url).update_query_dict({"application_name": f"{name}_drop"}),
                           poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": name})
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    finally:
        engine.dispose()


def database_url_for(path: str | Path) -> str:
    """``sqlite:///<path>``, or with ``TF_TEST_POSTGRES_URL`` set a scratch schema standing in for that
    file: the same one for the same ``path`` until :func:`drop_scratch_databases`."""
    base = postgres_test_url()
    if base is None:
        return f"sqlite:///{path}"
    key = str(Path(path).resolve())
    if key not in _scratch:
        _scratch[key] = scratch_postgres_url(base)
    return _scratch[key]



def drop_scratch_databases() -> None:
    """Drop every scratch schema :func:`database_url_for` created (nothing to do for SQLite)."""
    while _scratch:
        _, url = _scratch.popitem()
        drop_scratch_postgres(url)
