"""File modes for what the validator keeps on disk: its state directory 0700, the SQLite files 0600.

The database holds customers' accounts, credit ledgers, webhook URLs and (sealed) webhook secrets,
and the state directory the challenge secret and the secrets key, so neither is readable by other
users of the machine. :func:`private_directory` creates a directory 0700 and, for a directory that
is the validator's own (``tighten=True``: the state directory), removes group and other access
from one created earlier with looser modes. :func:`private_sqlite_files` creates an empty database
file 0600 before SQLite opens it, which matters beyond the file itself: SQLite creates the
``-wal`` and ``-shm`` files with the mode of the database file, whatever the process umask, so
they come out 0600 too. Files made earlier with looser modes are tightened.
"""

import logging
import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "SQLITE_SIDE_FILES", "private_directory", "private_file", "private_sqlite_files"]

log = logging.getLogger(__name__)

DIR_MODE = 0o700
FILE_MODE = 0o600
#: Files SQLite keeps beside a database: the write-ahead log, its shared-memory index, a rollback journal.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    """Drop permission bits beyond ``mode`` from a file or directory this user owns."""
    info = path.stat()
    if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & ~mode == 0:
        return
    os.chmod(path, stat.S_IMODE(info.st_mode) & mode)
    log.info("%s was %o; now %o (only its owner may read it)", path, stat.S_IMODE(info.st_mode),
             stat.S_IMODE(info.st_mode) & mode)


def private_directory(path: str | Path, *, tighten: bool) -> Path:
    """Create ``path`` (and missing parents) with mode 0700 for the directory itself; with
    ``tighten``, also take group/other access from it when it already existed. Returns the path."""
    path = Path(path).expanduser()
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode passes through the umask; make it exact
    elif tighten:
        _tighten(path, DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist, else tighten it to 0600."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
    else:
        os.close(fd)
        os.chmod(path, FILE_MODE)
    return path


def private_sqlite_files(database: str | Path) -> None:
    """Make the SQLite database at ``database`` and any side files of it owner-only (0600)."""
    path = Path(database).expanduser()
    private_file(path)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            _tighten(side, FILE_MODE)
