"""Atomic ``.npz`` writes for the scoring package's state and reference files."""

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["save_npz_atomic"]


def save_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray], *, compressed: bool = False) -> None:
    """Write ``arrays`` to ``path`` as ``.npz`` through a temporary file in the same folder and a
    rename, so a crash or a full disk never leaves a half-written file (the old one stays)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compressed else np.savez)(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
