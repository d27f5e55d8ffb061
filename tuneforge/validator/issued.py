"""The issue record: the newest round challenge this validator sent, made durable before it is sent.

Progress is otherwise saved when a round completes; a validator killed during a round would
restart at the same round number and send the same challenge, with the same seeds, again (a
miner that saw it could answer from a cache). So before a round's challenge leaves, its round
number and the challenge (private form, seed key included) are written here and fsynced; on
start the validator resumes its round counter after the newest record.

The file (``issued.dat``) has a fixed size: two slots of :data:`SLOT_BYTES`, allocated once when
the validator starts. Each record goes to the slot the previous record did not use, with a
sequence number and a CRC-32, written in place with ``os.pwrite`` and fsynced. Overwriting
allocated blocks needs no free space on ext4, XFS or tmpfs, so a full disk does not stop the
rounds (copy-on-write file systems such as btrfs or ZFS may still refuse, and then the round is
not sent); a torn write damages only its own slot, and the other slot still holds the previous
record.
"""

import json
import logging
import os
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneforge.fsutil import WriteFailed, describe_os_error, fsync_directory

__all__ = ["IssueRecord", "IssuedRound", "SLOT_BYTES"]

log = logging.getLogger(__name__)

SLOT_BYTES = 16 * 1024
_MAGIC = b"TFISSUE1"
_HEADER = struct.Struct("<8sQQII")  # magic, sequence, round number, payload length, CRC-32 of the payload


@dataclass(frozen=True)
class IssuedRound:
    """A record: ``round_number`` issued, with ``challenge`` (``Challenge.to_dict(private=True)``)."""

    sequence: int
    round_number: int
    challenge: dict[str, Any]


class IssueRecord:
    """The two-slot record at ``path``. Thread-safe; one validator process owns one file."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._sequence = 0

    def open(self) -> IssuedRound | None:
        """Allocate the file when it is missing or short, and return the newest valid record.

        Raises:
            WriteFailed: the file could not be created (e.g. the disk is already full at start).
        """
        with self._lock:
            newest = self._read()
            self._sequence = 0 if newest is None else newest.sequence
            self._allocate()
            return newest

    def record(self, round_number: int, challenge: dict[str, Any]) -> None:
        """Durably record that ``round_number`` is being issued with ``challenge``.

        Raises:
            WriteFailed: the write or the fsync failed; the challenge must not be sent.
            ValueError: the challenge does not fit in a slot.
        """
        payload = json.dumps({"round": int(round_number), "challenge": challenge}, sort_keys=True).encode("utf-8")
        if _HEADER.size + len(payload) > SLOT_BYTES:
            raise ValueError(f"challenge record of {len(payload)} bytes does not fit a {SLOT_BYTES}-byte slot")
        with self._lock:
            sequence = self._sequence + 1
            header = _HEADER.pack(_MAGIC, sequence, int(round_number), len(payload), zlib.crc32(payload))
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    data = header + payload
                    offset = (sequence % 2) * SLOT_BYTES
                    written = 0
                    while written < len(data):
                        n = os.pwrite(fd, data[written:], offset + written)
                        if n <= 0:
                            raise OSError(5, "pwrite made no progress")
                        written += n
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise WriteFailed(exc.errno, describe_os_error(exc, self.path), self.path) from exc
            self._sequence = sequence

    def load(self) -> IssuedRound | None:
        """The newest valid record, or None."""
        with self._lock:
            return self._read()

    def _read(self) -> IssuedRound | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("could not read the issue record %s: %s", self.path, exc)
            return None
        best: IssuedRound | None = None
        for slot in range(2):
            found = _parse(raw[slot * SLOT_BYTES:(slot + 1) * SLOT_BYTES])
            if found is not None and (best is None or found.sequence > best.sequence):
                best = found
        return best

    def _allocate(self) -> None:
        """Make the file exactly two slots long (existing records kept) and durable."""
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            size = -1
        if size >= 2 * SLOT_BYTES:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                start = max(0, size)
                zeros = bytes(2 * SLOT_BYTES - start)
                view = memoryview(zeros)
                offset = start
                while view:
                    n = os.pwrite(fd, view, offset)
                    view, offset = view[n:], offset + n
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise WriteFailed(exc.errno, describe_os_error(exc, self.path), self.path) from exc
        fsync_directory(self.path.parent)


def _parse(slot: bytes) -> IssuedRound | None:
    if len(slot) < _HEADER.size:
        return None
    magic, sequence, round_number, length, crc = _HEADER.unpack_from(slot)
    if magic != _MAGIC or _HEADER.size + length > len(slot):
        return None
    payload = slot[_HEADER.size:_HEADER.size + length]
    if zlib.crc32(payload) != crc:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
        if int(data["round"]) != round_number or not isinstance(data["challenge"], dict):
            return None
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    return IssuedRound(sequence=int(sequence), round_number=int(round_number), challenge=data["challenge"])
