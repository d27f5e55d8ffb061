"""The throwaway servers the API's scale tests run on: a PostgreSQL schema a Store migrates and
uses, a Redis that answers, and a server whose process ends (and directory goes) on stop()."""

from pathlib import Path

import redis
from services import server_or_skip

from tuneforge.localservices import start_redis
from tuneforge.store import Store


def test_store_runs_on_the_throwaway_postgres(postgres_url: str, tmp_path: Path) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    store = Store(postgres_url, tmp_path / "audio")
    try:
        account = store.create_account(name="pg", credits=7)
        assert store.get_account(account["id"])["credits"] == 7
        assert store.engine.dialect.name == "postgresql"
    finally:
        store.close()


def test_redis_answers_and_starts_empty(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    assert client.ping() is True
    assert client.dbsize() == 0
    client.set("k", "v")
    assert client.get("k") == b"v"


def test_a_stopped_server_is_gone() -> None:
    server = server_or_skip(start_redis)
    assert redis.Redis.from_url(server.url).ping()
    server.stop()
    assert server.process.poll() is not None
    assert not server.directory.exists()


def test_a_store_reconnects_when_the_server_dropped_its_idle_connections(postgres_url: str, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """Pooled connections are pinged only after sitting idle (not on every checkout); one the server
    dropped meanwhile is replaced, so the next call succeeds instead of failing once per connection."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    import tuneforge.store.database as database

    store = Store(postgres_url, tmp_path / "audio")
    try:
        account = store.create_account(name="pg", credits=3)
        assert store.get_account(account["id"])["credits"] == 3  # connections now pooled
        schema = make_url(postgres_url).query["application_name"]
        admin = create_engine(make_url(postgres_url).update_query_dict({"application_name": "tf_admin"}),
                              poolclass=NullPool)
        with admin.begin() as conn:  # the server drops every session of this store (a restart would too)
            dropped = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                        "WHERE application_name = :n"), {"n": schema}).scalar()
        admin.dispose()
        assert dropped >= 1
        monkeypatch.setattr(database, "PING_AFTER_IDLE_S", 0.0)
        assert store.get_account(account["id"])["credits"] == 3
        assert store.usage(account["id"]) == {"generations_today": 0, "generations_this_month": 0}
    finally:
        store.close()
