"""CRC-32C (Castagnoli) in numpy, fast enough to check megabytes of checkpoint at load time.

TensorFlow's tensor bundles protect every table block and every tensor with a *masked* CRC-32C
(``tensorflow/core/lib/hash/crc32c.h``). No CRC-32C package is a dependency of ours, and a
byte-at-a-time Python loop needs ~1 s for the ~3 MB of weights a musicnn tagger reads, so long
inputs are cut into equal chunks whose CRCs advance together, one numpy step per byte position,
and are then joined with a precomputed "append ``L`` zero bytes" operator (CRCs are linear over
GF(2)). Short inputs take the plain table loop.
"""

from functools import lru_cache

import numpy as np

__all__ = ["crc32c", "masked_crc32c", "unmask_crc32c"]

_POLY = 0x82F63B78  # CRC-32C, reflected
_MASK_DELTA = 0xA282EAD8  # tensorflow/core/lib/hash/crc32c.h kMaskDelta
_CHUNK = 1024  # bytes per chunk of the vectorised route
_SHORT = 8192  # inputs up to this many bytes take the scalar loop


@lru_cache(maxsize=1)
def _table() -> np.ndarray:
    """The byte table, ``(256,)`` uint32: CRC register update for one input byte."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(_POLY), crc >> 1).astype(np.uint32)
    return crc


@lru_cache(maxsize=1)
def _slice_tables() -> np.ndarray:
    """``(4, 256)`` uint32 tables of slicing-by-4: row k advances a byte by k further zero bytes."""
    table = _table()
    rows = [table]
    for _ in range(3):
        rows.append((rows[-1] >> 8) ^ table[rows[-1] & 0xFF])
    return np.stack(rows)


@lru_cache(maxsize=1)
def _shift_tables() -> np.ndarray:
    """``(4, 256)`` uint32: row k maps byte v of a register to its contribution after ``_CHUNK``
    zero bytes have been fed (the register of ``v << 8k`` advanced by ``_CHUNK`` zeros)."""
    table = _table()
    reg = (np.arange(256, dtype=np.uint32)[None, :] << (8 * np.arange(4, dtype=np.uint32))[:, None]).ravel()
    for _ in range(_CHUNK):
        reg = table[reg & 0xFF] ^ (reg >> 8)
    return reg.reshape(4, 256)


def _raw_scalar(data: bytes | memoryview, reg: int) -> int:
    table = _table().tolist()
    for byte in bytes(data):
        reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg


def _raw_vector(data: np.ndarray) -> int:
    """Register after feeding ``data`` (uint8, length a multiple of ``_CHUNK``) from register 0."""
    t0, t1, t2, t3 = _slice_tables()
    # words[j] holds bytes 4j..4j+3 of every chunk (little-endian), contiguous per step
    words = np.ascontiguousarray(data.view("<u4").reshape(-1, _CHUNK // 4).T)
    regs = np.zeros(words.shape[1], dtype=np.uint32)
    for word in words:
        regs ^= word
        regs = t3[regs & 0xFF] ^ t2[(regs >> 8) & 0xFF] ^ t1[(regs >> 16) & 0xFF] ^ t0[regs >> 24]
    s0, s1, s2, s3 = (row.tolist() for row in _shift_tables())
    reg = 0
    for value in regs.tolist():
        reg = s0[reg & 0xFF] ^ s1[(reg >> 8) & 0xFF] ^ s2[(reg >> 16) & 0xFF] ^ s3[reg >> 24] ^ value
    return reg


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C of ``data`` (the iSCSI/TFRecord checksum; ``crc32c(b"123456789") == 0xE3069283``)."""
    view = memoryview(data).cast("B")
    n = len(view)
    if n <= _SHORT:
        return _raw_scalar(view, 0xFFFFFFFF) ^ 0xFFFFFFFF
    # From register 0xFFFFFFFF is the same as from register 0 with the first four bytes
    # complemented; leading zero bytes leave a zero register unchanged, so the front is padded
    # to a whole number of chunks.
    arr = np.frombuffer(view, dtype=np.uint8)
    pad = (-n) % _CHUNK
    buf = np.zeros(pad + n, dtype=np.uint8)
    buf[pad:] = arr
    buf[pad : pad + 4] ^= 0xFF
    return _raw_vector(buf) ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | bytearray | memoryview) -> int:
    """TensorFlow's stored form of a CRC: rotated right by 15 bits plus ``0xA282EAD8`` (mod 2**32)."""
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc32c(masked: int) -> int:
    """Inverse of the mask applied by :func:`masked_crc32c`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF
