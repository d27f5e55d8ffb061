"""One SoundFont note: each matching zone's sample resampled to pitch, looped, enveloped, panned.

Pitch: the sample is read at ``2**(semitones/12) · sample_rate_of_sample / output_rate`` input
frames per output frame, where semitones = (key - root key) · scaleTuning/100 + tune cents/100,
with 4-point cubic (Catmull-Rom) interpolation. Loops (sampleModes 1, and 3 until note-off) wrap
the read position inside [loop_start, loop_end); a one-shot sample stops at its end.

Volume envelope (SF2 2.04 section 9.1.7): delay, a linear-amplitude attack to full level, hold,
then a decay that raises attenuation at 1000 cB (100 dB) per decay time until the sustain level;
after note-off the release raises attenuation at 1000 cB per release time from wherever the
envelope was, and the note ends when it passes 96 dB (the tail is capped at
:data:`MAX_RELEASE_S`, faded out). Amplitude also carries ``initialAttenuation`` and the SF2
default velocity modulator (-40·log10(velocity/127) dB, at most 96 dB). ``initialFilterFc``
below 13500 cents becomes a one-pole low-pass. Modulation envelope, LFOs, other modulators,
chorus and reverb sends are not rendered.
"""

import math
from collections.abc import Sequence

import numpy as np
from scipy.signal import lfilter

from tuneforge.generation.procedural.sf2 import SoundFont, Zone

__all__ = ["MAX_RELEASE_S", "render_note", "timecents_to_seconds", "velocity_attenuation_cb"]

#: The longest release tail rendered after note-off, in seconds (longer tails are faded out).
MAX_RELEASE_S = 2.5
_MIN_RAMP_S = 0.002
_SILENT_CB = 960.0
_CAPPED_FADE_S = 0.25


def timecents_to_seconds(tc: float) -> float:
    """SF2 timecents → seconds (2**(tc/1200)); -32768 (and anything at or below -12000) is ~1 ms or 0."""
    if tc <= -32768:
        return 0.0
    return 2.0 ** (min(max(tc, -12000.0), 8000.0) / 1200.0)


def velocity_attenuation_cb(velocity: int) -> float:
    """Centibels of attenuation from the SF2 default velocity modulator (concave, 960 cB range)."""
    v = min(max(int(velocity), 1), 127)
    return min(_SILENT_CB, -400.0 * math.log10(v / 127.0))


_CB_TO_LN = -math.log(10.0) / 200.0


def _cb_to_amp(cb: np.ndarray) -> np.ndarray:
    """Centibels of attenuation → linear amplitude (float32)."""
    return np.exp(np.asarray(cb, dtype=np.float32) * np.float32(_CB_TO_LN))


def _envelope(zone: Zone, key: int, sustain_n: int, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """(held part, shape (sustain_n,), release part, shape (release_n,)) of the volume envelope, 0..1."""
    delay_n = int(round(timecents_to_seconds(zone.delay_tc) * sr))
    attack_n = max(int(round(timecents_to_seconds(zone.attack_tc) * sr)), int(0.001 * sr), 2)
    hold_n = int(round(timecents_to_seconds(zone.hold_tc + zone.key_to_hold_tc * (60 - key)) * sr))
    decay_frames = max(timecents_to_seconds(zone.decay_tc + zone.key_to_decay_tc * (60 - key)) * sr, 1.0)
    sustain_cb = float(min(zone.sustain_cb, 1440))
    held = np.zeros(sustain_n, dtype=np.float32)
    a0, a1 = min(delay_n, sustain_n), min(delay_n + attack_n, sustain_n)
    held[a0:a1] = np.arange(a1 - a0) / attack_n
    h1 = min(delay_n + attack_n + hold_n, sustain_n)
    held[a1:h1] = 1.0
    if h1 < sustain_n:
        cb = np.minimum(np.arange(sustain_n - h1, dtype=np.float32) * np.float32(1000.0 / decay_frames),
                        np.float32(sustain_cb))
        held[h1:] = _cb_to_amp(cb)
    level = float(held[-1]) if sustain_n else 0.0
    cb_off = -200.0 * math.log10(max(level, 1e-6))
    release_frames = max(timecents_to_seconds(zone.release_tc) * sr, 1.0)
    min_ramp = max(int(_MIN_RAMP_S * sr), 2)
    release_n = int(math.ceil(release_frames * max(_SILENT_CB - cb_off, 0.0) / 1000.0))
    capped = release_n > MAX_RELEASE_S * sr
    release_n = min(max(release_n, min_ramp), int(MAX_RELEASE_S * sr))
    release = _cb_to_amp(cb_off + np.arange(1, release_n + 1, dtype=np.float32) * np.float32(1000.0 / release_frames))
    fade = min(release_n, int(_CAPPED_FADE_S * sr) if capped else min_ramp)
    release[release_n - fade:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, fade + 1) / fade)
    return held, release


def _positions(zone: Zone, ratio: float, n: int, sustain_n: int, last: int) -> tuple[np.ndarray, int, int]:
    """(read positions in frames from the zone's start (float64, shape (n,)), frames whose
    neighbours wrap around the loop, frames that read the sample at all (the rest are silent)).

    Positions only ever increase outside the loop, so both counts are prefixes. ``last`` is the
    zone's last frame index.
    """
    pos = ratio * np.arange(n, dtype=np.float64)
    if zone.loop_mode == 0:
        return pos, 0, int(np.searchsorted(pos, last, side="right"))
    ls, le = zone.loop_start - zone.start, zone.loop_end - zone.start
    beyond = int(np.searchsorted(pos, le, side="left"))
    pos[beyond:] = ls + np.mod(pos[beyond:] - ls, le - ls)
    if zone.loop_mode == 1 or n <= sustain_n:
        return pos, n, n
    # sampleModes 3: loop until note-off, then play on from where the loop was through the tail.
    pos[sustain_n:] = pos[sustain_n - 1] + ratio * np.arange(1, n - sustain_n + 1)
    return pos, sustain_n, sustain_n + int(np.searchsorted(pos[sustain_n:], last, side="right"))


def _read(data: np.ndarray, zone: Zone, pos: np.ndarray, wrap_n: int, valid_n: int) -> np.ndarray:
    """Catmull-Rom interpolation of ``data`` (float32, the zone's frames) at ``pos[:valid_n]``, then silence.

    The right-hand neighbours of the first ``wrap_n`` positions wrap from the loop end to its start.
    """
    last = data.shape[0] - 1
    out = np.zeros(pos.shape[0], dtype=np.float32)
    p = pos[:valid_n]
    i = p.astype(np.int64)
    f = (p - i).astype(np.float32)
    i1, i2 = i + 1, i + 2
    if wrap_n:
        le, length = zone.loop_end - zone.start, zone.loop_end - zone.loop_start
        for idx in (i1, i2):
            w = idx[:wrap_n]
            w[w >= le] -= length
    np.minimum(i1, last, out=i1)
    np.minimum(i2, last, out=i2)
    xm1 = data[np.maximum(i - 1, 0)]
    x0, x1, x2 = data[i], data[i1], data[i2]
    out[:valid_n] = x0 + 0.5 * f * (x1 - xm1 + f * (2.0 * xm1 - 5.0 * x0 + 4.0 * x1 - x2
                                                    + f * (3.0 * (x0 - x1) + x2 - xm1)))
    return out


def _zone_data(font: SoundFont, zone: Zone, cache: dict[tuple[int, int], np.ndarray]) -> np.ndarray:
    key = (zone.start, zone.end)
    data = cache.get(key)
    if data is None:
        data = font.samples[zone.start:zone.end].astype(np.float32) * np.float32(1.0 / 32768.0)
        cache[key] = data
    return data


def render_note(
    font: SoundFont,
    zones: Sequence[Zone],
    *,
    key: int,
    velocity: int,
    sustain_frames: int,
    sample_rate: int,
    cache: dict[tuple[int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Stereo float32 of shape (2, sustain_frames + release frames): every zone in ``zones``.

    ``key`` MIDI note, ``velocity`` 1-127, note-off after ``sustain_frames`` output frames at
    ``sample_rate`` Hz. Starts and ends at exactly 0. Unit gain = the sample at full scale with no
    attenuation, centred (constant-power pan, 1.0 per channel at centre). ``cache`` keeps the
    float32 copies of the zones' sample frames between calls.
    """
    if sustain_frames < 1:
        raise ValueError(f"sustain_frames must be >= 1, got {sustain_frames}")
    cache = {} if cache is None else cache
    voices: list[tuple[np.ndarray, float, float]] = []
    for zone in zones:
        k = zone.fixed_key if zone.fixed_key >= 0 else key
        held, release = _envelope(zone, k, sustain_frames, sample_rate)
        env = np.concatenate([held, release])  # float32
        n = env.shape[0]
        semis = (k - zone.root_key) * zone.scale_tuning / 100.0 + zone.tune_cents / 100.0
        ratio = 2.0 ** (semis / 12.0) * zone.sample_rate / sample_rate
        data = _zone_data(font, zone, cache)
        pos, wrap_n, valid_n = _positions(zone, ratio, n, sustain_frames, data.shape[0] - 1)
        wave = _read(data, zone, pos, wrap_n, valid_n)
        fc = 8.176 * 2.0 ** (zone.filter_fc / 1200.0)
        if zone.filter_fc < 13500 and fc < 0.45 * sample_rate:
            a = math.exp(-2.0 * math.pi * fc / sample_rate)
            wave = lfilter([1.0 - a], [1.0, -a], wave).astype(np.float32)
        gain = 10.0 ** (-(zone.attenuation_cb + velocity_attenuation_cb(velocity)) / 200.0)
        theta = (zone.pan + 0.5) * math.pi / 2.0
        voices.append((wave * env, gain * math.cos(theta) * math.sqrt(2.0),
                       gain * math.sin(theta) * math.sqrt(2.0)))
    n_total = max((v[0].shape[0] for v in voices), default=sustain_frames + int(_MIN_RAMP_S * sample_rate))
    out = np.zeros((2, n_total), dtype=np.float32)
    for wave, gl, gr in voices:
        out[0, :wave.shape[0]] += wave * np.float32(gl)
        out[1, :wave.shape[0]] += wave * np.float32(gr)
    out[:, 0] = 0.0
    out[:, -1] = 0.0
    return out
