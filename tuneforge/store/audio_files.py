"""Audio files on disk, addressed by content.

A clip's bytes are stored once as ``<root>/ab/cd/<sha256>.<wav|flac>`` (the first two byte pairs
of the hex digest as directories). Writes go to a unique temporary file in the same directory,
are flushed and fsynced, then renamed into place, so a reader never sees a partial file and a
failed write (a full disk) leaves nothing behind.
"""

import errno
import hashlib
import logging
import os
import tempfile
from pathlib import Path

__all__ = ["AudioFiles", "AudioWriteError", "AUDIO_FORMATS"]

log = logging.getLogger(__name__)

AUDIO_FORMATS = ("wav", "flac")


class AudioWriteError(OSError):
    """An audio file could not be written (disk full, permissions); nothing partial is left."""


class AudioFiles:
    """Content-addressed audio storage under ``root``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def digest(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def path_for(self, sha256: str, audio_format: str) -> Path:
        if audio_format not in AUDIO_FORMATS:
            raise ValueError(f"audio format must be one of {AUDIO_FORMATS}, got {audio_format!r}")
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.{audio_format}"

    def put(self, data: bytes, audio_format: str) -> tuple[str, bool]:
        """Store ``data``; returns ``(sha256, created)`` where ``created`` is False for a duplicate.

        Raises:
            AudioWriteError: the file could not be written; no partial file remains.
        """
        sha = self.digest(data)
        path = self.path_for(sha, audio_format)
        if path.exists() and path.stat().st_size == len(data):
            return sha, False
        tmp_name: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{sha[:16]}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                _write_all(fh, data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
        except OSError as exc:
            reason = "disk full" if exc.errno == errno.ENOSPC else exc.strerror or type(exc).__name__
            raise AudioWriteError(exc.errno or errno.EIO, f"cannot write audio file {path}: {reason}") from exc
        finally:
            if tmp_name is not None:
                try:
                    os.unlink(tmp_name)
                except FileNotFoundError:
                    pass
        return sha, True

    def read(self, sha256: str, audio_format: str) -> bytes:
        return self.path_for(sha256, audio_format).read_bytes()

    def remove(self, sha256: str, audio_format: str) -> bool:
        """Delete a stored file; False when it was not there."""
        try:
            self.path_for(sha256, audio_format).unlink()
            return True
        except FileNotFoundError:
            return False


def _write_all(fh, data: bytes, chunk: int = 1 << 20) -> None:
    """Write ``data`` in chunks (a failure part-way raises; the caller removes the temp file)."""
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        fh.write(view[start:start + chunk])
