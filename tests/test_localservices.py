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
