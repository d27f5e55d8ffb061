"""Validator state on disk: what a restarted validator needs to carry on where it stopped.

``ValidatorState`` holds the leaderboard (``Leaderboard.to_dict``), the number of completed
rounds, the number of issued rounds (the round counter: round ids come from it, and it advances
when a challenge is issued, not when its round completes), the block of the last accepted
weights and the hotkey known for each uid. The validator saves it as ``state.json`` inside one
snapshot with the miner history and the challenge store (``tuneforge.validator.snapshot``).
``StateFile`` reads and writes the single-file form of the earlier layout, as versioned JSON (``{"format": 1, ...}``) atomically: the bytes go to a temp file in
the same directory, are flushed and fsynced, and ``os.replace`` swaps it over the target, so a
crash or a full disk at any point leaves the previous file whole. A file that cannot be read
(bad JSON, wrong shape, unknown format) is moved aside to ``<name>.corrupt-<timestamp>`` with a
WARNING and the validator starts fresh; it is never silently overwritten. Temp files left by a
crash are removed by the next successful save. One validator process owns one state file.
"""

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneforge.validator.leaderboard import Leaderboard

__all__ = ["FORMAT_VERSION", "StateFile", "StateSaveError", "ValidatorState"]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class StateSaveError(OSError):
    """The state could not be written; the previous state file is unchanged."""


@dataclass
class ValidatorState:
    """Everything persisted between runs. ``hotkeys`` maps uid → hotkey as last seen on the metagraph."""

    leaderboard: dict[str, Any] = field(default_factory=lambda: Leaderboard().to_dict())
    rounds_completed: int = 0
    last_weight_block: int | None = None
    hotkeys: dict[int, str] = field(default_factory=dict)
    #: Rounds whose challenge was issued: the round counter, the next round is ``rounds_issued + 1``.
    #: Never below ``rounds_completed`` (None, as in files written before it existed, means equal).
    rounds_issued: int | None = None

    def __post_init__(self) -> None:
        self.rounds_issued = max(self.rounds_completed, self.rounds_issued or 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "rounds_completed": self.rounds_completed,
            "rounds_issued": self.rounds_issued,
            "last_weight_block": self.last_weight_block,
            "hotkeys": {str(uid): hk for uid, hk in sorted(self.hotkeys.items())},
            "leaderboard": self.leaderboard,
        }

    def to_bytes(self) -> bytes:
        """``to_dict`` as indented UTF-8 JSON with a trailing newline."""
        return (json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> "ValidatorState":
        """Parse :meth:`to_bytes` output. Raises ValueError."""
        try:
            return cls.from_dict(json.loads(data.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"state is not JSON: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Any) -> "ValidatorState":
        """Parse a saved state.

        Raises:
            ValueError: not a dict, an unknown ``format``, or fields of the wrong type or range.
        """
        if not isinstance(data, dict):
            raise ValueError(f"state must be a JSON object, got {type(data).__name__}")
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown state format {data.get('format')!r} (this validator reads {FORMAT_VERSION})")
        try:
            rounds = int(data["rounds_completed"])
            issued = data.get("rounds_issued")
            rounds_issued = None if issued is None else int(issued)
            lwb = data.get("last_weight_block")
            last_weight_block = None if lwb is None else int(lwb)
            hotkeys = {int(uid): str(hk) for uid, hk in dict(data["hotkeys"]).items()}
            board = data["leaderboard"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed state: {exc!r}") from exc
        if rounds < 0 or (rounds_issued is not None and rounds_issued < rounds):
            raise ValueError(f"rounds_completed must be >= 0 and <= rounds_issued, got {rounds} / {rounds_issued}")
        Leaderboard.from_dict(board)  # validates; raises ValueError
        return cls(leaderboard=board, rounds_completed=rounds, last_weight_block=last_weight_block, hotkeys=hotkeys,
                   rounds_issued=rounds_issued)


class StateFile:
    """Atomic JSON persistence of a ``ValidatorState`` at ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def _temp_prefix(self) -> str:
        return f".{self.path.name}.tmp-"

    def load(self) -> ValidatorState | None:
        """The saved state, or None when there is none or it was unreadable (then moved aside, WARNING logged)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return ValidatorState.from_dict(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            aside = self._move_aside()
            log.warning("validator state %s is unreadable (%s); moved to %s, starting from a fresh state",
                        self.path, exc, aside)
            return None

    def _move_aside(self) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
            n += 1
        os.replace(self.path, aside)
        return aside

    def save(self, state: ValidatorState) -> None:
        """Write ``state`` atomically.

        Raises:
            StateSaveError: the write, fsync or rename failed (e.g. ENOSPC); the old file is intact.
        """
        data = state.to_bytes()
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f"{self._temp_prefix}{os.getpid()}-{time.monotonic_ns()}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            self._discard(tmp)
            raise StateSaveError(
                exc.errno, f"could not save validator state to {self.path}: {exc.strerror or exc}; "
                f"the previous state file is unchanged"
            ) from exc
        self._fsync_directory(directory)
        self._remove_stale_temps(keep=tmp)

    @staticmethod
    def _discard(tmp: Path) -> None:
        try:
            tmp.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove temp file %s after a failed save: %s", tmp, exc)

    @staticmethod
    def _fsync_directory(directory: Path) -> None:
        """Make the rename durable; not every platform can open a directory, which is not an error."""
        try:
            dfd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError as exc:
            log.debug("fsync of %s failed: %s", directory, exc)
        finally:
            os.close(dfd)

    def _remove_stale_temps(self, keep: Path) -> None:
        for stale in self.path.parent.glob(f"{self._temp_prefix}*"):
            if stale != keep:
                try:
                    stale.unlink()
                    log.info("removed temp file %s left by an interrupted save", stale)
                except OSError as exc:
                    log.warning("could not remove stale temp file %s: %s", stale, exc)
