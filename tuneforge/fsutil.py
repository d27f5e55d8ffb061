"""Durable file writes: temp file + fsync + rename, and errors that name the file and say "disk full".

:func:`atomic_write_bytes` writes the bytes to a temporary file in the target's directory,
fsyncs it, renames it over the target and fsyncs the directory, so a reader (or a restart
after a crash) sees either the old file or the new one, never half of one. Any ``OSError`` on
the way is re-raised as :class:`WriteFailed` whose message names the file being written (not
some other file of the same save) and starts with ``disk full:`` when the cause is ENOSPC or
EDQUOT (:class:`DiskFull`); the temporary file is removed. Bytes go through ``os.write`` in a
loop, which is also where tests inject a full disk.
"""

import errno
import json
import logging
import os
from pathlib import Path
from typing import Any

__all__ = [
    "DiskFull",
    "WriteFailed",
    "atomic_write_bytes",
    "atomic_write_json",
    "describe_os_error",
    "fsync_directory",
    "is_disk_full",
    "write_durably",
]

log = logging.getLogger(__name__)

_DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


class WriteFailed(OSError):
    """A file could not be written; ``path`` is the file, ``str(exc)`` one line saying why."""

    def __init__(self, err: int | None, message: str, path: Path) -> None:
        super().__init__(err, message)
        self.path = path

    def __str__(self) -> str:
        return str(self.strerror)


class DiskFull(WriteFailed):
    """The file system holding ``path`` is full (ENOSPC) or over quota (EDQUOT)."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) is a full disk or an exhausted quota."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def describe_os_error(exc: OSError, path: str | os.PathLike[str]) -> str:
    """One line: ``"disk full: could not write PATH (...)"`` for ENOSPC/EDQUOT, else ``"could not write PATH: ..."``."""
    why = exc.strerror or str(exc)
    if exc.errno in _DISK_FULL_ERRNOS:
        return f"disk full: could not write {path} ({why})"
    return f"could not write {path}: {why}"


def _wrap(exc: OSError, path: Path) -> WriteFailed:
    cls = DiskFull if exc.errno in _DISK_FULL_ERRNOS else WriteFailed
    return cls(exc.errno, describe_os_error(exc, path), path)


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make renames and creations in ``directory`` durable; a platform that cannot open a
    directory is not an error (logged at DEBUG)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        log.debug("cannot open %s to fsync it: %s", directory, exc)
        return
    try:
        os.fsync(fd)
    except OSError as exc:
        log.debug("fsync of directory %s failed: %s", directory, exc)
    finally:
        os.close(fd)


def write_durably(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Create ``path`` (it must not exist) with ``data`` and fsync it. No rename: for files inside
    a directory that is itself renamed into place. Raises :class:`WriteFailed` (removing the file)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise _wrap(exc, path) from exc
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                if written <= 0:
                    raise OSError(errno.EIO, "write returned no progress")
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        _unlink_quietly(path)
        raise _wrap(exc, path) from exc


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp file, fsync, rename, fsync dir).

    Raises:
        WriteFailed: (``DiskFull`` on ENOSPC/EDQUOT) naming ``path``; the previous file is intact.
    """
    path = Path(path)
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _wrap(exc, directory) from exc
    tmp = directory / f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    try:
        write_durably(tmp, data, mode=mode)
    except WriteFailed as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, OSError) else exc
        raise _wrap(cause, path) from cause  # name the target, not the temp file
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise _wrap(exc, path) from exc
    fsync_directory(directory)


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 2) -> None:
    """:func:`atomic_write_bytes` of ``data`` as UTF-8 JSON (sorted keys, trailing newline)."""
    text = json.dumps(data, indent=indent, sort_keys=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove temporary file %s: %s", path, exc)
