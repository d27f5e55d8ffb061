"""SoundFont 2 (SF2) parsing: a RIFF ``sfbk`` file resolved into playable zones per preset.

The file is memory-mapped once: the ``sdta/smpl`` chunk becomes a zero-copy little-endian int16
numpy view (the 24-bit ``sm24`` extension is ignored), and the ``pdta`` hydra (phdr, pbag,
pgen, inst, ibag, igen, shdr) is read into small structured arrays. Every chunk size, record
size and cross-index (preset → bag → generator → instrument → bag → generator → sample →
sample pool) is checked at load, so a truncated, corrupt or non-SF2 file raises
:class:`SoundFontError` naming the problem.

A preset's zones are resolved on first use (:meth:`SoundFont.zones`) per the SF2 2.04 rules:
instrument generators are absolute (a local zone overrides the instrument's global zone, which
overrides the spec defaults), preset generators are added to them (local over the preset's
global zone), key and velocity ranges are intersected. Modulators (including the defaults
other than velocity → attenuation, which the voice applies), LFOs, the modulation envelope,
chorus and reverb sends are not read.
"""

import logging
import mmap
import os
import struct
from dataclasses import dataclass

import numpy as np

__all__ = ["SoundFontError", "SampleHeader", "Zone", "PresetInfo", "SoundFont", "load_soundfont"]

log = logging.getLogger(__name__)


class SoundFontError(ValueError):
    """The file is not a usable SF2 soundfont; the message names the problem."""


# Generator operators (SF2 2.04 section 8.1.2) that this reader uses.
G_START, G_END, G_LOOP_START, G_LOOP_END, G_START_COARSE = 0, 1, 2, 3, 4
G_FILTER_FC, G_END_COARSE, G_PAN = 8, 12, 17
G_DELAY_VOL, G_ATTACK_VOL, G_HOLD_VOL, G_DECAY_VOL, G_SUSTAIN_VOL, G_RELEASE_VOL = 33, 34, 35, 36, 37, 38
G_KEY_TO_HOLD, G_KEY_TO_DECAY = 39, 40
G_INSTRUMENT, G_KEY_RANGE, G_VEL_RANGE, G_LOOP_START_COARSE = 41, 43, 44, 45
G_KEYNUM, G_VELOCITY, G_ATTENUATION, G_LOOP_END_COARSE = 46, 47, 48, 50
G_COARSE_TUNE, G_FINE_TUNE, G_SAMPLE_ID, G_SAMPLE_MODES, G_SCALE_TUNING = 51, 52, 53, 54, 56
G_OVERRIDING_ROOT_KEY = 58

#: Spec defaults of the generators a voice reads (timecents, centibels, cents, 0.1 % pan).
_DEFAULTS = {
    G_FILTER_FC: 13500, G_PAN: 0, G_DELAY_VOL: -12000, G_ATTACK_VOL: -12000, G_HOLD_VOL: -12000,
    G_DECAY_VOL: -12000, G_SUSTAIN_VOL: 0, G_RELEASE_VOL: -12000, G_KEY_TO_HOLD: 0, G_KEY_TO_DECAY: 0,
    G_ATTENUATION: 0, G_COARSE_TUNE: 0, G_FINE_TUNE: 0, G_SAMPLE_MODES: 0, G_SCALE_TUNING: 100,
    G_OVERRIDING_ROOT_KEY: -1, G_KEYNUM: -1, G_VELOCITY: -1,
}
#: Generators that are not allowed at preset level (ignored there, per the spec).
_INSTRUMENT_ONLY = {G_START, G_END, G_LOOP_START, G_LOOP_END, G_START_COARSE, G_END_COARSE,
                    G_LOOP_START_COARSE, G_LOOP_END_COARSE, G_KEYNUM, G_VELOCITY, G_SAMPLE_MODES,
                    57, G_OVERRIDING_ROOT_KEY, G_SAMPLE_ID}
_RANGES = (G_KEY_RANGE, G_VEL_RANGE)
_ROM_SAMPLE = 0x8000

_PHDR = np.dtype([("name", "S20"), ("program", "<u2"), ("bank", "<u2"), ("bag", "<u2"),
                  ("library", "<u4"), ("genre", "<u4"), ("morphology", "<u4")])
_BAG = np.dtype([("gen", "<u2"), ("mod", "<u2")])
_GEN = np.dtype([("oper", "<u2"), ("amount", "<u2")])
_INST = np.dtype([("name", "S20"), ("bag", "<u2")])
_SHDR = np.dtype([("name", "S20"), ("start", "<u4"), ("end", "<u4"), ("loop_start", "<u4"),
                  ("loop_end", "<u4"), ("rate", "<u4"), ("pitch", "u1"), ("correction", "i1"),
                  ("link", "<u2"), ("type", "<u2")])
_HYDRA = {"phdr": _PHDR, "pbag": _BAG, "pgen": _GEN, "inst": _INST, "ibag": _BAG, "igen": _GEN, "shdr": _SHDR}


@dataclass(frozen=True)
class SampleHeader:
    """One ``shdr`` record: indices into the sample pool (frames), ``rate`` in Hz, MIDI ``pitch``."""

    name: str
    start: int
    end: int
    loop_start: int
    loop_end: int
    rate: int
    pitch: int
    correction: int  # cents
    link: int
    type: int


@dataclass(frozen=True)
class Zone:
    """A resolved voice recipe: one instrument zone under one preset zone.

    Sample addresses are absolute frame indices into :attr:`SoundFont.samples` with
    ``start < end`` and, when ``loop_mode`` is 1 or 3, ``start <= loop_start < loop_end <= end``.
    Envelope times are timecents (seconds = 2**(tc/1200)), levels centibels of attenuation,
    ``tune_cents`` = coarse·100 + fine + the sample's pitch correction, ``scale_tuning`` cents per
    key, ``pan`` -0.5 (left) .. 0.5 (right), ``filter_fc`` absolute cents (13500 = open).
    """

    key_lo: int
    key_hi: int
    vel_lo: int
    vel_hi: int
    sample: int  # index into SoundFont.sample_headers
    start: int
    end: int
    loop_start: int
    loop_end: int
    loop_mode: int  # 0 one-shot, 1 loop continuously, 3 loop until release then play on
    sample_rate: int
    root_key: int
    tune_cents: int
    scale_tuning: int
    fixed_key: int  # -1 unless the zone forces a key (keynum generator)
    attenuation_cb: int
    pan: float
    filter_fc: int
    delay_tc: int
    attack_tc: int
    hold_tc: int
    decay_tc: int
    sustain_cb: int
    release_tc: int
    key_to_hold_tc: int  # timecents added per key below 60
    key_to_decay_tc: int

    def matches(self, key: int, velocity: int) -> bool:
        return self.key_lo <= key <= self.key_hi and self.vel_lo <= velocity <= self.vel_hi


@dataclass(frozen=True)
class PresetInfo:
    """A preset's name, MIDI bank (128 = GM percussion) and program (0-127)."""

    name: str
    bank: int
    program: int


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("latin-1").strip()


def _chunks(buf: mmap.mmap | bytes, start: int, end: int, where: str) -> dict[str, tuple[int, int]]:
    """Sub-chunks of ``buf[start:end]`` as {id: (data offset, size)}; raises on a size past ``end``."""
    out: dict[str, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        cid = bytes(buf[pos:pos + 4]).decode("latin-1")
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        if pos + 8 + size > end:
            raise SoundFontError(f"{where}: chunk {cid!r} at byte {pos} claims {size} bytes but only "
                                 f"{end - pos - 8} remain (truncated or corrupt file)")
        if cid == "LIST":
            if size < 4:
                raise SoundFontError(f"{where}: LIST chunk at byte {pos} is too short for its list type")
            cid = "LIST:" + bytes(buf[pos + 8:pos + 12]).decode("latin-1")
            out[cid] = (pos + 12, size - 4)
        else:
            out.setdefault(cid, (pos + 8, size))
        pos += 8 + size + (size & 1)
    return out


def _records(buf: mmap.mmap | bytes, chunks: dict[str, tuple[int, int]], name: str) -> np.ndarray:
    if name not in chunks:
        raise SoundFontError(f"pdta has no {name!r} chunk")
    dtype = _HYDRA[name]
    off, size = chunks[name]
    if size % dtype.itemsize:
        raise SoundFontError(f"{name} chunk size {size} is not a multiple of its {dtype.itemsize}-byte record")
    if size // dtype.itemsize < 2:
        raise SoundFontError(f"{name} chunk needs at least one record and the terminal record, has {size // dtype.itemsize}")
    return np.frombuffer(buf, dtype=dtype, count=size // dtype.itemsize, offset=off).copy()


def _check_index_list(values: np.ndarray, limit: int, what: str, into: str) -> None:
    """``values`` (bag or generator start indices) must be non-decreasing and at most ``limit``."""
    v = values.astype(np.int64)
    if np.any(np.diff(v) < 0):
        bad = int(np.argmax(np.diff(v) < 0)) + 1
        raise SoundFontError(f"{what} record {bad}: {into} index {int(v[bad])} goes backwards")
    if v[-1] > limit:
        raise SoundFontError(f"{what}: {into} index {int(v[-1])} is past the {limit} {into} records")


def _zone_gens(gens: np.ndarray, bags: np.ndarray, first_bag: int, last_bag: int, terminal: int
               ) -> tuple[dict[int, int], list[dict[int, int]]]:
    """(global generators, [local generators per zone that ends with ``terminal``]) of bags [first, last)."""
    zones: list[dict[int, int]] = []
    global_gens: dict[int, int] = {}
    for b in range(first_bag, last_bag):
        lo, hi = int(bags[b]["gen"]), int(bags[b + 1]["gen"])
        zone = {int(g["oper"]): int(g["amount"]) for g in gens[lo:hi]}
        last = int(gens[hi - 1]["oper"]) if hi > lo else -1
        if last == terminal:
            zones.append(zone)
        elif b == first_bag:
            global_gens = zone
    return global_gens, zones


def _signed(v: int) -> int:
    return v - 0x10000 if v >= 0x8000 else v


def _range(gens: dict[int, int], op: int) -> tuple[int, int]:
    v = gens.get(op)
    return (0, 127) if v is None else (v & 0xFF, v >> 8)


class SoundFont:
    """A loaded SF2 file. ``samples``: int16 view of the whole sample pool (frames, mono).

    ``presets``: {(bank, program): PresetInfo}. Use :meth:`zones` to get a preset's voices.
    Construct with :func:`load_soundfont`.
    """

    def __init__(self, path: str, buf: mmap.mmap | bytes, samples: np.ndarray, name: str,
                 hydra: dict[str, np.ndarray]) -> None:
        self.path = path
        self.name = name
        self._buf = buf  # keeps the mapping behind ``samples`` alive
        self.samples = samples
        self._h = hydra
        shdr = hydra["shdr"]
        self.sample_headers = [
            SampleHeader(_text(s["name"]), int(s["start"]), int(s["end"]), int(s["loop_start"]),
                         int(s["loop_end"]), int(s["rate"]), int(s["pitch"]), int(s["correction"]),
                         int(s["link"]), int(s["type"]))
            for s in shdr[:-1]
        ]
        phdr = hydra["phdr"]
        self._preset_index: dict[tuple[int, int], int] = {}
        self.presets: dict[tuple[int, int], PresetInfo] = {}
        for i, p in enumerate(phdr[:-1]):
            key = (int(p["bank"]), int(p["program"]))
            if key not in self._preset_index:
                self._preset_index[key] = i
                self.presets[key] = PresetInfo(_text(p["name"]), *key)
        self._zone_cache: dict[tuple[int, int], tuple[Zone, ...]] = {}

    def zones(self, bank: int, program: int) -> tuple[Zone, ...]:
        """Every playable zone of preset (``bank``, ``program``); empty when the font lacks it."""
        key = (int(bank), int(program))
        if key not in self._zone_cache:
            idx = self._preset_index.get(key)
            self._zone_cache[key] = () if idx is None else tuple(self._resolve(idx))
        return self._zone_cache[key]

    def _resolve(self, preset: int) -> list[Zone]:
        h = self._h
        pglobal, pzones = _zone_gens(h["pgen"], h["pbag"], int(h["phdr"][preset]["bag"]),
                                     int(h["phdr"][preset + 1]["bag"]), G_INSTRUMENT)
        out: list[Zone] = []
        for pz in pzones:
            padd = {op: _signed(v) for op, v in {**pglobal, **pz}.items()
                    if op not in _INSTRUMENT_ONLY and op not in _RANGES and op != G_INSTRUMENT}
            pkeys = _range({**pglobal, **pz}, G_KEY_RANGE)
            pvels = _range({**pglobal, **pz}, G_VEL_RANGE)
            inst = pz[G_INSTRUMENT]
            iglobal, izones = _zone_gens(h["igen"], h["ibag"], int(h["inst"][inst]["bag"]),
                                         int(h["inst"][inst + 1]["bag"]), G_SAMPLE_ID)
            for iz in izones:
                raw = {**iglobal, **iz}
                keys, vels = _range(raw, G_KEY_RANGE), _range(raw, G_VEL_RANGE)
                key_lo, key_hi = max(keys[0], pkeys[0]), min(keys[1], pkeys[1])
                vel_lo, vel_hi = max(vels[0], pvels[0]), min(vels[1], pvels[1])
                if key_lo > key_hi or vel_lo > vel_hi:
                    continue
                zone = self._zone(raw, padd, (key_lo, key_hi, vel_lo, vel_hi))
                if zone is not None:
                    out.append(zone)
        return out

    def _zone(self, raw: dict[int, int], padd: dict[int, int], ranges: tuple[int, int, int, int]) -> Zone | None:
        sid = raw[G_SAMPLE_ID]
        s = self.sample_headers[sid]
        if s.type & _ROM_SAMPLE or s.rate <= 0 or s.end <= s.start:
            log.debug("soundfont %s: sample %r is ROM, rateless or empty; zone skipped", self.path, s.name)
            return None

        def gen(op: int) -> int:
            v = raw.get(op)
            return (_DEFAULTS.get(op, 0) if v is None else _signed(v)) + padd.get(op, 0)

        n_pool = self.samples.shape[0]
        start = s.start + gen(G_START) + 32768 * gen(G_START_COARSE)
        end = s.end + gen(G_END) + 32768 * gen(G_END_COARSE)
        start, end = max(0, min(start, n_pool)), max(0, min(end, n_pool))
        if end - start < 2:
            log.debug("soundfont %s: sample %r has fewer than 2 frames after offsets; zone skipped", self.path, s.name)
            return None
        loop_mode = gen(G_SAMPLE_MODES) & 3
        loop_start = s.loop_start + gen(G_LOOP_START) + 32768 * gen(G_LOOP_START_COARSE)
        loop_end = s.loop_end + gen(G_LOOP_END) + 32768 * gen(G_LOOP_END_COARSE)
        if loop_mode in (1, 3):
            loop_start, loop_end = max(start, min(loop_start, end)), max(start, min(loop_end, end))
            if loop_end - loop_start < 2:
                loop_mode = 0  # a degenerate loop cannot be played; the sample plays once
        else:
            loop_mode = 0
        root = gen(G_OVERRIDING_ROOT_KEY)
        if not 0 <= root <= 127:
            root = s.pitch if s.pitch <= 127 else 60
        return Zone(
            *ranges, sample=sid, start=start, end=end, loop_start=loop_start, loop_end=loop_end,
            loop_mode=loop_mode, sample_rate=s.rate, root_key=root,
            tune_cents=100 * gen(G_COARSE_TUNE) + gen(G_FINE_TUNE) + s.correction,
            scale_tuning=gen(G_SCALE_TUNING), fixed_key=gen(G_KEYNUM) if 0 <= gen(G_KEYNUM) <= 127 else -1,
            attenuation_cb=max(0, gen(G_ATTENUATION)), pan=float(np.clip(gen(G_PAN) / 1000.0, -0.5, 0.5)),
            filter_fc=gen(G_FILTER_FC), delay_tc=gen(G_DELAY_VOL), attack_tc=gen(G_ATTACK_VOL),
            hold_tc=gen(G_HOLD_VOL), decay_tc=gen(G_DECAY_VOL), sustain_cb=max(0, gen(G_SUSTAIN_VOL)),
            release_tc=gen(G_RELEASE_VOL), key_to_hold_tc=gen(G_KEY_TO_HOLD), key_to_decay_tc=gen(G_KEY_TO_DECAY),
        )


def _validate(hydra: dict[str, np.ndarray], n_pool: int) -> None:
    """Cross-index checks of the hydra against itself and the sample pool (``n_pool`` frames)."""
    phdr, pbag, pgen, inst, ibag, igen, shdr = (hydra[k] for k in _HYDRA)
    _check_index_list(phdr["bag"], len(pbag) - 1, "phdr", "pbag")
    _check_index_list(pbag["gen"], len(pgen), "pbag", "pgen")
    _check_index_list(inst["bag"], len(ibag) - 1, "inst", "ibag")
    _check_index_list(ibag["gen"], len(igen), "ibag", "igen")
    n_inst, n_samples = len(inst) - 1, len(shdr) - 1
    bad = (pgen["oper"] == G_INSTRUMENT) & (pgen["amount"] >= n_inst)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise SoundFontError(f"pgen record {i}: instrument index {int(pgen['amount'][i])} is past the {n_inst} instruments")
    bad = (igen["oper"] == G_SAMPLE_ID) & (igen["amount"] >= n_samples)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise SoundFontError(f"igen record {i}: sample index {int(igen['amount'][i])} is past the {n_samples} samples")
    s = shdr[:-1]
    rom = (s["type"] & _ROM_SAMPLE) != 0
    bad = ~rom & ((s["start"] > s["end"]) | (s["end"].astype(np.int64) > n_pool))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise SoundFontError(
            f"sample {i} ({_text(s['name'][i])!r}) spans frames {int(s['start'][i])}-{int(s['end'][i])}, "
            f"outside the {n_pool}-frame sample pool"
        )


def load_soundfont(path: str | os.PathLike[str]) -> SoundFont:
    """Memory-map and validate the SF2 file at ``path``; raises :class:`SoundFontError` if unusable."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 12:
                raise SoundFontError(f"{path}: {size} bytes is too short for a RIFF header")
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise SoundFontError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return _parse(path, buf, size)
    except SoundFontError as exc:
        buf.close()
        raise SoundFontError(f"{path}: {exc}") from None


def _parse(path: str, buf: mmap.mmap, size: int) -> SoundFont:
    if buf[0:4] != b"RIFF":
        raise SoundFontError(f"not a RIFF file (starts with {bytes(buf[0:4])!r})")
    if buf[8:12] != b"sfbk":
        raise SoundFontError(f"RIFF form is {bytes(buf[8:12])!r}, not b'sfbk' (not a SoundFont 2 file)")
    (riff_size,) = struct.unpack_from("<I", buf, 4)
    if riff_size + 8 > size:
        raise SoundFontError(f"RIFF header claims {riff_size + 8} bytes but the file has {size} (truncated)")
    top = _chunks(buf, 12, riff_size + 8, "sfbk")
    for need in ("LIST:sdta", "LIST:pdta"):
        if need not in top:
            raise SoundFontError(f"no {need[5:]!r} LIST chunk")
    name = ""
    if "LIST:INFO" in top:
        off, n = top["LIST:INFO"]
        info = _chunks(buf, off, off + n, "INFO")
        if "INAM" in info:
            o, k = info["INAM"]
            name = _text(bytes(buf[o:o + k]))
    off, n = top["LIST:sdta"]
    sdta = _chunks(buf, off, off + n, "sdta")
    if "smpl" not in sdta:
        raise SoundFontError("sdta has no 'smpl' chunk (compressed SF3 files are not supported)")
    s_off, s_size = sdta["smpl"]
    off, n = top["LIST:pdta"]
    pdta = _chunks(buf, off, off + n, "pdta")
    hydra = {k: _records(buf, pdta, k) for k in _HYDRA}
    _validate(hydra, s_size // 2)
    # The only view into the mapping, made once everything is known to be valid.
    samples = np.frombuffer(buf, dtype="<i2", count=s_size // 2, offset=s_off)
    font = SoundFont(path, buf, samples, name or os.path.basename(path), hydra)
    log.info("soundfont %s: %r, %d presets, %d samples, %.1f MB of sample data",
             path, font.name, len(font.presets), len(font.sample_headers), s_size / 1e6)
    return font
