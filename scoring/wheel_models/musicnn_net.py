"""The musicnn network (Pons & Serra, "musicnn", ISMIR-LBD 2019) as float32 numpy, fast on one core.

``musicnn/models.py`` builds, per 187-frame x 96-band log-mel patch:

- **front-end**: batch norm of the input; two *timbral* convolutions (7 frames x 38 and x 67
  bands, 204 filters each, time padded by 3 so the output keeps 187 frames, frequency "valid")
  and three *temporal* ones (128/64/32 frames x 1 band, 51 filters each, TF "same" padding);
  each is ReLU -> batch norm -> max over all frequency positions -> (187, 561) together;
- **mid-end**: three 7-frame convolutions over the whole feature axis (64 filters, ReLU, batch
  norm; the 2nd and 3rd residual), densely concatenated with the front-end -> (187, 753);
- **back-end**: max and mean over time -> 1506 values (interleaved max, mean per feature), batch
  norm, dense 200 + ReLU + batch norm (the "penultimate" features), dense 50 -> sigmoid.

Batch norm runs in inference mode (moving statistics, epsilon 1e-3, the ``tf.layers`` default),
so it is a per-channel affine map. Computation order differs from TensorFlow's but not the maths:

- The input batch norm ``a·x + c`` is folded into the first convolutions: ``conv(pad0(a·x + c)) =
  a·conv(pad0(x)) + c·conv(pad0(1))``, the last term a per-(frame, filter) bias that differs from
  the plain sum of the kernel only where the zero padding is inside the window. So one transform
  of the raw log-mel can serve several taggers (:class:`MusicnnEnsemble`).
- ReLU, a per-channel affine and a max over frequency commute (``max_f(s·relu(z_f + b) + h) =
  s·relu(max_f z_f + b) + h`` for ``s >= 0``, with min for ``s < 0``), so only the max of the raw
  convolution over frequency is needed -- with the filters of negative-scale channels negated,
  which turns their min into a max.
- The timbral convolutions (80 % of the arithmetic when done directly) run along frequency in the
  Fourier domain: a 96-point DFT of each padded input row (no wrap-around: 59 + 38 - 1 = 30 + 67 - 1
  = 96), a 7-tap complex convolution along time per frequency bin (one small matmul per bin), and
  the inverse DFT of only the valid outputs as one large real matmul -- 2.6x fewer
  multiply-adds than im2col (1.4x faster at the lower matmul efficiency of these shapes; the
  im2col route through onnxruntime's Conv was no faster than numpy's), and the DFT rows are
  shared by the 38- and 67-band filters.
- The three temporal kernels share one 128-frame im2col matrix (the 64- and 32-frame windows are
  its middle columns, as TF's asymmetric "same" padding puts them).

Everything is float32 in a fixed order of operations: numpy's pocketfft and BLAS sgemm, the latter
held to one thread for the call (OpenBLAS's results change with its thread count), so outputs
are bit-identical in every process on the same machine; they agree with TensorFlow's to ~3e-6
on probabilities (``tests/test_musicnn.py``).
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from threadpoolctl import ThreadpoolController

__all__ = ["N_FRAMES", "N_MELS", "MusicnnNet", "NetOutput", "MusicnnEnsemble"]

N_FRAMES = 187  # frames per patch (3 s at 16 kHz, hop 256): librosa.time_to_frames(3) + 1
N_MELS = 96
BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization default
_DFT = N_MELS  # DFT length along frequency for the timbral filters
_BINS = _DFT // 2 + 1
_TIME_TAPS = 7  # timbral and mid-end kernels span 7 frames, padded by 3 on each side
_TEMPORAL = ((128, 2, 3), (64, 3, 4), (32, 4, 5))  # (frames, conv2d index, batch_normalization index)
_TIMBRAL = ((38, 0, 1), (67, 1, 2))  # (bands, conv2d index, batch_normalization index)
_MIDEND = ((5, 6), (6, 7), (7, 8))  # (conv2d index, batch_normalization index)
_CHUNK_PATCHES = 1  # patches per pass through the front-end
_ROW_BLOCK = 16  # frames per timbral inverse-DFT matmul (working set ~2 MB: the L2 cache)
_BAND_BLOCK = 16  # bands per temporal im2col block


_BLAS_LOCK = threading.Lock()  # the BLAS thread limit is process-wide: one forward pass at a time


@lru_cache(maxsize=1)
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def _suffix(index: int) -> str:
    return "" if index == 0 else f"_{index}"


def _bn(tensors: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch norm ``index`` as (scale, shift), float64: ``y = x·scale + shift``."""
    p = f"batch_normalization{_suffix(index)}/"
    gamma, beta, mean, var = (tensors[p + k].astype(np.float64) for k in ("gamma", "beta", "moving_mean", "moving_variance"))
    scale = gamma / np.sqrt(var + BN_EPSILON)
    return scale, beta - mean * scale


def _conv(tensors: dict[str, np.ndarray], index: int) -> tuple[np.ndarray, np.ndarray]:
    p = f"conv2d{_suffix(index)}/"
    return tensors[p + "kernel"].astype(np.float64), tensors[p + "bias"].astype(np.float64)


def _inside_sum(kernel_time: np.ndarray, pad_before: int) -> np.ndarray:
    """``(N_FRAMES, C)``: per output frame, the sum of the kernel taps ``(taps, C)`` that fall on
    real frames (not padding) -- what a constant input of 1 gives with zero padding."""
    taps = kernel_time.shape[0]
    out = np.zeros((N_FRAMES, kernel_time.shape[1]))
    for t in range(N_FRAMES):
        lo = max(0, pad_before - t)
        hi = min(taps, N_FRAMES + pad_before - t)
        out[t] = kernel_time[lo:hi].sum(axis=0)
    return out


@dataclass(frozen=True)
class _Pooled:
    """A front-end block's constants, float64 until an ensemble concatenates them."""

    weights: np.ndarray  # timbral: (7, 96 bins, C) complex DFT taps; temporal: (taps, C) real
    bias: np.ndarray  # (N_FRAMES, C): conv bias + input-BN shift through the padded kernel
    scale: np.ndarray  # (C,) batch norm after the ReLU
    shift: np.ndarray  # (C,)


@dataclass(frozen=True)
class MusicnnNet:
    """One musicnn tagger's weights, rearranged for :class:`MusicnnEnsemble`.

    Built from a checkpoint's tensors (``tf_checkpoint.read_checkpoint``) by :meth:`from_tensors`.
    """

    timbral: tuple[_Pooled, _Pooled]  # 7x38 and 7x67 filters
    temporal: tuple[_Pooled, _Pooled, _Pooled]  # 128, 64, 32 frames
    midend: tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], ...]  # (W (7·in, 64), b, scale, shift)
    pool_scale: np.ndarray  # (1506,) back-end batch norm in [max block | mean block] order
    pool_shift: np.ndarray
    dense: np.ndarray  # (1506, 200), rows in the same order
    dense_bias: np.ndarray
    dense_scale: np.ndarray  # (200,) batch norm -> penultimate features
    dense_shift: np.ndarray
    out: np.ndarray  # (200, n_tags)
    out_bias: np.ndarray

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray]) -> "MusicnnNet":
        """Arrange the tensors of a musicnn checkpoint (``conv2d*/kernel``, ``batch_normalization*``, ``dense*``)."""
        in_scale, in_shift = (float(v[0]) for v in _bn(tensors, 0))
        timbral = []
        for bands, ci, bi in _TIMBRAL:
            kernel, bias = _conv(tensors, ci)  # (7, bands, 1, C)
            k = kernel[:, :, 0, :]
            padded = np.zeros((_TIME_TAPS, _DFT, k.shape[2]))
            padded[:, :bands] = k * in_scale
            # cross-correlation along frequency: X[q]·conj(K[q])
            taps = np.conj(np.fft.rfft(padded, axis=1))
            edge = _inside_sum(k.sum(axis=1), _TIME_TAPS // 2) * in_shift + bias
            timbral.append(_Pooled(taps, edge, *_bn(tensors, bi)))
        temporal = []
        for frames, ci, bi in _TEMPORAL:
            kernel, bias = _conv(tensors, ci)  # (frames, 1, 1, C)
            k = kernel[:, 0, 0, :]
            edge = _inside_sum(k, (frames - 1) // 2) * in_shift + bias
            temporal.append(_Pooled(k * in_scale, edge, *_bn(tensors, bi)))
        midend = []
        for ci, bi in _MIDEND:
            kernel, bias = _conv(tensors, ci)  # (7, in, 1, 64)
            w = kernel[:, :, 0, :].reshape(-1, kernel.shape[3])
            midend.append(tuple(a.astype(np.float32) for a in (w, bias, *_bn(tensors, bi))))
        s9, h9 = _bn(tensors, 9)
        dense = tensors["dense/kernel"]
        order = np.concatenate([np.arange(0, s9.size, 2), np.arange(1, s9.size, 2)])  # flatten of (753, 2)
        s10, h10 = _bn(tensors, 10)
        f32 = np.float32
        return cls(
            timbral=(timbral[0], timbral[1]),
            temporal=(temporal[0], temporal[1], temporal[2]),
            midend=tuple(midend),  # type: ignore[arg-type]
            pool_scale=s9[order].astype(f32),
            pool_shift=h9[order].astype(f32),
            dense=np.ascontiguousarray(dense[order]).astype(f32),
            dense_bias=tensors["dense/bias"].astype(f32),
            dense_scale=s10.astype(f32),
            dense_shift=h10.astype(f32),
            out=tensors["dense_1/kernel"].astype(f32),
            out_bias=tensors["dense_1/bias"].astype(f32),
        )

    @property
    def n_tags(self) -> int:
        return int(self.out.shape[1])


@dataclass(frozen=True)
class NetOutput:
    """One tagger's outputs for ``P`` patches (float32)."""

    taggram: np.ndarray  # (P, n_tags) sigmoid probabilities
    penultimate: np.ndarray  # (P, 200) back-end features after batch norm
    mean_pool: np.ndarray  # (P, 753) mid-end features averaged over the patch's frames
    max_pool: np.ndarray  # (P, 753) and their maximum


class _Block:
    """Constants of one kind of front-end block for every tagger of an ensemble, concatenated.

    ``sign`` is -1 for channels whose batch-norm scale is negative: those need the *min* over
    frequency, so their filters are negated and every channel then takes the max.
    """

    def __init__(self, blocks: Sequence[_Pooled]) -> None:
        self.widths = [b.scale.size for b in blocks]
        scale = np.concatenate([b.scale for b in blocks])
        self.sign = np.where(scale < 0, -1.0, 1.0).astype(np.float32)
        self.bias = np.concatenate([b.bias for b in blocks], axis=1).astype(np.float32)  # (187, C)
        self.scale = scale.astype(np.float32)
        self.shift = np.concatenate([b.shift for b in blocks]).astype(np.float32)

    def pool(self, signed_max: np.ndarray) -> np.ndarray:
        """ReLU -> batch norm -> max over frequency, from the max over frequency of the raw
        convolution with sign-flipped filters. ``signed_max``: ``(P, N_FRAMES, C)``, overwritten;
        returns ``(P, N_FRAMES, C)`` float32."""
        z = signed_max
        z *= self.sign  # max of z, or min of z where the scale is negative
        z += self.bias
        np.maximum(z, 0.0, out=z)
        z *= self.scale
        z += self.shift
        return z

    def split(self, pooled: np.ndarray) -> list[np.ndarray]:
        return np.split(pooled, np.cumsum(self.widths)[:-1], axis=-1)


def _inverse_dft(valid: int) -> np.ndarray:
    """``(valid, 2·_BINS)`` float32: real inverse DFT of length 96 from [Re bins | Im bins], first
    ``valid`` outputs only (numpy's irfft convention: Im of DC and Nyquist ignored)."""
    q = np.arange(_BINS)
    f = np.arange(valid)[:, None]
    weight = np.where((q == 0) | (q == _DFT // 2), 1.0, 2.0) / _DFT
    angle = 2 * np.pi * f * q / _DFT
    return np.concatenate([weight * np.cos(angle), -weight * np.sin(angle)], axis=1).astype(np.float32)


class MusicnnEnsemble:
    """One or more musicnn taggers evaluated together on the same patches.

    Several nets share the input transforms (the DFT rows of the log-mel, the temporal im2col)
    and run their front-end filters as one wide matmul; mid- and back-end run per tagger. On one
    core that was measured *slower* than one net at a time (0.62-0.65 s vs 0.57-0.60 s for both
    taggers on a 30 s clip: the wider working set leaves the cache), so
    :mod:`scoring.wheel_models.musicnn` runs one-net ensembles; the results agree to ~1e-7.
    """

    def __init__(self, nets: Sequence[MusicnnNet]) -> None:
        if not nets:
            raise ValueError("an ensemble needs at least one net")
        self.nets = tuple(nets)
        self.timbral: list[tuple[_Block, tuple[np.ndarray, np.ndarray], np.ndarray]] = []
        for kind, (bands, _, _) in enumerate(_TIMBRAL):
            blocks = [n.timbral[kind] for n in self.nets]
            taps = np.concatenate([b.weights for b in blocks], axis=2)  # (7, bins, C) complex
            # per bin q: A_q = [Re X(t+i), Im X(t+i)] (14 columns) -> Re Y_q, Im Y_q through (14, C) matrices
            re, im = taps.real.transpose(1, 0, 2), taps.imag.transpose(1, 0, 2)  # (bins, 7, C)
            block = _Block(blocks)
            re, im = re * block.sign, im * block.sign
            w_re = np.ascontiguousarray(np.concatenate([re, -im], axis=1), dtype=np.float32)  # (bins, 14, C)
            w_im = np.ascontiguousarray(np.concatenate([im, re], axis=1), dtype=np.float32)
            self.timbral.append((block, (w_re, w_im), _inverse_dft(_DFT - bands + 1)))
        self.temporal: list[tuple[_Block, np.ndarray, slice]] = []
        widest = _TEMPORAL[0][0]
        for kind, (frames, _, _) in enumerate(_TEMPORAL):
            blocks = [n.temporal[kind] for n in self.nets]
            block = _Block(blocks)
            weights = (np.concatenate([b.weights for b in blocks], axis=1) * block.sign).astype(np.float32)
            start = (widest - 1) // 2 - (frames - 1) // 2  # where this kernel's window sits in the widest
            self.temporal.append((block, weights, slice(start, start + frames)))

    # -- front-end ---------------------------------------------------------------------------

    def _timbral(self, patches: np.ndarray) -> list[np.ndarray]:
        """``patches (P, 187, 96)`` -> per block kind, pooled ``(P, 187, C_all)``."""
        p = patches.shape[0]
        rows = p * N_FRAMES
        half = _TIME_TAPS // 2
        padded = np.zeros((p, N_FRAMES + 2 * half, _DFT), dtype=np.float32)
        padded[:, half : half + N_FRAMES] = patches
        spec = np.fft.rfft(padded, axis=2)  # (P, 193, bins) complex64
        # per bin: rows (patch, frame), columns [Re X(t+0..6) | Im X(t+0..6)]
        win = sliding_window_view(spec, _TIME_TAPS, axis=1)  # (P, 187, bins, 7)
        lhs = np.empty((_BINS, rows, 2 * _TIME_TAPS), dtype=np.float32)
        lhs[:, :, :_TIME_TAPS] = win.real.transpose(2, 0, 1, 3).reshape(_BINS, rows, _TIME_TAPS)
        lhs[:, :, _TIME_TAPS:] = win.imag.transpose(2, 0, 1, 3).reshape(_BINS, rows, _TIME_TAPS)
        out = []
        for block, (w_re, w_im), inverse in self.timbral:
            c = w_re.shape[2]
            zmax = np.empty((rows, c), dtype=np.float32)
            # row blocks keep the Fourier coefficients (~8 MB) and outputs in cache
            for r0 in range(0, rows, _ROW_BLOCK):
                r1 = min(rows, r0 + _ROW_BLOCK)
                coef = np.empty((2, _BINS, r1 - r0, c), dtype=np.float32)
                np.matmul(lhs[:, r0:r1], w_re, out=coef[0])
                np.matmul(lhs[:, r0:r1], w_im, out=coef[1])
                z = (inverse @ coef.reshape(2 * _BINS, -1)).reshape(-1, r1 - r0, c)  # (valid bands, rows, C)
                np.max(z, axis=0, out=zmax[r0:r1])
            out.append(block.pool(zmax.reshape(p, N_FRAMES, c)))
        return out

    def _temporal(self, patches: np.ndarray) -> list[np.ndarray]:
        """``patches (P, 187, 96)`` -> per temporal kernel, pooled ``(P, 187, C_all)``."""
        p = patches.shape[0]
        widest = _TEMPORAL[0][0]
        before = (widest - 1) // 2
        padded = np.zeros((N_MELS, p, N_FRAMES + widest - 1), dtype=np.float32)
        padded[:, :, before : before + N_FRAMES] = patches.transpose(2, 0, 1)
        windows = sliding_window_view(padded, widest, axis=2)  # (bands, P, 187, widest), a view
        pooled = [np.full((p * N_FRAMES, w.shape[1]), -np.inf, dtype=np.float32) for _, w, _ in self.temporal]
        # band groups keep the im2col block and the outputs in cache; the max over bands runs on
        for b0 in range(0, N_MELS, _BAND_BLOCK):
            cols = windows[b0 : b0 + _BAND_BLOCK].reshape(-1, widest)  # rows (band, patch, frame); copies
            for (_, weights, window), acc in zip(self.temporal, pooled, strict=True):
                z = (cols[:, window] @ weights).reshape(-1, p * N_FRAMES, weights.shape[1])
                np.maximum(acc, z.max(axis=0), out=acc)
        return [block.pool(acc.reshape(p, N_FRAMES, -1)) for (block, _, _), acc in zip(self.temporal, pooled, strict=True)]

    # -- mid- and back-end -------------------------------------------------------------------

    @staticmethod
    def _midend(net: MusicnnNet, front: np.ndarray) -> np.ndarray:
        """``front (P, 187, 561)`` -> dense features ``(P, 187, 753)``."""
        p = front.shape[0]
        half = _TIME_TAPS // 2
        feats = [front]
        x = front
        for layer, (w, b, scale, shift) in enumerate(net.midend):
            padded = np.zeros((p, N_FRAMES + 2 * half, x.shape[2]), dtype=np.float32)
            padded[:, half : half + N_FRAMES] = x
            cols = sliding_window_view(padded, _TIME_TAPS, axis=1)  # (P, 187, in, 7)
            cols = cols.transpose(0, 1, 3, 2).reshape(p * N_FRAMES, -1)  # rows: (tap, feature)
            y = cols @ w
            y += b
            np.maximum(y, 0.0, out=y)
            y *= scale
            y += shift
            y = y.reshape(p, N_FRAMES, -1)
            if layer > 0:
                y += x
            feats.append(y)
            x = y
        return np.concatenate(feats, axis=2)

    @staticmethod
    def _backend(net: MusicnnNet, mid: np.ndarray) -> NetOutput:
        max_pool = mid.max(axis=1)
        mean_pool = mid.mean(axis=1, dtype=np.float32)
        flat = np.concatenate([max_pool, mean_pool], axis=1)
        flat *= net.pool_scale
        flat += net.pool_shift
        hidden = flat @ net.dense
        hidden += net.dense_bias
        np.maximum(hidden, 0.0, out=hidden)
        hidden *= net.dense_scale
        hidden += net.dense_shift
        logits = hidden @ net.out + net.out_bias
        taggram = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)
        return NetOutput(taggram=taggram, penultimate=hidden, mean_pool=mean_pool, max_pool=max_pool)

    def forward(self, patches: np.ndarray) -> list[NetOutput]:
        """Run every tagger on ``patches``: ``(P, 187, 96)`` log-mel (``log10(10000·mel + 1)``),
        float32. Returns one :class:`NetOutput` per net, in the ensemble's order."""
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[1:] != (N_FRAMES, N_MELS):
            raise ValueError(f"patches must have shape (P, {N_FRAMES}, {N_MELS}), got {patches.shape}")
        with _BLAS_LOCK, _blas().limit(limits=1, user_api="blas"):
            return self._forward(patches)

    def _forward(self, patches: np.ndarray) -> list[NetOutput]:
        results: list[list[NetOutput]] = [[] for _ in self.nets]
        for start in range(0, patches.shape[0], _CHUNK_PATCHES):
            chunk = patches[start : start + _CHUNK_PATCHES]
            blocks = self._timbral(chunk) + self._temporal(chunk)
            kinds = [self.timbral[0][0], self.timbral[1][0]] + [t[0] for t in self.temporal]
            per_net = [kind.split(pooled) for kind, pooled in zip(kinds, blocks, strict=True)]
            for i, net in enumerate(self.nets):
                front = np.concatenate([parts[i] for parts in per_net], axis=2)  # (P, 187, 561)
                results[i].append(self._backend(net, self._midend(net, front)))
        return [
            NetOutput(*(np.concatenate([getattr(r, f) for r in res]) for f in ("taggram", "penultimate", "mean_pool", "max_pool")))
            for res in results
        ]
