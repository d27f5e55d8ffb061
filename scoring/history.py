"""Each miner's recent clips, for diversity and self-repetition checks.

Per hotkey, a bounded deque of ``(embedding, fingerprint)`` pairs: the embedding is the clip's
CLAP audio embedding when the neural models ran, else its DSP embedding; the fingerprint is the
clip's spectral-peak :class:`~scoring.copies.Fingerprint` (``Features.fingerprint``, ≤ 24 kB
for 30 s), kept for the ``FINGERPRINT_HISTORY_CLIPS`` most recent clips only (the copy check
reads no more; 256 hotkeys × 16 × 22 kB ≈ 90 MB). Saved as one compressed ``.npz`` written to a temporary file and renamed, so a crash
never leaves a half-written history.

File formats: version 2 (this one) stores each fingerprint as two arrays (``…_bins`` uint8,
``…_levels`` int8) and the fingerprint format it was extracted with. Version 1 files (no
``format`` in the metadata) stored 32-bit Haitsma–Kalker bit prints, which the copy matcher
cannot use: they load with their embeddings and without fingerprints (logged), so a validator
upgrading keeps its diversity history and rebuilds the fingerprint history as clips arrive.
Fingerprints of another extraction format are dropped the same way.
"""

import json
import logging
import os
from collections import deque
from pathlib import Path

import numpy as np

from scoring import constants as C
from scoring.copies.prints import FORMAT_VERSION as FINGERPRINT_FORMAT
from scoring.copies.prints import Fingerprint
from scoring.npz_file import save_npz_atomic

__all__ = ["MinerHistory", "HistoryEntry", "FILE_FORMAT"]

logger = logging.getLogger(__name__)

HistoryEntry = tuple[np.ndarray | None, Fingerprint | None]
FILE_FORMAT = 2


class MinerHistory:
    """Recent ``(embedding, fingerprint)`` entries per hotkey, at most ``maxlen`` each (oldest dropped)."""

    def __init__(self, maxlen: int = C.DIVERSITY_HISTORY) -> None:
        if maxlen < 1:
            raise ValueError(f"maxlen must be ≥ 1, got {maxlen}")
        self.maxlen = int(maxlen)
        self._entries: dict[str, deque[HistoryEntry]] = {}

    def add(
        self, hotkey: str, *, embedding: np.ndarray | None = None, fingerprint: Fingerprint | None = None
    ) -> None:
        """Append one clip's embedding (float ``(d,)``) and :class:`Fingerprint`."""
        emb = None if embedding is None else np.asarray(embedding, dtype=np.float32).ravel().copy()
        if fingerprint is not None and not isinstance(fingerprint, Fingerprint):
            raise TypeError(
                f"fingerprint must be a scoring.copies.Fingerprint, got {type(fingerprint).__name__}"
            )
        if fingerprint is not None:
            fingerprint.release()  # the history keeps the stored arrays, not the matcher's derived ones
        entries = self._entries.setdefault(hotkey, deque(maxlen=self.maxlen))
        entries.append((emb, fingerprint))
        # Only the FINGERPRINT_HISTORY_CLIPS most recent fingerprints are ever compared: older ones go.
        kept = 0
        for i in range(len(entries) - 1, -1, -1):
            old_emb, old_fp = entries[i]
            if old_fp is not None:
                kept += 1
                if kept > C.FINGERPRINT_HISTORY_CLIPS:
                    entries[i] = (old_emb, None)

    def hotkeys(self) -> list[str]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, hotkey: str) -> list[HistoryEntry]:
        return list(self._entries.get(hotkey, ()))

    def embeddings(self, hotkey: str) -> np.ndarray:
        """Stored embeddings of ``hotkey`` as float32 ``(n, d)``; only those matching the newest
        entry's dimension (CLAP and DSP embeddings are not mixed); ``(0, 0)`` when none."""
        embs = [e for e, _ in self._entries.get(hotkey, ()) if e is not None]
        if not embs:
            return np.zeros((0, 0), dtype=np.float32)
        dim = embs[-1].size
        return np.stack([e for e in embs if e.size == dim]).astype(np.float32)

    def fingerprints(self, hotkey: str) -> list[Fingerprint]:
        """The hotkey's stored fingerprints (at most ``FINGERPRINT_HISTORY_CLIPS``, the most recent), oldest first."""
        return [f for _, f in self._entries.get(hotkey, ()) if f is not None]

    def forget(self, hotkey: str) -> None:
        """Drop a hotkey (e.g. deregistered and its UID reused)."""
        self._entries.pop(hotkey, None)

    def save(self, path: str | os.PathLike) -> None:
        """Write all entries to ``path`` (.npz, format 2) atomically (temporary file in the same folder, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        index: dict[str, list[list[str | None]]] = {}
        for h_i, (hotkey, entries) in enumerate(sorted(self._entries.items())):
            rows: list[list[str | None]] = []
            for e_i, (emb, fp) in enumerate(entries):
                keys: list[str | None] = [None, None]
                if emb is not None:
                    keys[0] = f"e{h_i}_{e_i}"
                    arrays[keys[0]] = emb
                if fp is not None:
                    keys[1] = f"f{h_i}_{e_i}"
                    for name, arr in fp.to_arrays().items():
                        arrays[f"{keys[1]}_{name}"] = arr
                rows.append(keys)
            index[hotkey] = rows
        meta = json.dumps(
            {
                "format": FILE_FORMAT,
                "fingerprint_format": FINGERPRINT_FORMAT,
                "maxlen": self.maxlen,
                "index": index,
            }
        )
        arrays["__meta__"] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
        save_npz_atomic(path, arrays, compressed=True)

    @classmethod
    def load(cls, path: str | os.PathLike, maxlen: int | None = None) -> "MinerHistory":
        """Read a history written by :meth:`save` (format 2) or by the format-1 writer (its
        fingerprints are dropped, embeddings kept). Raises ValueError when the file is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["__meta__"]).decode("utf-8"))
                version = int(meta.get("format", 1))
                if version not in (1, FILE_FORMAT):
                    raise ValueError(f"unknown history format {version}")
                keep_prints = (
                    version == FILE_FORMAT and int(meta.get("fingerprint_format", -1)) == FINGERPRINT_FORMAT
                )
                hist = cls(maxlen=maxlen or int(meta["maxlen"]))
                dropped = 0
                for hotkey, rows in meta["index"].items():
                    for emb_key, fp_key in rows:
                        fp = None
                        if fp_key is not None:
                            if keep_prints:
                                fp = Fingerprint.from_arrays(
                                    {"bins": data[f"{fp_key}_bins"], "levels": data[f"{fp_key}_levels"]}
                                )
                            else:
                                dropped += 1
                        hist.add(hotkey, embedding=None if emb_key is None else data[emb_key], fingerprint=fp)
        except (KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError, OSError, ValueError) as exc:
            raise ValueError(f"not a miner history file: {path} ({exc})") from exc
        if dropped:
            logger.info(
                "miner history %s: %d fingerprints of an older format dropped (embeddings kept); "
                "the fingerprint history refills as clips arrive",
                path,
                dropped,
            )
        return hist
