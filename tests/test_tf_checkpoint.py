"""The numpy reader of TensorFlow tensor-bundle checkpoints (scoring/wheel_models/tf_checkpoint.py).

Crafted bundles are written here by a minimal writer (one data block, as TensorFlow's
BundleWriter lays them out), then broken in the ways a damaged install or a hostile file would
be. The musicnn checkpoints are compared with the per-tensor digests that
``scripts/musicnn_reference.py`` recorded from TensorFlow's own ``NewCheckpointReader``.
"""

import hashlib
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from scoring.wheel_models.crc32c import _raw_scalar, crc32c, masked_crc32c, unmask_crc32c
from scoring.wheel_models.tf_checkpoint import CheckpointError, list_checkpoint, read_checkpoint

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"
_DTYPE_CODES = {np.dtype("float32"): 1, np.dtype("float64"): 2, np.dtype("int32"): 3, np.dtype("float16"): 19,
                np.dtype("int64"): 9, np.dtype("bool"): 10, np.dtype("uint8"): 4}
_MAGIC = 0xDB4775248B80FB57


# --- a minimal tensor-bundle writer -----------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value & ((1 << 64) - 1))


def _field_bytes(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _entry(dtype: int, shape: tuple[int, ...], offset: int, size: int, crc: int | None, extra: bytes = b"") -> bytes:
    dims = b"".join(_field_bytes(2, _field_varint(1, d)) for d in shape)
    msg = _field_varint(1, dtype) + _field_bytes(2, dims) + _field_varint(4, offset) + _field_varint(5, size)
    if crc is not None:
        msg += _varint(6 << 3 | 5) + crc.to_bytes(4, "little")
    return msg + extra


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(_varint(0) + _varint(len(k)) + _varint(len(v)) + k + v for k, v in entries)
    return body + (0).to_bytes(4, "little") + (1).to_bytes(4, "little")


def _with_trailer(block: bytes, kind: int = 0) -> bytes:
    typed = block + bytes([kind])
    return typed + masked_crc32c(typed).to_bytes(4, "little")


def write_bundle(prefix: Path, tensors: dict[str, np.ndarray], *, header: bytes | None = None,
                 entry_override: dict[str, bytes] | None = None, num_shards: int = 1,
                 data_block_kind: int = 0) -> None:
    """Write ``prefix.index`` + ``prefix.data-00000-of-0000N`` the way TF's BundleWriter does."""
    data = bytearray()
    entries: list[tuple[bytes, bytes]] = []
    header = header if header is not None else _field_varint(1, num_shards) + _field_bytes(3, _field_varint(1, 1))
    entries.append((b"", header))
    for name in sorted(tensors):
        arr = np.asarray(tensors[name], order="C")
        raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        value = _entry(_DTYPE_CODES[arr.dtype], arr.shape, len(data), len(raw), masked_crc32c(raw))
        if entry_override and name in entry_override:
            value = entry_override[name]
        entries.append((name.encode(), value))
        data += raw
    blob = bytearray()
    data_block = _with_trailer(_block(entries), data_block_kind)
    blob += data_block
    meta_off = len(blob)
    meta = _with_trailer(_block([]))
    blob += meta
    index_off = len(blob)
    index = _with_trailer(_block([(entries[-1][0] + b"\xff", _varint(0) + _varint(len(data_block) - 5))]))
    blob += index
    handles = _varint(meta_off) + _varint(len(meta) - 5) + _varint(index_off) + _varint(len(index) - 5)
    blob += handles.ljust(40, b"\0") + _MAGIC.to_bytes(8, "little")
    Path(f"{prefix}.index").write_bytes(bytes(blob))
    Path(f"{prefix}.data-00000-of-{num_shards:05d}").write_bytes(bytes(data))


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "conv/kernel": rng.standard_normal((3, 4, 1, 5)).astype(np.float32),
        "conv/bias": rng.standard_normal(5).astype(np.float32),
        "global_step": np.asarray(1234, dtype=np.int64),
        "half": rng.standard_normal((2, 3)).astype(np.float16),
        "double": rng.standard_normal(4),
        "flags": np.array([True, False, True]),
        "ids": np.arange(-3, 3, dtype=np.int32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "big": rng.standard_normal(20_000).astype(np.float32),  # > 8 KiB: the vectorised CRC route
    }


@pytest.fixture()
def bundle(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    tensors = _tensors()
    prefix = tmp_path / "model.ckpt-7"
    write_bundle(prefix, tensors)
    return prefix, tensors


# --- CRC-32C ----------------------------------------------------------------------------------


def test_crc32c_known_values_and_routes_agree() -> None:
    assert crc32c(b"") == 0
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4: 32 bytes of zeros
    assert crc32c(b"\xff" * 32) == 0x62A8AB43  # RFC 3720 B.4: 32 bytes of ones
    rng = np.random.default_rng(1)
    for n in (8191, 8192, 8193, 10_000, 65_537):  # around and above the vectorised threshold
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == _raw_scalar(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    for value in (0, 1, 0xFFFFFFFF, 0x12345678):
        rot = ((value >> 15) | (value << 17)) & 0xFFFFFFFF
        assert unmask_crc32c((rot + 0xA282EAD8) & 0xFFFFFFFF) == value


# --- reading ----------------------------------------------------------------------------------


def test_round_trip_every_supported_dtype(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = bundle
    out = read_checkpoint(prefix)
    assert sorted(out) == sorted(tensors)
    for name, value in tensors.items():
        assert out[name].dtype == value.dtype and out[name].shape == value.shape, name
        np.testing.assert_array_equal(out[name], value)
        assert not out[name].flags.writeable
    entries = list_checkpoint(prefix)
    assert entries["conv/kernel"].shape == (3, 4, 1, 5) and entries["conv/kernel"].dtype == np.float32


def test_selected_names_and_missing_name(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = bundle
    out = read_checkpoint(prefix, names=["conv/bias"])
    assert list(out) == ["conv/bias"]
    with pytest.raises(CheckpointError, match="no tensor"):
        read_checkpoint(prefix, names=["conv/bias", "nope"])


def test_missing_files(tmp_path: Path, bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    with pytest.raises(CheckpointError, match="cannot read checkpoint index"):
        read_checkpoint(tmp_path / "absent")
    prefix, _ = bundle
    os.remove(f"{prefix}.data-00000-of-00001")
    with pytest.raises(CheckpointError, match="cannot read checkpoint shard"):
        read_checkpoint(prefix)


def test_bad_magic(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = bundle
    index = Path(f"{prefix}.index")
    blob = bytearray(index.read_bytes())
    blob[-1] ^= 0x01
    index.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="bad table magic"):
        read_checkpoint(prefix)


@pytest.mark.parametrize("keep", [0, 10, 47, -1, -48])
def test_truncated_index(bundle: tuple[Path, dict[str, np.ndarray]], keep: int) -> None:
    prefix, _ = bundle
    index = Path(f"{prefix}.index")
    blob = index.read_bytes()
    index.write_bytes(blob[:keep] if keep >= 0 else blob[:keep])
    with pytest.raises(CheckpointError):
        read_checkpoint(prefix)


def test_truncated_data_shard(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = bundle
    shard = Path(f"{prefix}.data-00000-of-00001")
    shard.write_bytes(shard.read_bytes()[:-3])
    with pytest.raises(CheckpointError, match="outside shard"):
        read_checkpoint(prefix)


def test_corrupt_tensor_bytes_fail_the_checksum(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, tensors = bundle
    shard = Path(f"{prefix}.data-00000-of-00001")
    blob = bytearray(shard.read_bytes())
    blob[-5] ^= 0x40  # inside "half" or "ids", whichever sorts last
    shard.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        read_checkpoint(prefix)
    # without verification the flipped bit is simply read back
    out = read_checkpoint(prefix, verify=False)
    assert any(not np.array_equal(out[n], tensors[n]) for n in tensors)


def test_corrupt_index_block_fails_its_checksum(bundle: tuple[Path, dict[str, np.ndarray]]) -> None:
    prefix, _ = bundle
    index = Path(f"{prefix}.index")
    blob = bytearray(index.read_bytes())
    blob[20] ^= 0x01  # inside the data block's entries
    index.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="checksum mismatch in data block"):
        read_checkpoint(prefix)


def _override(tmp_path: Path, name: str, value: bytes) -> Path:
    prefix = tmp_path / "crafted"
    write_bundle(prefix, _tensors(), entry_override={name: value})
    return prefix


def test_offset_outside_the_shard(tmp_path: Path) -> None:
    size = 5 * 4
    prefix = _override(tmp_path, "conv/bias", _entry(1, (5,), 10**9, size, None))
    with pytest.raises(CheckpointError, match="outside shard"):
        read_checkpoint(prefix, names=["conv/bias"])


@pytest.mark.parametrize("code", [7, 14, 21, 999])  # string, bfloat16, resource, nonsense
def test_unknown_dtype(tmp_path: Path, code: int) -> None:
    prefix = _override(tmp_path, "conv/bias", _entry(code, (5,), 0, 20, None))
    with pytest.raises(CheckpointError, match="unsupported dtype"):
        list_checkpoint(prefix)


def test_size_disagreeing_with_shape(tmp_path: Path) -> None:
    prefix = _override(tmp_path, "conv/bias", _entry(1, (5,), 0, 24, None))
    with pytest.raises(CheckpointError, match="bytes stored for shape"):
        list_checkpoint(prefix)


def test_sliced_variable_refused(tmp_path: Path) -> None:
    prefix = _override(tmp_path, "conv/bias", _entry(1, (5,), 0, 20, None, extra=_field_bytes(7, b"")))
    with pytest.raises(CheckpointError, match="partitioned"):
        list_checkpoint(prefix)


def test_shard_out_of_range(tmp_path: Path) -> None:
    entry = _entry(1, (5,), 0, 20, None) + _field_varint(3, 4)
    prefix = _override(tmp_path, "conv/bias", entry)
    with pytest.raises(CheckpointError, match="shard 4 of 1"):
        list_checkpoint(prefix)


def test_truncated_entry_protobuf(tmp_path: Path) -> None:
    prefix = _override(tmp_path, "conv/bias", _entry(1, (5,), 0, 20, None)[:-1] + b"\x80")
    with pytest.raises(CheckpointError):
        list_checkpoint(prefix)


def test_big_endian_and_headerless_bundles_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "be"
    write_bundle(prefix, _tensors(), header=_field_varint(1, 1) + _field_varint(2, 1))
    with pytest.raises(CheckpointError, match="big-endian"):
        read_checkpoint(prefix)
    prefix = tmp_path / "zero"
    write_bundle(prefix, _tensors(), header=_field_varint(1, 0))
    with pytest.raises(CheckpointError, match="0 shards"):
        read_checkpoint(prefix)


def test_compressed_block_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "snappy"
    write_bundle(prefix, _tensors(), data_block_kind=1)  # kSnappyCompression, with a valid checksum
    with pytest.raises(CheckpointError, match="compressed"):
        read_checkpoint(prefix)


# --- the musicnn checkpoints against TensorFlow's reader --------------------------------------

_MUSICNN = importlib.util.find_spec("musicnn")


@pytest.mark.skipif(_MUSICNN is None, reason="the musicnn wheel (which holds the checkpoints) is not installed")
def test_musicnn_checkpoints_match_tensorflow_digests() -> None:
    """Every tensor of all four musicnn checkpoints hashes like TF's NewCheckpointReader's output."""
    package = Path(list(_MUSICNN.submodule_search_locations)[0])  # type: ignore[union-attr]
    with np.load(REFERENCE) as ref:
        digests = json.loads(str(ref["checkpoint_digests_json"]))
        meta = json.loads(str(ref["meta_json"]))
    assert meta["reader_matched_tensorflow"] is True
    assert set(digests) == {"MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"}
    for name, table in digests.items():
        ours = read_checkpoint(str(package / name) + "/")
        assert sorted(ours) == sorted(table), name
        for tensor, (dtype, shape, sha) in table.items():
            value = ours[tensor]
            assert str(value.dtype) == dtype and list(value.shape) == shape, (name, tensor)
            le = value.astype(value.dtype.newbyteorder("<"))
            assert hashlib.sha256(le.tobytes()).hexdigest() == sha, (name, tensor)
