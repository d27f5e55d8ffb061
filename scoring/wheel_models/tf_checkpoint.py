"""Read TensorFlow tensor-bundle checkpoints (``prefix.index`` + ``prefix.data-*``) with numpy only.

A TF1/TF2 checkpoint saved by ``tf.train.Saver`` is a *tensor bundle*
(``tensorflow/core/util/tensor_bundle``): the ``.index`` file is a LevelDB-format SSTable whose
keys are tensor names and whose values are ``BundleEntryProto`` messages (dtype, shape, shard,
offset, size, masked CRC-32C); the entry with the empty key is a ``BundleHeaderProto`` (number
of shards, endianness). The ``.data-NNNNN-of-MMMMM`` shards hold the raw little-endian tensor
bytes. This module decodes the SSTable and the few protobuf fields it needs by hand, checks every
block and tensor checksum, and returns ``dict[str, np.ndarray]`` -- so the scorer can use the
trained weights that ship inside a wheel without importing TensorFlow.

It is strict: a bad magic number, a truncated or corrupt file, a checksum mismatch, an offset
outside its shard, a size that disagrees with the shape, an unknown dtype, a compressed block or
a partitioned (sliced) variable raise :class:`CheckpointError` naming the file and the problem.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring.signals.base import ScoringError
from scoring.wheel_models.crc32c import masked_crc32c

__all__ = ["CheckpointError", "TensorEntry", "list_checkpoint", "read_checkpoint"]

_TABLE_MAGIC = 0xDB4775248B80FB57  # LevelDB table magic (leveldb/table/format.h)
_FOOTER_SIZE = 48  # two BlockHandles padded to 40 bytes + 8-byte magic
_BLOCK_TRAILER = 5  # compression type byte + masked CRC-32C of block + type
_NO_COMPRESSION = 0

# tensorflow/core/framework/types.proto -> numpy (little-endian); others are refused.
_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    8: np.dtype("<c8"),  # DT_COMPLEX64
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    18: np.dtype("<c16"),  # DT_COMPLEX128
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}


class CheckpointError(ScoringError):
    """A checkpoint file is missing, truncated, corrupt or uses a feature this reader refuses."""


@dataclass(frozen=True)
class TensorEntry:
    """One ``BundleEntryProto``: where a tensor's bytes lie and what they are."""

    name: str
    dtype: np.dtype
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None  # masked, as stored; None when the writer stored none


# --- protobuf wire format -------------------------------------------------------------------


def _varint(buf: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """Decode a base-128 varint at ``buf[pos:end]``; returns (value, next position)."""
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise CheckpointError(f"truncated varint in {what}")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise CheckpointError(f"varint longer than 10 bytes in {what}")


def _fields(buf: bytes, what: str) -> list[tuple[int, int, int | bytes]]:
    """Split a protobuf message into (field number, wire type, value) triples.

    Varints and fixed-width values come back as ints, length-delimited ones as bytes.
    """
    out: list[tuple[int, int, int | bytes]] = []
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos, end, what)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise CheckpointError(f"field number 0 in {what}")
        if wire == 0:
            value, pos = _varint(buf, pos, end, what)
            out.append((field, wire, value))
        elif wire == 1 or wire == 5:
            width = 8 if wire == 1 else 4
            if pos + width > end:
                raise CheckpointError(f"truncated fixed{width * 8} field in {what}")
            out.append((field, wire, int.from_bytes(buf[pos : pos + width], "little")))
            pos += width
        elif wire == 2:
            length, pos = _varint(buf, pos, end, what)
            if pos + length > end:
                raise CheckpointError(f"length-delimited field runs past the end of {what}")
            out.append((field, wire, bytes(buf[pos : pos + length])))
            pos += length
        else:
            raise CheckpointError(f"unsupported protobuf wire type {wire} in {what}")
    return out


def _int64(value: int) -> int:
    """A varint read as a protobuf int64/int32 (two's complement over 64 bits)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _expect(wire: int, wanted: int, field: str, what: str) -> None:
    if wire != wanted:
        raise CheckpointError(f"{what}: field {field} has wire type {wire}, expected {wanted}")


def _shape(buf: bytes, what: str) -> tuple[int, ...]:
    """``TensorShapeProto``: repeated Dim dim = 2 (Dim.size = 1); unknown_rank = 3."""
    dims: list[int] = []
    for field, wire, value in _fields(buf, what):
        if field == 2:
            _expect(wire, 2, "shape.dim", what)
            size = 0
            for dfield, dwire, dvalue in _fields(value, what):  # type: ignore[arg-type]
                if dfield == 1:
                    _expect(dwire, 0, "dim.size", what)
                    size = _int64(dvalue)  # type: ignore[arg-type]
            if size < 0:
                raise CheckpointError(f"{what}: unknown dimension ({size}) in a saved tensor")
            dims.append(size)
        elif field == 3 and value:
            raise CheckpointError(f"{what}: shape of unknown rank")
    return tuple(dims)


def _entry(name: str, buf: bytes) -> TensorEntry:
    """Decode a ``BundleEntryProto``."""
    what = f"entry {name!r}"
    dtype_code, shape, shard_id, offset, size, crc = 0, (), 0, 0, 0, None
    for field, wire, value in _fields(buf, what):
        if field == 1:
            _expect(wire, 0, "dtype", what)
            dtype_code = value  # type: ignore[assignment]
        elif field == 2:
            _expect(wire, 2, "shape", what)
            shape = _shape(value, what)  # type: ignore[arg-type]
        elif field == 3:
            _expect(wire, 0, "shard_id", what)
            shard_id = _int64(value)  # type: ignore[arg-type]
        elif field == 4:
            _expect(wire, 0, "offset", what)
            offset = _int64(value)  # type: ignore[arg-type]
        elif field == 5:
            _expect(wire, 0, "size", what)
            size = _int64(value)  # type: ignore[arg-type]
        elif field == 6:
            _expect(wire, 5, "crc32c", what)
            crc = value  # type: ignore[assignment]
        elif field == 7:
            raise CheckpointError(f"{what}: partitioned (sliced) variables are not supported")
    if dtype_code not in _DTYPES:
        raise CheckpointError(f"{what}: unsupported dtype code {dtype_code} (types.proto)")
    if shard_id < 0 or offset < 0 or size < 0:
        raise CheckpointError(f"{what}: negative shard/offset/size ({shard_id}/{offset}/{size})")
    dtype = _DTYPES[dtype_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size != expected:
        raise CheckpointError(f"{what}: {size} bytes stored for shape {shape} of {dtype} ({expected} expected)")
    return TensorEntry(name, dtype, shape, shard_id, offset, size, crc)


# --- LevelDB table --------------------------------------------------------------------------


def _block(data: bytes, handle: bytes, what: str, path: Path) -> bytes:
    """The contents of the block a ``BlockHandle`` (varint offset, varint size) points at."""
    offset, pos = _varint(handle, 0, len(handle), what)
    size, _ = _varint(handle, pos, len(handle), what)
    if offset + size + _BLOCK_TRAILER > len(data):
        raise CheckpointError(f"{path}: {what} at {offset}+{size} lies outside the file ({len(data)} bytes)")
    contents = data[offset : offset + size]
    kind = data[offset + size]
    stored = int.from_bytes(data[offset + size + 1 : offset + size + 5], "little")
    if masked_crc32c(data[offset : offset + size + 1]) != stored:
        raise CheckpointError(f"{path}: checksum mismatch in {what} at offset {offset}")
    if kind != _NO_COMPRESSION:
        raise CheckpointError(f"{path}: {what} is compressed (type {kind}); only uncompressed tables are read")
    return contents


def _block_entries(block: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """Key/value pairs of one table block (prefix-compressed keys, restart array at the end)."""
    if len(block) < 4:
        raise CheckpointError(f"{what} is shorter than its restart count")
    n_restarts = int.from_bytes(block[-4:], "little")
    limit = len(block) - 4 - 4 * n_restarts
    if n_restarts < 1 or limit < 0:
        raise CheckpointError(f"{what} has a bad restart array ({n_restarts} restarts)")
    out: list[tuple[bytes, bytes]] = []
    pos, key = 0, b""
    while pos < limit:
        shared, pos = _varint(block, pos, limit, what)
        unshared, pos = _varint(block, pos, limit, what)
        vlen, pos = _varint(block, pos, limit, what)
        if shared > len(key) or pos + unshared + vlen > limit:
            raise CheckpointError(f"{what} has an entry that runs past its end")
        key = key[:shared] + block[pos : pos + unshared]
        pos += unshared
        out.append((key, block[pos : pos + vlen]))
        pos += vlen
    return out


def _table(path: Path) -> list[tuple[bytes, bytes]]:
    """All key/value pairs of an SSTable file, in key order."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint index {path}: {exc}") from exc
    if len(data) < _FOOTER_SIZE:
        raise CheckpointError(f"{path}: {len(data)} bytes, too short for a table footer (truncated?)")
    footer = data[-_FOOTER_SIZE:]
    if int.from_bytes(footer[-8:], "little") != _TABLE_MAGIC:
        raise CheckpointError(f"{path}: bad table magic (not a TensorFlow checkpoint index, or truncated)")
    what = "table footer"
    _, pos = _varint(footer, 0, 40, what)  # metaindex offset (unused)
    _, pos = _varint(footer, pos, 40, what)  # metaindex size
    index_start = pos
    _, pos = _varint(footer, pos, 40, what)
    _, pos = _varint(footer, pos, 40, what)
    index = _block(data[: len(data) - _FOOTER_SIZE], footer[index_start:pos], "index block", path)
    entries: list[tuple[bytes, bytes]] = []
    for _, handle in _block_entries(index, f"{path} index block"):
        block = _block(data[: len(data) - _FOOTER_SIZE], handle, "data block", path)
        entries.extend(_block_entries(block, f"{path} data block"))
    keys = [k for k, _ in entries]
    if any(a >= b for a, b in zip(keys, keys[1:], strict=False)):
        raise CheckpointError(f"{path}: table keys are not strictly increasing (corrupt index)")
    return entries


# --- bundle ---------------------------------------------------------------------------------


def _prefix(prefix: str | os.PathLike[str]) -> str:
    """A checkpoint prefix as a string; a directory means the files ``dir/.index`` etc."""
    text = os.fspath(prefix)
    return os.path.join(text, "") if os.path.isdir(text) else text


def _read_index(prefix: str) -> tuple[int, dict[str, TensorEntry]]:
    entries = _table(Path(prefix + ".index"))
    if not entries or entries[0][0] != b"":
        raise CheckpointError(f"{prefix}.index: no bundle header (empty key)")
    num_shards, big_endian = 0, False
    for field, wire, value in _fields(entries[0][1], "bundle header"):
        if field == 1:
            _expect(wire, 0, "num_shards", "bundle header")
            num_shards = _int64(value)  # type: ignore[arg-type]
        elif field == 2:
            _expect(wire, 0, "endianness", "bundle header")
            big_endian = value == 1
    if big_endian:
        raise CheckpointError(f"{prefix}.index: big-endian bundles are not supported")
    if num_shards < 1:
        raise CheckpointError(f"{prefix}.index: header declares {num_shards} shards")
    tensors: dict[str, TensorEntry] = {}
    for key, value in entries[1:]:
        try:
            name = key.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"{prefix}.index: tensor name is not UTF-8: {key!r}") from exc
        entry = _entry(name, value)
        if entry.shard_id >= num_shards:
            raise CheckpointError(f"entry {name!r}: shard {entry.shard_id} of {num_shards}")
        tensors[name] = entry
    return num_shards, tensors


def list_checkpoint(prefix: str | os.PathLike[str]) -> dict[str, TensorEntry]:
    """Every tensor of the bundle at ``prefix`` (``prefix + ".index"`` must exist), by name."""
    return _read_index(_prefix(prefix))[1]


def read_checkpoint(
    prefix: str | os.PathLike[str],
    *,
    names: list[str] | tuple[str, ...] | None = None,
    verify: bool = True,
) -> dict[str, np.ndarray]:
    """Load tensors of a TensorFlow tensor-bundle checkpoint.

    ``prefix``: the path without ``.index`` (``"model.ckpt-100"``), or a directory whose files are
    named ``.index`` / ``.data-00000-of-00001`` (musicnn's layout). ``names``: the tensors to
    load (all when None; a missing name raises). ``verify``: check each tensor's CRC-32C.
    Returns name → read-only array of the stored dtype and shape (native byte order).
    """
    text = _prefix(prefix)
    num_shards, entries = _read_index(text)
    wanted = sorted(entries) if names is None else list(names)
    missing = [n for n in wanted if n not in entries]
    if missing:
        raise CheckpointError(f"{text}.index has no tensor(s) {missing}")
    shards: dict[int, bytes] = {}
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        entry = entries[name]
        if entry.shard_id not in shards:
            shard = Path(f"{text}.data-{entry.shard_id:05d}-of-{num_shards:05d}")
            try:
                shards[entry.shard_id] = shard.read_bytes()
            except OSError as exc:
                raise CheckpointError(f"cannot read checkpoint shard {shard}: {exc}") from exc
        data = shards[entry.shard_id]
        end = entry.offset + entry.size
        if end > len(data):
            raise CheckpointError(
                f"entry {name!r}: bytes {entry.offset}..{end} lie outside shard {entry.shard_id} "
                f"({len(data)} bytes; truncated?)"
            )
        raw = memoryview(data)[entry.offset : end]
        if verify and entry.crc32c is not None and masked_crc32c(raw) != entry.crc32c:
            raise CheckpointError(f"entry {name!r}: checksum mismatch (corrupt data shard)")
        array = np.frombuffer(raw, dtype=entry.dtype).reshape(entry.shape)
        array = array.astype(entry.dtype.newbyteorder("="), copy=True)
        array.flags.writeable = False
        out[name] = array
    return out
