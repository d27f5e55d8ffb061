"""Shared fixtures: with ``TF_TEST_POSTGRES_URL`` set, the scratch PostgreSQL schemas a test's
harness created (``tuneforge.store.testing.database_url_for``) are dropped when it ends."""

from collections.abc import Iterator

import pytest

from tuneforge.store.testing import drop_scratch_databases


@pytest.fixture(autouse=True)
def _drop_scratch_databases() -> Iterator[None]:
    yield
    drop_scratch_databases()
