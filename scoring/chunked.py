"""Whole-signal float64 sums computed chunk by chunk, bit for bit what numpy's one-shot sum gives.

``np.sum(np.square(x, dtype=np.float64))`` on 180 s of 96 kHz stereo first builds a 264 MiB
float64 array. :func:`pairwise_sums` gives the same float64 result (the same bits) while holding
one chunk at a time: numpy sums a contiguous float64 array by pairwise summation, splitting a
run of ``n`` values at ``n2 = n // 2 - (n // 2) % 8`` until a run is at most 128 long, so
following that split down to runs of at most ``leaf`` values, summing each of those runs with
``np.sum`` (which is that same pairwise sum of the run) and adding the partial sums back up the
same tree reproduces numpy's rounding exactly. The values of a run are made on demand by a
callback, in float64, from the float32 signal.
"""

from collections.abc import Callable

import numpy as np

__all__ = ["pairwise_sums", "sum_of_squares", "mean_square", "LEAF_VALUES"]

#: Longest run summed in one piece: 64 Ki float64 values (512 KiB per temporary).
LEAF_VALUES = 1 << 16


def pairwise_sums(leaf_sums: Callable[[int, int], np.ndarray], n: int, *, leaf: int = LEAF_VALUES) -> np.ndarray:
    """Sums over ``n`` values in numpy's pairwise order, for several value streams at once.

    ``leaf_sums(start, stop)`` returns float64 ``(k,)``: for each stream, ``np.sum`` of its values
    ``start..stop-1`` as one contiguous float64 1-D array. The result, float64 ``(k,)``, equals
    ``np.sum`` of each stream's ``n`` values made at once (when ``leaf >= 128`` and ``n > 0``).
    """
    if leaf < 128:
        raise ValueError("leaf must be at least 128 (numpy's pairwise block)")

    def run(start: int, count: int) -> np.ndarray:
        if count <= leaf:
            return np.asarray(leaf_sums(start, start + count), dtype=np.float64)
        half = count // 2
        half -= half % 8
        return run(start, half) + run(start + half, count - half)

    return run(0, int(n))


def sum_of_squares(x: np.ndarray, *, leaf: int = LEAF_VALUES) -> float:
    """``float(np.sum(np.square(x, dtype=np.float64)))`` over all of ``x`` (any shape, C order),
    without the full-length float64 copy. Bit-identical to that expression."""
    flat = np.ascontiguousarray(x).reshape(-1)
    if flat.size == 0:
        return 0.0

    def leaf_sums(start: int, stop: int) -> np.ndarray:
        return np.array([np.sum(np.square(flat[start:stop], dtype=np.float64))])

    return float(pairwise_sums(leaf_sums, flat.size, leaf=leaf)[0])


def mean_square(x: np.ndarray, *, leaf: int = LEAF_VALUES) -> float:
    """``float(np.mean(np.square(x, dtype=np.float64)))``, bit for bit, in bounded memory."""
    size = int(np.size(x))
    if size == 0:
        return float("nan")
    return sum_of_squares(x, leaf=leaf) / size
