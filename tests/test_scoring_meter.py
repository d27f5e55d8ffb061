"""The meter part of `attribute`: the requested bar measured on the beat grid the tracker followed."""

import numpy as np
import pytest

from scoring.features import Features
from scoring.music_theory import parse_meter
from scoring.signals.attribute import (
    compatible_periods,
    meter_credit,
    meter_periodicity,
    tracked_beats_per_bar,
)

SR = 22_050


def accented_clicks(*, tempo_bpm: float, accent_every: int, seconds: float = 16.0) -> np.ndarray:
    """Mono float32 ``(frames,)``: a noise burst per beat over a soft noise bed, the first of every
    ``accent_every`` beats 20 dB louder (a bar's downbeat). The bed keeps the log-mel onset
    strength from treating every burst as an onset out of silence."""
    rng = np.random.default_rng(5)
    n = int(seconds * SR)
    out = (0.003 * rng.standard_normal(n)).astype(np.float32)
    m = int(0.06 * SR)
    burst = rng.standard_normal(m) * np.exp(-np.arange(m) / (0.015 * SR))
    step = 60.0 / tempo_bpm
    k = 0
    while (i := int(round(k * step * SR))) + m <= n:
        out[i : i + m] += (1.0 if k % accent_every == 0 else 0.1) * burst.astype(np.float32)
        k += 1
    return 0.5 * out / float(np.abs(out).max())


@pytest.mark.parametrize(("meter", "detected", "requested", "expected"), [
    ("6/8", 120.0, 120.0, 3.0),      # tracker on the quarter: a 6/8 bar is 3 quarters
    ("6/8", 80.0, 120.0, 2.0),       # on the dotted quarter (×⅔): 2 beats
    ("6/8", 240.0, 120.0, 6.0),      # on the eighth (×2)
    ("12/8", 100.0, 100.0, 6.0),
    ("4/4", 61.0, 120.0, 2.0),       # half time
    ("7/8", 160.0, 160.0, 3.5),      # not a whole number of quarters
    ("4/4", 150.0, 100.0, None),     # ×3⁄2 is a reading only for compound meters
    ("6/8", 150.0, 100.0, 4.5),
    ("3/4", 130.0, 100.0, None),     # 30 % off: no recognised reading
    ("4/4", 0.0, 100.0, None),
])
def test_tracked_beats_per_bar(meter: str, detected: float, requested: float, expected: float | None) -> None:
    got = tracked_beats_per_bar(meter=parse_meter(meter), detected_bpm=detected, requested_bpm=requested)
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(("meter", "beats_per_bar", "exact", "related_has", "related_lacks"), [
    ("6/8", 3.0, {3}, set(), {2, 4, 5, 7}),
    ("6/8", 2.0, {2}, {4}, {3, 5, 7}),
    ("6/8", 6.0, set(), {2, 3}, {4, 5, 7}),
    ("6/8", None, {2}, {3, 4}, {5, 7}),  # no tempo reading: counted in dotted-quarter pulses
    ("4/4", 4.0, {4}, {2}, {3, 5, 7}),
    ("4/4", 2.0, {2}, {4}, {3, 5, 7}),
    ("3/4", 3.0, {3}, set(), {2, 4, 5, 7}),
    ("7/8", 3.5, {7}, set(), {2, 3, 4, 5}),  # falls back to the felt pulses
    ("5/4", None, {5}, set(), {2, 3, 4, 7}),
])
def test_compatible_periods(meter: str, beats_per_bar: float | None, exact: set[int], related_has: set[int],
                            related_lacks: set[int]) -> None:
    got_exact, got_related = compatible_periods(parse_meter(meter), beats_per_bar)
    assert got_exact == exact
    assert related_has <= got_related and not (related_lacks & got_related), got_related
    assert not (got_exact & got_related)


@pytest.fixture(scope="module")
def waltz() -> Features:
    """Three beats to the bar at 120 BPM: a 3/4 bar, or a 6/8 bar counted in quarters."""
    return Features.from_audio(samples=accented_clicks(tempo_bpm=120.0, accent_every=3), sample_rate=SR)


@pytest.fixture(scope="module")
def common_time() -> Features:
    return Features.from_audio(samples=accented_clicks(tempo_bpm=120.0, accent_every=4), sample_rate=SR)


def test_click_tracks_read_as_built(waltz: Features, common_time: Features) -> None:
    assert waltz.tempo_bpm == pytest.approx(120.0, rel=0.05)
    assert meter_periodicity(waltz)[0] == 3
    assert common_time.tempo_bpm == pytest.approx(120.0, rel=0.05)
    assert meter_periodicity(common_time)[0] == 4


def test_six_eight_tracked_in_quarters_gets_full_credit(waltz: Features) -> None:
    with_tempo = meter_credit(features=waltz, requested="6/8", requested_bpm=120.0)
    pulses_only = meter_credit(features=waltz, requested="6/8")
    assert with_tempo > 0.95
    assert pulses_only < with_tempo - 0.2  # counted in dotted-quarter pulses (2), period 3 is only related
    assert meter_credit(features=waltz, requested="3/4", requested_bpm=120.0) > 0.95


def test_wrong_meter_loses_credit(waltz: Features, common_time: Features) -> None:
    assert meter_credit(features=waltz, requested="4/4", requested_bpm=120.0) < 0.4
    assert meter_credit(features=common_time, requested="3/4", requested_bpm=120.0) < 0.4
    assert meter_credit(features=common_time, requested="4/4", requested_bpm=120.0) > 0.95
    assert meter_credit(features=common_time, requested="6/8", requested_bpm=120.0) < 0.4
