"""Alembic environment for the TuneForge store.

Run programmatically by :func:`tuneforge.store.migrate.upgrade`, which hands over an open
connection in ``config.attributes["connection"]``; with the ``alembic`` command line the URL
comes from ``sqlalchemy.url``. Logging is left as the host process configured it.
"""

from alembic import context
from sqlalchemy import create_engine

from tuneforge.store.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
