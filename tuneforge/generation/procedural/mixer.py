"""The mixer: a Score rendered to a stereo buffer (before mastering).

Each part renders its notes into one mono track (a note's waveform is synthesised once per
(pitch, length) and reused, then added at its onset), is panned with a constant-power law and
sent to one stereo reverb bus; drum pieces are panned like a kit seen from the audience. The
reverb is a single FFT convolution per channel with a seeded, decorrelated, exponentially
decaying impulse response whose high frequencies die faster than its lows.

With ``voices`` (a loaded General-MIDI soundfont, :mod:`.soundfont`), parts whose timbre the
font has render through it in stereo (the part's pan then acts as a constant-power balance), and
the kit takes the font's percussion pieces; everything else uses the built-in synth and kit.
"""

import logging

import numpy as np
from scipy.signal import butter, oaconvolve, sosfilt

from tuneforge.generation.procedural.drumkit import KIT_PIECES, synthesize_kit
from tuneforge.generation.procedural.score import Score
from tuneforge.generation.procedural.soundfont import SoundFontVoices
from tuneforge.generation.procedural.timbres import synthesize_note

__all__ = ["render_score", "reverb_impulse", "DRUM_PAN", "DRUM_GAIN"]

log = logging.getLogger(__name__)

DRUM_PAN = {"kick": 0.0, "snare": 0.06, "clap": 0.0, "closed_hat": 0.35, "open_hat": 0.35, "ride": -0.35,
            "crash": -0.4, "tom_low": -0.25, "tom_mid": 0.2, "shaker": 0.5, "rim": 0.15, "conga": -0.45,
            "cowbell": 0.4}
DRUM_GAIN = {"kick": 0.95, "snare": 0.55, "clap": 0.5, "closed_hat": 0.2, "open_hat": 0.17, "ride": 0.16,
             "crash": 0.22, "tom_low": 0.55, "tom_mid": 0.45, "shaker": 0.16, "rim": 0.3, "conga": 0.35,
             "cowbell": 0.12}
_DRUM_SEND = 0.12
_WET_LEVEL = 0.32
_TAIL_SECONDS = 1.0


def _pan_gains(pan: float) -> tuple[float, float]:
    theta = (float(np.clip(pan, -1.0, 1.0)) + 1.0) * np.pi / 4.0
    return float(np.cos(theta) * np.sqrt(2.0)), float(np.sin(theta) * np.sqrt(2.0))


def reverb_impulse(*, seconds: float, sample_rate: int, seed: int) -> np.ndarray:
    """Stereo impulse response, shape (2, frames), float32: ``seconds`` is the RT60.

    Decorrelated noise per channel under an exponential decay (-60 dB at RT60), split into a
    low band that decays at the full RT60 and a high band that decays twice as fast; 12 ms
    pre-delay; normalised to unit energy per channel.
    """
    sr = sample_rate
    n = int(min(seconds * 1.1, 4.0) * sr)
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x5EB])
    t = np.arange(n) / sr
    pre = int(0.012 * sr)
    low_sos = butter(2, 3000.0 / (0.5 * sr), btype="lowpass", output="sos")
    ir = np.zeros((2, n + pre))
    for ch in range(2):
        noise = rng.standard_normal(n)
        low = sosfilt(low_sos, noise)
        high = noise - low
        env = np.exp(-6.91 * t / seconds)
        tail = low * env + 0.6 * high * env**2
        tail[: int(0.004 * sr)] *= np.linspace(0.0, 1.0, int(0.004 * sr))
        ir[ch, pre:] = tail
        ir[ch] /= np.sqrt(np.sum(ir[ch] ** 2))
    return ir.astype(np.float32)


def render_score(
    score: Score, *, sample_rate: int, n_frames: int, seed: int, voices: SoundFontVoices | None = None
) -> np.ndarray:
    """Render ``score`` to float32 stereo of shape (2, ``n_frames``) (unmastered, roughly unit level).

    ``voices``: optional soundfont voices at ``sample_rate`` (None → the built-in synth only).
    """
    sr = sample_rate
    spq = 60.0 / score.tempo_bpm
    length = n_frames + int(_TAIL_SECONDS * sr)
    dry = np.zeros((2, length), dtype=np.float32)
    send = np.zeros((2, length), dtype=np.float32)

    def add_track(track: np.ndarray, gain: float, pan: float, send_amount: float) -> None:
        gl, gr = _pan_gains(pan)
        left, right = (track[0], track[1]) if track.ndim == 2 else (track, track)
        dry[0] += left * (gain * gl)
        dry[1] += right * (gain * gr)
        if send_amount > 0:
            send[0] += left * (gain * gl * send_amount)
            send[1] += right * (gain * gr * send_amount)

    if voices is not None and voices.sample_rate != sr:
        raise ValueError(f"soundfont voices render at {voices.sample_rate} Hz, the mix at {sr} Hz")
    for part in score.parts:
        from_font = voices is not None and voices.has_timbre(part.timbre)
        track = np.zeros((2, length) if from_font else length, dtype=np.float32)
        cache: dict[tuple[int, int], np.ndarray] = {}
        for note in part.notes:
            start = int(round(note.start_q * spq * sr))
            if start >= n_frames:
                continue
            sustain = max(1, int(round(note.length_q * spq * sr)))
            sustain = min(sustain, length - start)
            key = (note.pitch, sustain)
            wave = cache.get(key)
            if wave is None:
                if from_font:
                    wave = voices.synthesize_note(part.timbre, pitch=note.pitch, sustain_frames=sustain)
                else:
                    wave = synthesize_note(part.timbre, pitch=note.pitch, sustain_frames=sustain, sample_rate=sr,
                                           seed=seed)
                cache[key] = wave
            end = min(length, start + wave.shape[-1])
            track[..., start:end] += wave[..., : end - start] * np.float32(0.2 + 0.8 * note.velocity)
        log.debug("part %s/%s: %d notes, %d distinct waveforms%s", part.role, part.timbre, len(part.notes),
                  len(cache), " (soundfont)" if from_font else "")
        add_track(track, part.gain, part.pan, part.reverb_send)

    if score.drums:
        font_kit = voices.kit if voices is not None else {}
        complete = all(piece in font_kit for piece in KIT_PIECES)
        kit = font_kit if complete else {**synthesize_kit(sample_rate=sr, seed=seed), **font_kit}
        tracks: dict[str, np.ndarray] = {}
        for hit in score.drums:
            start = int(round(hit.start_q * spq * sr))
            if start >= n_frames:
                continue
            sound = kit[hit.piece]
            track = tracks.setdefault(hit.piece, np.zeros(length, dtype=np.float32))
            end = min(length, start + sound.shape[0])
            track[start:end] += sound[: end - start] * np.float32(hit.velocity)
        for piece, track in tracks.items():
            add_track(track, DRUM_GAIN[piece] * score.drum_gain, DRUM_PAN[piece], _DRUM_SEND)

    ir = reverb_impulse(seconds=score.reverb_seconds, sample_rate=sr, seed=seed)
    out = dry[:, :n_frames].copy()
    for ch in range(2):
        wet = oaconvolve(send[ch, :n_frames], ir[ch], mode="full")[:n_frames]
        out[ch] += (_WET_LEVEL * wet).astype(np.float32)
    return out
