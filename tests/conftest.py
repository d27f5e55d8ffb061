"""Shared fixtures: with ``TF_TEST_POSTGRES_URL`` set, the scratch PostgreSQL schemas a test's
harness created (``tuneforge.store.testing.database_url_for``) are dropped when it ends."""

from collections.abc import Iterator

import pytest
from services import postgres_url, redis_url  # noqa: F401 - real-server fixtures for every test module

# First, before any test module imports librosa: the JIT cache policy every TuneForge process uses
# (a verified private copy of the install's sealed numba cache; docs/jit.md).
from scoring import jit  # noqa: F401
from tuneforge.store.testing import drop_scratch_databases


@pytest.fixture(autouse=True)
def _drop_scratch_databases() -> Iterator[None]:
    yield
    drop_scratch_databases()
