"""Fixtures for tests that need real servers: a fresh PostgreSQL schema and a clean Redis database.

Both run on this process's throwaway servers (:mod:`tuneforge.localservices`, started on first use).
When PostgreSQL or Redis is not installed the test is skipped locally with the install command, and
fails under CI (``CI`` set), where ``scripts/test.sh`` must have installed them.
``tests/conftest.py`` makes both fixtures available to every test module.
"""

import os
from collections.abc import Callable, Iterator

import pytest

from tuneforge.localservices import LocalServer, ServiceUnavailable, shared_postgres, shared_redis
from tuneforge.store.testing import drop_scratch_postgres, scratch_postgres_url

__all__ = ["postgres_url", "redis_url", "server_or_skip"]


def server_or_skip(start: Callable[[], LocalServer]) -> LocalServer:
    """The shared server, or skip (fail under CI) when it cannot be started here."""
    try:
        return start()
    except ServiceUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc} (scripts/test.sh installs it)")
        pytest.skip(str(exc))


@pytest.fixture()
def postgres_url() -> Iterator[str]:
    """A new, empty schema on the throwaway PostgreSQL server (dropped after the test)."""
    url = scratch_postgres_url(server_or_skip(shared_postgres).url)
    yield url
    drop_scratch_postgres(url)


@pytest.fixture()
def redis_url() -> Iterator[str]:
    """The throwaway Redis server's URL, its database emptied before and after the test."""
    import redis

    url = server_or_skip(shared_redis).url
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()
