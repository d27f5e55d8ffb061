"""A minimal SoundFont 2 writer for tests: RIFF ``sfbk`` with INFO, sdta/smpl and the pdta hydra.

Build a font from :class:`Sample`, :class:`Instrument` and :class:`Preset` descriptions, where a
zone is a dict {generator operator: amount}; ranges (keyRange 43, velRange 44) are (lo, hi)
tuples, everything else a signed 16-bit int. An instrument zone names its sample with generator
53 (sampleID) and a preset zone its instrument with 41; a first zone without it is the global
zone. Generators are written in the order the spec asks for (ranges first, 41/53 last).
"""

import struct
from dataclasses import dataclass, field

import numpy as np

KEY_RANGE, VEL_RANGE, INSTRUMENT, SAMPLE_ID = 43, 44, 41, 53


@dataclass
class Sample:
    """``data`` int16 mono frames; loop points relative to the sample's first frame."""

    name: str
    data: np.ndarray
    rate: int
    pitch: int = 60
    correction: int = 0
    loop: tuple[int, int] = (0, 0)


@dataclass
class Instrument:
    name: str
    zones: list[dict] = field(default_factory=list)


@dataclass
class Preset:
    name: str
    bank: int
    program: int
    zones: list[dict] = field(default_factory=list)


def chunk(cid: bytes, data: bytes) -> bytes:
    """One RIFF chunk: id, little-endian size, data and a pad byte if the size is odd."""
    return cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")


def list_chunk(kind: bytes, *subchunks: bytes) -> bytes:
    return chunk(b"LIST", kind + b"".join(subchunks))


def _name(text: str) -> bytes:
    return text.encode("latin-1")[:19].ljust(20, b"\0")


def _gens(zone: dict) -> bytes:
    rank = {KEY_RANGE: 0, VEL_RANGE: 1, INSTRUMENT: 3, SAMPLE_ID: 3}
    order = sorted(zone, key=lambda op: rank.get(op, 2))
    out = b""
    for op in order:
        value = zone[op]
        if isinstance(value, tuple):
            amount = (value[0] & 0xFF) | ((value[1] & 0xFF) << 8)
        else:
            amount = int(value) & 0xFFFF
        out += struct.pack("<HH", op, amount)
    return out


def _bags_and_gens(groups: list[list[dict]]) -> tuple[bytes, bytes, list[int]]:
    """(bag records incl. terminal, generator records incl. terminal, first bag index per group + end)."""
    bags, gens, starts = b"", b"", []
    n_gens = n_bags = 0
    for zones in groups:
        starts.append(n_bags)
        for zone in zones:
            bags += struct.pack("<HH", n_gens, 0)
            g = _gens(zone)
            gens += g
            n_gens += len(g) // 4
            n_bags += 1
    starts.append(n_bags)
    bags += struct.pack("<HH", n_gens, 0)
    gens += struct.pack("<HH", 0, 0)
    return bags, gens, starts


def sf2_bytes(samples: list[Sample], instruments: list[Instrument], presets: list[Preset], name: str = "tiny") -> bytes:
    """The whole SF2 file as bytes."""
    pool, shdr = [], b""
    pos = 0
    for s in samples:
        data = np.asarray(s.data, dtype="<i2")
        start, end = pos, pos + len(data)
        ls, le = (start + s.loop[0], start + s.loop[1]) if s.loop != (0, 0) else (start, start)
        shdr += _name(s.name) + struct.pack("<IIIIIBbHH", start, end, ls, le, s.rate, s.pitch, s.correction, 0, 1)
        pool.append(data.tobytes() + b"\0" * 92)  # the spec's 46 zero frames after each sample
        pos = end + 46
    shdr += _name("EOS") + struct.pack("<IIIIIBbHH", 0, 0, 0, 0, 0, 0, 0, 0, 0)

    ibag, igen, istarts = _bags_and_gens([i.zones for i in instruments])
    inst = b"".join(_name(i.name) + struct.pack("<H", istarts[k]) for k, i in enumerate(instruments))
    inst += _name("EOI") + struct.pack("<H", istarts[-1])
    pbag, pgen, pstarts = _bags_and_gens([p.zones for p in presets])
    phdr = b"".join(_name(p.name) + struct.pack("<HHHIII", p.program, p.bank, pstarts[k], 0, 0, 0)
                    for k, p in enumerate(presets))
    phdr += _name("EOP") + struct.pack("<HHHIII", 0, 0, pstarts[-1], 0, 0, 0)
    mod_terminal = b"\0" * 10

    info = list_chunk(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1)), chunk(b"isng", b"EMU8000\0"),
                      chunk(b"INAM", name.encode() + b"\0"))
    sdta = list_chunk(b"sdta", chunk(b"smpl", b"".join(pool)))
    pdta = list_chunk(b"pdta", chunk(b"phdr", phdr), chunk(b"pbag", pbag), chunk(b"pmod", mod_terminal),
                      chunk(b"pgen", pgen), chunk(b"inst", inst), chunk(b"ibag", ibag), chunk(b"imod", mod_terminal),
                      chunk(b"igen", igen), chunk(b"shdr", shdr))
    body = b"sfbk" + info + sdta + pdta
    return b"RIFF" + struct.pack("<I", len(body)) + body
