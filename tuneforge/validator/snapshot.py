"""Validator snapshots: the state files saved together as one generation, or not at all.

The validator's state (``state.json``), the miners' history (``miner_history.npz``) and the
issued challenges (``challenges.json``) must agree with each other, so they are never saved one
by one over the previous files. :meth:`SnapshotStore.save` writes every file of a generation
into a fresh temporary directory ``snapshots/.<generation>.tmp-<pid>-<random>/`` (each file
fsynced), writes ``MANIFEST.json`` last (generation number, each file's size and SHA-256),
fsyncs the directory, renames it to ``snapshots/<generation>`` (ten digits) and fsyncs
``snapshots/``. The rename is the commit: a crash or a full disk at any point before it leaves
the previous generation the newest complete one. :meth:`SnapshotStore.load` returns the newest
generation whose manifest reads and whose files all match it; older generations beyond
:data:`KEEP` and temporary directories left by a crash are removed after each successful save.
A failed save raises :class:`SnapshotSaveError` whose message names the file that could not be
written and starts with ``disk full:`` when the disk is full.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tuneforge.fsutil import WriteFailed, describe_os_error, fsync_directory, is_disk_full, write_durably

__all__ = ["KEEP", "MANIFEST", "Snapshot", "SnapshotSaveError", "SnapshotStore"]

log = logging.getLogger(__name__)

MANIFEST = "MANIFEST.json"
#: Complete generations kept on disk (the newest and the one before it).
KEEP = 2
_GENERATION_RE = re.compile(r"^\d{10}$")
_FORMAT = 1

#: A file of a snapshot: its bytes, or a function that writes it to the path it is given.
FileSource = bytes | Callable[[Path], None]


class SnapshotSaveError(OSError):
    """A snapshot could not be saved; the previous generation is still the newest. ``path`` is
    the file that failed; ``disk_full`` says whether the disk (or quota) was full."""

    def __init__(self, err: int | None, message: str, path: Path, *, disk_full: bool) -> None:
        super().__init__(err, message)
        self.path = path
        self.disk_full = disk_full

    def __str__(self) -> str:
        return str(self.strerror)


@dataclass(frozen=True)
class Snapshot:
    """One complete generation: ``files`` maps file name → its bytes."""

    generation: int
    directory: Path
    files: dict[str, bytes]
    created_at: float


class SnapshotStore:
    """Generations of the validator's state files under ``root`` (``<state_dir>/snapshots``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading ------------------------------------------------------------------------------
    def generations(self) -> list[int]:
        """Committed generation numbers on disk, newest first (complete or not)."""
        try:
            names = [p.name for p in self.root.iterdir() if p.is_dir() and _GENERATION_RE.match(p.name)]
        except FileNotFoundError:
            return []
        return sorted((int(n) for n in names), reverse=True)

    def snapshots(self) -> Iterator[Snapshot]:
        """Complete generations, newest first; an incomplete or damaged one is skipped with a WARNING."""
        for generation in self.generations():
            try:
                yield self._read(generation)
            except (OSError, ValueError) as exc:
                log.warning("state snapshot %s is incomplete or damaged (%s); skipping it",
                            self._dir(generation), exc)

    def load(self) -> Snapshot | None:
        """The newest complete generation, or None when there is none."""
        return next(self.snapshots(), None)

    def _read(self, generation: int) -> Snapshot:
        directory = self._dir(generation)
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("format") != _FORMAT:
            raise ValueError(f"unknown manifest format {manifest.get('format') if isinstance(manifest, dict) else manifest!r}")
        if int(manifest.get("generation", -1)) != generation:
            raise ValueError(f"manifest names generation {manifest.get('generation')}, directory {generation}")
        files: dict[str, bytes] = {}
        for name, meta in dict(manifest["files"]).items():
            data = (directory / name).read_bytes()
            if len(data) != int(meta["bytes"]) or hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError(f"{name} does not match the manifest")
            files[name] = data
        return Snapshot(generation=generation, directory=directory, files=files,
                        created_at=float(manifest.get("created_at", 0.0)))

    # -- writing ------------------------------------------------------------------------------
    def save(self, files: Mapping[str, FileSource]) -> Snapshot:
        """Write ``files`` as the next generation (see the module docstring); returns it.

        Raises:
            SnapshotSaveError: nothing was committed; the message names the file that failed.
        """
        generations = self.generations()
        generation = (generations[0] + 1) if generations else 1
        final = self._dir(generation)
        tmp = self.root / f".{final.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
        current = self.root
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp.mkdir()
            entries: dict[str, dict[str, object]] = {}
            stored: dict[str, bytes] = {}
            for name, source in files.items():
                if name == MANIFEST or "/" in name or name.startswith("."):
                    raise ValueError(f"bad snapshot file name {name!r}")
                current = final / name
                path = tmp / name
                if isinstance(source, bytes):
                    write_durably(path, source)
                    data = source
                else:
                    source(path)
                    _fsync_file(path)
                    data = path.read_bytes()
                entries[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                stored[name] = data
            created = time.time()
            current = final / MANIFEST
            manifest = {"format": _FORMAT, "generation": generation, "created_at": created, "files": entries}
            write_durably(tmp / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
            fsync_directory(tmp)
            current = final
            os.rename(tmp, final)
            fsync_directory(self.root)
        except OSError as exc:
            _remove_tree(tmp)
            cause = exc.__cause__ if isinstance(exc, WriteFailed) and isinstance(exc.__cause__, OSError) else exc
            full = is_disk_full(exc)
            previous = f"generation {generations[0]} is still the newest" if generations else "no earlier snapshot exists"
            message = f"state snapshot {generation} not saved: {describe_os_error(cause, current)}; {previous}"
            raise SnapshotSaveError(cause.errno, message, current, disk_full=full) from exc
        except BaseException:
            _remove_tree(tmp)
            raise
        self._prune(keep_from=generation)
        return Snapshot(generation=generation, directory=final, files=stored, created_at=created)

    def _prune(self, *, keep_from: int) -> None:
        """Remove temporary directories and all but the newest :data:`KEEP` complete generations."""
        try:
            leftovers = [p for p in self.root.iterdir() if p.name.startswith(".") and ".tmp-" in p.name]
        except OSError as exc:
            log.warning("could not list %s to tidy it: %s", self.root, exc)
            return
        for stale in leftovers:
            log.info("removing %s, left by an interrupted save", stale)
            _remove_tree(stale)
        kept = 0
        for generation in self.generations():
            if generation > keep_from:
                continue  # written by someone else after us: not ours to judge
            if kept < KEEP:
                try:
                    self._read(generation)
                    kept += 1
                    continue
                except (OSError, ValueError):
                    pass  # a damaged generation is not worth keeping
            _remove_tree(self._dir(generation))

    def _dir(self, generation: int) -> Path:
        return self.root / f"{generation:010d}"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    try:
        shutil.rmtree(path)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)
