"""Persistent storage for the validator and its HTTP API (SQLAlchemy 2 + Alembic + audio files).

``Store(database_url, audio_dir)`` is the one entry point; see :mod:`tuneforge.store.store`.
"""

from tuneforge.store.audio_files import AudioFiles, AudioWriteError
from tuneforge.store.store import (
    JOB_STATUSES,
    InsufficientCredits,
    InvalidCursor,
    JobLeaseLost,
    NotFound,
    Store,
    StoreError,
    StoreWriteError,
    hash_api_key,
    new_api_key,
)

__all__ = [
    "AudioFiles", "AudioWriteError", "JOB_STATUSES", "InsufficientCredits", "InvalidCursor", "JobLeaseLost", "NotFound", "Store",
    "StoreError", "StoreWriteError", "hash_api_key", "new_api_key",
]
