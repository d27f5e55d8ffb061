"""The `artifact_penalty`: audible defects, each a multiplier, multiplied together.

- clipping: share of samples in flat tops (≥ ``CLIP_MIN_RUN`` identical consecutive samples at
  the clip's peak level); none up to 0.05 %, ``CLIP_FLOOR`` at ``CLIP_SHARE_FULL``; beyond
  ``CLIP_SHARE_SQUARE`` it falls on to 0 at ``CLIP_SHARE_ZERO``: a clip almost all in flat tops
  is a square wave, not music (a float clip sent at ~1e18 and clipped to full scale by the
  intake, or its int16 twin, is 99 % flat tops; music at ×4 gain 12 %, at ×10 50 %).
- short loops: the clip (in 2 s windows) equals itself shifted by 80 ms-1 s (waveform
  correlation ≥ ``LOOP_CORRELATION``) while the correlation around that lag stays low (so a held
  tone, which correlates at every period, is not a loop); multiplier falls with the looped share
  to ``LOOP_FLOOR``.
- clicks/discontinuities: second-difference spikes ``CLICK_RATIO``× above the local level on
  both sides, per minute; free up to ``CLICK_RATE_FREE``, ``CLICK_FLOOR`` at ``CLICK_RATE_FULL``.
- dropouts: internal runs of digital silence (10 ms blocks under −70 dBFS) entered straight from
  audible audio (> −40 dBFS); ``DROPOUT_PER_EVENT`` lost per event, floor ``DROPOUT_FLOOR``.
- spectral holes: share of the long-term spectrum (200 Hz to the clip's bandwidth) lying
  ``NOTCH_DEPTH_DB`` under its smoothed neighbourhood for ≥ 3 bins; floor ``NOTCH_FLOOR``.
- band limitation: audio whose spectrum stops early (bandwidth as in `quality`: the last
  frequency within 40 dB of the 100 Hz-1 kHz level) is muffled: none from ``BAND_LIMIT_FREE_HZ``
  up, ``BAND_LIMIT_FLOOR`` at ``BAND_LIMIT_FULL_HZ`` and below. Real excerpts in the evaluation
  corpus reach ≥ 6.2 kHz.

Evidence that noise, steady tones, beeps, loops and reversed audio cannot fake (docs/scoring.md
"Note evidence"; each multiplier is 1 over the whole range measured on real music):

- reversal: attack/decay asymmetry of the band envelopes (:mod:`scoring.envelopes`; played notes
  rise fast and decay slowly, reversal negates the measure); none from ``REVERSAL_FREE`` up,
  ``REVERSAL_FLOOR`` at ``REVERSAL_FULL`` and below.
- repeats: the share of the clip that repeats itself exactly at one lag of 1 s to half the clip
  (:mod:`scoring.repetition`: a tiled loop of a few seconds); none up to ``REPEAT_SHARE_FREE``,
  ``REPEAT_FLOOR`` from ``REPEAT_SHARE_FULL``.
- pure tones: median count of spectral partials in the loud frames (:mod:`scoring.partials`:
  sines, beeps and clicks are one line); none from ``PARTIALS_FREE`` up, ``PURE_TONE_FLOOR`` at
  ``PARTIALS_FULL`` and below.
- no notes: the share of the analysed time a transcribed note sounds (:mod:`scoring.note_stats`;
  noise, noise bursts, clicks); none from ``NO_NOTES_COVERAGE_FREE`` up, ``NO_NOTES_FLOOR`` at
  ``NO_NOTES_COVERAGE_FULL`` and below. Without basic-pitch it is not measured (multiplier 1).
- static: nothing ever changes — the sounding pitch-class set (notes) or the chroma (DSP) stays
  put (held tones, held chords, noise); the stronger of the two readings counts; floor
  ``STATIC_FLOOR``.
- hiss: a loud high-band floor that does not move (:mod:`scoring.hiss`), both readings needed;
  floor ``HISS_FLOOR``.
"""

import numpy as np
from scipy.ndimage import median_filter

from scoring import constants as C
from scoring.curves import ramp
from scoring.envelopes import attack_decay_asymmetry
from scoring.features import Features
from scoring.hiss import hiss_floor
from scoring.note_stats import note_stats
from scoring.partials import partial_count
from scoring.repetition import exact_repeat_share
from scoring.signals.base import SignalContext
from scoring.signals.quality import bandwidth_hz

NAME = "artifact_penalty"


def clipped_share(f: Features) -> float:
    """Share of samples inside flat tops at the peak level (all channels).

    Read in chunks of 2**18 samples per channel (a run crossing a chunk edge is carried over), so
    no full-length temporaries; the count is exactly the one-pass count.
    """
    chunk = 1 << 18
    peak = f.peak
    if peak <= 0:
        return 0.0
    min_pairs = C.CLIP_MIN_RUN - 1  # a run of ≥ CLIP_MIN_RUN samples = ≥ CLIP_MIN_RUN-1 flat pairs
    total = 0
    for ch in f.samples:
        n_pairs = ch.size - 1
        open_run = 0  # flat pairs of a run still going at the end of the previous chunk
        for lo in range(0, n_pairs, chunk):
            x = ch[lo : min(lo + chunk, n_pairs) + 1]  # pairs lo .. lo+len(x)-2
            at_ceiling = np.abs(x) >= C.CLIP_LEVEL_RATIO * peak
            same = np.abs(np.diff(x)) <= 1e-6
            flat = at_ceiling[1:] & at_ceiling[:-1] & same  # pairs inside a flat top
            edges = np.flatnonzero(np.diff(np.concatenate([[0], flat.astype(np.int8), [0]])))
            lengths = edges[1::2] - edges[::2]
            if open_run:
                if flat[0]:
                    lengths[0] += open_run
                elif open_run >= min_pairs:
                    total += open_run + 1
                open_run = 0
            if flat[-1]:  # the last run may go on in the next chunk
                open_run, lengths = int(lengths[-1]), lengths[:-1]
            total += int(np.sum(lengths[lengths >= min_pairs] + 1))
        if open_run >= min_pairs:
            total += open_run + 1
    return total / f.samples.size


def looped_share(f: Features) -> float:
    """Share of 2 s windows that repeat themselves at a lag of 80 ms-1 s (see module doc)."""
    x = f.mono.astype(np.float64)
    sr = C.ANALYSIS_SAMPLE_RATE
    n_win, lag_max, lag_min = 2 * sr, int(C.LOOP_MAX_LAG_SECONDS * sr), int(C.LOOP_MIN_LAG_SECONDS * sr)
    half_nb = int(0.025 * sr)
    starts = range(0, x.size - n_win - lag_max + 1, n_win)
    looped = total = 0
    nfft = 1 << int(np.ceil(np.log2(2 * n_win + lag_max)))
    for s in starts:
        a = x[s : s + n_win]
        b = x[s : s + n_win + lag_max]
        ea = float(np.dot(a, a))
        if ea < n_win * 1e-6:
            continue
        total += 1
        cross = np.fft.irfft(np.conj(np.fft.rfft(a, nfft)) * np.fft.rfft(b, nfft), nfft)[: lag_max + 1]
        cs = np.concatenate([[0.0], np.cumsum(b * b)])
        eb = cs[np.arange(lag_max + 1) + n_win] - cs[np.arange(lag_max + 1)]
        r = cross / np.sqrt(ea * eb + 1e-20)
        lag = lag_min + int(np.argmax(r[lag_min:]))
        if r[lag] < C.LOOP_CORRELATION:
            continue
        hood = np.concatenate([r[max(0, lag - half_nb) : lag - 2], r[lag + 3 : lag + half_nb]])
        if hood.size and float(np.sqrt(np.mean(hood**2))) < C.LOOP_NEIGHBOURHOOD_RMS:
            looped += 1
    return looped / total if total else 0.0


def click_rate(f: Features) -> float:
    """Second-difference spikes per minute (events closer than 5 ms merged).

    The second difference and its running energy are made chunk by chunk (2**20 samples plus a
    ``w``-sample margin each side; that chunking fixes the running sums' rounding, so it stays),
    the energy and the spike test 2**16 positions at a time: a long clip never holds a
    full-length copy, and one chunk holds ~13 MB.
    """
    chunk, part = 1 << 20, 1 << 16
    x = f.mono_original
    sr = f.sample_rate
    if x.size < sr // 10:
        return 0.0
    n_e = x.size - 2  # second differences
    w, q = max(16, int(0.01 * sr)), 3
    gap = int(0.005 * sr)
    events, last = 0, -1
    for start in range(0, n_e, chunk):
        lo, hi = max(0, start - w), min(n_e, start + chunk + w)
        step = np.diff(x[lo : hi + 2])
        e = np.subtract(step[1:], step[:-1])  # np.diff(x, 2), float32; its float64 values are compared
        del step
        np.abs(e, out=e)
        cs = np.empty(e.size + 1)  # [0, cumsum(e * e)] in float64, filled a part at a time:
        cs[0] = 0.0  # the running sum enters each part's first square, so the bits are one cumsum's
        for p0 in range(0, e.size, part):
            sq = np.square(e[p0 : p0 + part], dtype=np.float64)
            sq[0] += cs[p0]
            np.cumsum(sq, out=cs[p0 + 1 : p0 + 1 + sq.size])
        for p0 in range(start - lo, min(start + chunk, n_e) - lo, part):
            idx = np.arange(p0, min(p0 + part, min(start + chunk, n_e) - lo))
            a0, a1 = np.clip(idx - w, 0, e.size), np.clip(idx - q, 0, e.size)
            b0, b1 = np.clip(idx + q + 1, 0, e.size), np.clip(idx + w + 1, 0, e.size)
            scale = np.sqrt(((cs[a1] - cs[a0]) + (cs[b1] - cs[b0])) / np.maximum((a1 - a0) + (b1 - b0), 1))
            level = e[idx].astype(np.float64)
            hits = (level > C.CLICK_RATIO * scale) & (level > 1e-3)
            spikes = idx[hits] + lo
            if spikes.size == 0:
                continue
            # a spike more than `gap` after the previous one starts an event
            events += int(np.sum(np.diff(spikes) > gap)) + int(last < 0 or spikes[0] - last > gap)
            last = int(spikes[-1])
        del e, cs  # before the next chunk's arrays exist
    if events == 0:
        return 0.0
    return events / (f.duration_seconds / 60.0)


def dropout_events(f: Features) -> int:
    """Internal digital-silence gaps entered abruptly from audible audio.

    Block levels are computed a chunk of whole blocks at a time (each block's mean square is the
    same float64 row mean as over the whole clip), never a float64 copy of the clip.
    """
    x = f.mono_original
    block = max(1, int(C.DROPOUT_BLOCK_SECONDS * f.sample_rate))
    n = x.size // block
    if n < 3:
        return 0
    rows = max(1, (1 << 18) // block)
    level = np.empty(n)
    for r in range(0, n, rows):
        part = x[r * block : min(n, r + rows) * block].astype(np.float64).reshape(-1, block)
        level[r : r + part.shape[0]] = 10 * np.log10(np.mean(part**2, axis=1) + 1e-20)
    silent = level < C.DROPOUT_SILENT_DBFS
    events = 0
    i = 1
    while i < n:
        if silent[i] and not silent[i - 1]:
            j = i
            while j < n and silent[j]:
                j += 1
            if level[i - 1] > C.DROPOUT_LOUD_DBFS and j < n:
                events += 1
            i = j
        i += 1
    return events


def hole_share(f: Features) -> float:
    """Share of the long-term spectrum (200 Hz to the bandwidth) inside notches."""
    freqs = f.frequencies
    ltas = 10 * np.log10(f.power.mean(axis=1) + 1e-20)
    top = ltas[3:].max()
    above = np.flatnonzero(ltas > top - 60.0)
    if above.size == 0:
        return 0.0
    band = (freqs >= 200) & (freqs <= freqs[above[-1]])
    if band.sum() < 20:
        return 0.0
    ref = median_filter(ltas, size=31, mode="nearest")
    deep = (ltas < ref - C.NOTCH_DEPTH_DB) & band
    edges = np.flatnonzero(np.diff(np.concatenate([[0], deep.astype(np.int8), [0]])))
    lengths = edges[1::2] - edges[::2]
    return float(np.sum(lengths[lengths >= 3]) / band.sum())


def chroma_variety(f: Features) -> float:
    """Mean over the 12 pitch classes of the standard deviation over time of the pooled raw chroma
    (``Features.structure_segments``; as `structural`'s variety gate): how much the harmony moves.
    0.0 when the clip has fewer than two segments."""
    raw, _ = f.structure_segments
    return float(raw[:, :12].std(axis=0).mean()) if raw.shape[0] > 1 else 0.0


def measure(f: Features) -> dict[str, float]:
    """Raw measures. The note measures (``note_coverage``, ``note_changes_per_s``) are present
    only when the clip has a transcription (basic-pitch installed)."""
    floor_db, spread_db = hiss_floor(f)
    out = {
        "bandwidth_hz": bandwidth_hz(f),
        "clipped_share": clipped_share(f),
        "looped_share": looped_share(f),
        "clicks_per_minute": click_rate(f),
        "dropouts": float(dropout_events(f)),
        "hole_share": hole_share(f),
        "asymmetry": attack_decay_asymmetry(f),
        "repeat_share": exact_repeat_share(f)[0],
        "partials": partial_count(f),
        "chroma_variety": chroma_variety(f),
        "hiss_floor_db": floor_db,
        "hiss_spread_db": spread_db,
    }
    stats = note_stats(f)
    if stats is not None:
        out["note_coverage"] = stats.coverage
        out["note_changes_per_s"] = stats.changes_per_s
    return out


def multipliers(m: dict[str, float]) -> dict[str, float]:
    """Each defect's multiplier: in [floor, 1], except clipping, which reaches 0 at ``CLIP_SHARE_ZERO``."""
    return {
        "clipping": (1.0 - (1.0 - C.CLIP_FLOOR) * ramp(m["clipped_share"], 0.0005, C.CLIP_SHARE_FULL))
        * (1.0 - ramp(m["clipped_share"], C.CLIP_SHARE_SQUARE, C.CLIP_SHARE_ZERO)),
        "loops": 1.0 - (1.0 - C.LOOP_FLOOR) * ramp(m["looped_share"], 0.1, 0.6),
        "clicks": 1.0 - (1.0 - C.CLICK_FLOOR) * ramp(m["clicks_per_minute"], C.CLICK_RATE_FREE, C.CLICK_RATE_FULL),
        "dropouts": max(C.DROPOUT_FLOOR, 1.0 - C.DROPOUT_PER_EVENT * m["dropouts"]),
        "holes": 1.0 - (1.0 - C.NOTCH_FLOOR) * ramp(m["hole_share"], 0.02, C.NOTCH_SHARE_FULL),
        "band_limit": 1.0 - (1.0 - C.BAND_LIMIT_FLOOR) * ramp(m["bandwidth_hz"], C.BAND_LIMIT_FREE_HZ, C.BAND_LIMIT_FULL_HZ),
    } | evidence_multipliers(m)


def evidence_multipliers(m: dict[str, float]) -> dict[str, float]:
    """The note-evidence multipliers (module doc), each in [its floor, 1]."""
    static = ramp(m["chroma_variety"], C.STATIC_CHROMA_FREE, C.STATIC_CHROMA_FULL)
    if "note_changes_per_s" in m:
        static = max(static, ramp(m["note_changes_per_s"], C.STATIC_CHANGES_FREE, C.STATIC_CHANGES_FULL))
    no_notes = 0.0
    if "note_coverage" in m:
        no_notes = ramp(m["note_coverage"], C.NO_NOTES_COVERAGE_FREE, C.NO_NOTES_COVERAGE_FULL)
    hiss = ramp(m["hiss_floor_db"], C.HISS_FLOOR_FREE_DB, C.HISS_FLOOR_FULL_DB) * ramp(
        m["hiss_spread_db"], C.HISS_SPREAD_FREE_DB, C.HISS_SPREAD_FULL_DB
    )
    evidence = {
        "reversal": (C.REVERSAL_FLOOR, ramp(m["asymmetry"], C.REVERSAL_FREE, C.REVERSAL_FULL)),
        "repeats": (C.REPEAT_FLOOR, ramp(m["repeat_share"], C.REPEAT_SHARE_FREE, C.REPEAT_SHARE_FULL)),
        "pure_tones": (C.PURE_TONE_FLOOR, ramp(m["partials"], C.PARTIALS_FREE, C.PARTIALS_FULL)),
        "no_notes": (C.NO_NOTES_FLOOR, no_notes),
        "static": (C.STATIC_FLOOR, static),
        "hiss": (C.HISS_FLOOR, hiss),
    }
    return {name: 1.0 - (1.0 - floor) * credit for name, (floor, credit) in evidence.items()}


def compute(ctx: SignalContext) -> float:
    return float(np.prod(list(multipliers(measure(ctx.features)).values())))
