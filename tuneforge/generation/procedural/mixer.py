"""The mixer: a Score rendered to a stereo buffer (before mastering).

Each part renders its notes into one mono track (a note's waveform is synthesised once per
(pitch, length) and reused, then added at its onset) and is panned with a constant-power law;
drum hits go straight into a stereo kit bus, each piece panned like a kit seen from the
audience, and an open hi-hat is choked by the next hat. Parts and kit feed one mono reverb send
(as a desk's aux send does) into a stereo reverb: one FFT convolution per output channel with a
seeded, decorrelated, exponentially decaying impulse response whose high frequencies die faster
than its lows. Tracks are summed with in-place BLAS axpy into reused buffers.

With ``voices`` (a loaded General-MIDI soundfont, :mod:`.soundfont`), parts whose timbre the
font has render through it in stereo (the part's pan then acts as a constant-power balance), and
the kit takes the font's percussion pieces; everything else uses the built-in synth and kit.
"""

import itertools
import logging

import numpy as np
import scipy.fft as sfft
from scipy.linalg.blas import saxpy
from scipy.signal import butter, sosfilt

from tuneforge.generation.procedural.drumkit import synthesize_kit
from tuneforge.generation.procedural.score import Score
from tuneforge.generation.procedural.soundfont import SoundFontVoices
from tuneforge.generation.procedural.timbres import synthesize_note

__all__ = ["render_score", "reverb_impulse", "DRUM_PAN", "DRUM_GAIN"]

log = logging.getLogger(__name__)

DRUM_PAN = {
    "kick": 0.0,
    "snare": 0.06,
    "clap": 0.0,
    "closed_hat": 0.35,
    "open_hat": 0.35,
    "ride": -0.35,
    "crash": -0.4,
    "tom_low": -0.25,
    "tom_mid": 0.2,
    "shaker": 0.5,
    "rim": 0.15,
    "conga": -0.45,
    "cowbell": 0.4,
}
DRUM_GAIN = {
    "kick": 0.95,
    "snare": 0.75,
    "clap": 0.65,
    "closed_hat": 0.42,
    "open_hat": 0.3,
    "ride": 0.28,
    "crash": 0.3,
    "tom_low": 0.55,
    "tom_mid": 0.45,
    "shaker": 0.3,
    "rim": 0.3,
    "conga": 0.35,
    "cowbell": 0.12,
}
_DRUM_SEND = 0.12
_WET_LEVEL = 0.32
_CHOKE_S = 0.008  # fade of a choked open hat


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


def _accumulate(bus: np.ndarray, x: np.ndarray, a: float) -> None:
    """``bus += a * x`` in place, in one pass (BLAS axpy); both float32, contiguous, same length."""
    if not np.may_share_memory(saxpy(x, bus, a=a), bus):  # a copy would leave the bus unchanged
        raise RuntimeError("axpy did not update the bus in place")


def _choke_lengths(hits: list, kit: dict[str, np.ndarray], spq: float, sr: int) -> list[int]:
    """Frames each hit may ring: an open hat stops (with a short fade) where the next hat starts.

    A drummer closing the hi-hat pedal cuts the open hat off; without the choke, open hats smear
    into the closed ones that follow.
    """
    lengths = [kit[h.piece].shape[-1] for h in hits]
    hat_order = sorted((h.start_q, i) for i, h in enumerate(hits) if h.piece in ("open_hat", "closed_hat"))
    for (q, i), (q_next, _) in itertools.pairwise(hat_order):
        if hits[i].piece == "open_hat":
            lengths[i] = min(lengths[i], max(int(round((q_next - q) * spq * sr)), 1) + int(_CHOKE_S * sr))
    return lengths


def render_score(
    score: Score, *, sample_rate: int, n_frames: int, seed: int, voices: SoundFontVoices | None = None
) -> np.ndarray:
    """Render ``score`` to float32 stereo of shape (2, ``n_frames``) (unmastered, roughly unit level).

    ``voices``: optional soundfont voices at ``sample_rate`` (None → the built-in synth only).
    """
    sr = sample_rate
    spq = 60.0 / score.tempo_bpm
    length = n_frames  # what rings past the end is cut there (the backend fades the last bar out)
    dry = np.zeros((2, length), dtype=np.float32)
    send = np.zeros(length, dtype=np.float32)  # the reverb's input: mono, as a mixing desk's aux send
    # One mono and one stereo scratch track, reused by every part and the kit: a 30 s render
    # touches a few buffers instead of allocating one per part.
    scratch: dict[int, np.ndarray] = {}

    def blank(ndim: int) -> np.ndarray:
        buf = scratch.get(ndim)
        if buf is None:
            buf = scratch[ndim] = np.zeros((2, length) if ndim == 2 else length, dtype=np.float32)
        else:
            buf.fill(0.0)
        return buf

    def add_track(track: np.ndarray, gain: float, pan: float, send_amount: float) -> None:
        gl, gr = _pan_gains(pan)
        left, right = (track[0], track[1]) if track.ndim == 2 else (track, track)
        _accumulate(dry[0], left, gain * gl)
        _accumulate(dry[1], right, gain * gr)
        if send_amount > 0:
            if track.ndim == 2:
                _accumulate(send, left, 0.5 * gain * send_amount)
                _accumulate(send, right, 0.5 * gain * send_amount)
            else:
                _accumulate(send, track, gain * send_amount)

    if voices is not None and voices.sample_rate != sr:
        raise ValueError(f"soundfont voices render at {voices.sample_rate} Hz, the mix at {sr} Hz")
    for part in score.parts:
        from_font = voices is not None and voices.has_timbre(part.timbre)
        track = blank(2 if from_font else 1)
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
                    wave = synthesize_note(
                        part.timbre, pitch=note.pitch, sustain_frames=sustain, sample_rate=sr, seed=seed
                    )
                cache[key] = wave
            end = min(length, start + wave.shape[-1])
            track[..., start:end] += wave[..., : end - start] * np.float32(0.2 + 0.8 * note.velocity)
        log.debug(
            "part %s/%s: %d notes, %d distinct waveforms%s",
            part.role,
            part.timbre,
            len(part.notes),
            len(cache),
            " (soundfont)" if from_font else "",
        )
        add_track(track, part.gain, part.pan, part.reverb_send)

    if score.drums:
        font_kit = voices.kit if voices is not None else {}
        missing = sorted({h.piece for h in score.drums} - set(font_kit))
        kit = {
            **synthesize_kit(sample_rate=sr, seed=seed, pieces=missing),
            **font_kit,
        }  # only the pieces played
        hits = [h for h in score.drums if int(round(h.start_q * spq * sr)) < n_frames]
        lengths = _choke_lengths(hits, kit, spq, sr)
        # Hits are short: each goes straight into a stereo kit bus with its piece's gain and pan,
        # and the bus joins the mix (and the reverb send) once.
        kit_bus = blank(2)
        for i, hit in enumerate(hits):
            sound = kit[hit.piece]
            start = int(round(hit.start_q * spq * sr))
            n = min(lengths[i], sound.shape[0], length - start)
            wave = sound[:n]
            if n < sound.shape[0]:  # choked (or cut by the buffer's end): fade the cut so it does not click
                fade = min(n, int(_CHOKE_S * sr))
                wave = wave.copy()
                wave[n - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            gl, gr = _pan_gains(DRUM_PAN[hit.piece])
            level = DRUM_GAIN[hit.piece] * score.drum_gain * hit.velocity
            kit_bus[0, start : start + n] += wave * np.float32(level * gl)
            kit_bus[1, start : start + n] += wave * np.float32(level * gr)
        add_track(kit_bus, 1.0, 0.0, _DRUM_SEND)

    ir = reverb_impulse(seconds=score.reverb_seconds, sample_rate=sr, seed=seed)
    # One FFT convolution per channel over the whole clip (faster here than overlap-add).
    size = sfft.next_fast_len(n_frames + ir.shape[1], real=True)
    wet = sfft.irfft(sfft.rfft(send, size) * sfft.rfft(ir, size, axis=1), size, axis=1)
    dry += np.float32(_WET_LEVEL) * wet[:, :n_frames]
    return dry
