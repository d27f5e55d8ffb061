"""Neural scoring: tiny random CLAP / encoder / Whisper built in code, saved and loaded through
``scoring.models.load_models``, then run through the real scorer; absent models; the canary.

Random weights say nothing about music: these tests check loading, batching, windowing,
determinism, ranges, the unavailable reasons and the error paths.
"""

import os
import shutil
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from tiny_models import build_all  # noqa: E402

from scoring import constants as C  # noqa: E402
from scoring import listeners  # noqa: E402
from scoring.features import Features  # noqa: E402
from scoring.history import MinerHistory  # noqa: E402
from scoring.models import (  # noqa: E402
    EXTRA_INSTRUMENT_MATCH,
    ModelLoadError,
    ModelsMissing,
    instrument_match,
    load_models,
)
from scoring.models.canary import CanaryResult, canary_clips, run_clap_canary  # noqa: E402
from scoring.models.clap import ClapEmbedder, clap_windows  # noqa: E402
from scoring.models.encoder import encoder_windows  # noqa: E402
from scoring.models.whisper import whisper_windows  # noqa: E402
from scoring.request import ScoringRequest  # noqa: E402
from scoring.scorer import RoundEntry, Scorer, history_embedding  # noqa: E402
from scoring.signals import diversity, vocal_lyrics  # noqa: E402
from scoring.signals.base import RoundContext, SignalContext, Unavailable  # noqa: E402

SR = 32_000
NEURAL = ("clap", "neural_quality", "vocal_lyrics", "preference")


def _tone(seconds: float, *, f0: float = 220.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = 0.3 * np.sin(2 * np.pi * f0 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 2 * t)) + 0.02 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def _request(**kw) -> ScoringRequest:
    base = dict(prompt="calm piano with strings", duration_seconds=6.0, instruments=("piano",))
    base.update(kw)
    return ScoringRequest(**base)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_all(tmp_path_factory.mktemp("tiny_models"))


@pytest.fixture(scope="session")
def bundle(tiny_dir):
    return load_models(tiny_dir)


# --- loading and absence ----------------------------------------------------------------------
def test_load_models_finds_the_tiny_models(bundle, tiny_dir):
    assert bundle.clap is not None and bundle.encoder is not None and bundle.whisper is not None
    assert bundle.preference is None and bundle.fad_reference is None
    assert set(bundle.missing) == {"aesthetics", "preference", "fad_reference"}
    assert bundle.preference_weight() == 0.0
    assert len(bundle.clap.identity) == 16 and bundle.clap.dim == 16 and bundle.clap.sample_rate == 48_000


def test_empty_models_dir_makes_neural_signals_unavailable(tmp_path):
    empty = load_models(tmp_path)
    assert empty.clap is None and set(empty.missing) == {"clap", "encoder", "whisper", "aesthetics", "preference", "fad_reference"}
    out = Scorer(models=empty).score(samples=_tone(5.0), sample_rate=SR, request=_request(vocals_requested=True))
    assert out.unavailable["clap"] == "model absent: clap"
    # no MERT: neural_quality takes its weight-free route through the musicnn taggers
    assert out.signals["neural_quality"] is not None and out.sources["neural_quality"] == listeners.MUSICNN_SOURCE
    assert out.unavailable["vocal_lyrics"] == "model absent: whisper"
    assert out.unavailable["preference"] == "model absent: preference head"
    assert out.penalty_notes["fad_penalty"] == "needs 16 musicnn-embedded clips of this miner, has 1"  # weight-free FAD
    assert out.final_score > 0


def test_require_lists_what_is_missing(tmp_path, tiny_dir):
    with pytest.raises(ModelsMissing) as err:
        load_models(tmp_path / "nowhere", require=True)
    assert "clap" in str(err.value) and "whisper" in str(err.value)
    with pytest.raises(ModelsMissing) as err:
        load_models(tiny_dir, require=True)  # the three models are there; head and reference are not
    assert set(err.value.missing) == {"aesthetics", "preference", "fad_reference"}


def test_incomplete_tokenizer_is_refused(tmp_path, tiny_dir):
    broken = tmp_path / "clap"
    shutil.copytree(tiny_dir / "clap", broken)
    (broken / "tokenizer.json").unlink()
    (broken / "tokenizer_config.json").unlink()
    with pytest.raises(ModelLoadError, match="tokenizer"):
        ClapEmbedder.from_dir(broken)


def test_not_a_clap_checkpoint_is_refused(tmp_path, tiny_dir):
    shutil.copytree(tiny_dir / "encoder", tmp_path / "clap")
    with pytest.raises(ModelLoadError):
        load_models(tmp_path)


# --- CLAP -------------------------------------------------------------------------------------
def test_clap_windows_are_fixed_and_consecutive():
    sr = 1000
    x = np.arange(25 * sr, dtype=np.float32)
    w = clap_windows(x, sample_rate=sr)
    assert [len(p) for p in w] == [10 * sr, 10 * sr, 5 * sr] and w[1][0] == 10 * sr
    assert [len(p) for p in clap_windows(x[: 21 * sr], sample_rate=sr)] == [10 * sr, 10 * sr]  # 1 s tail dropped
    assert [len(p) for p in clap_windows(x[:sr], sample_rate=sr)] == [sr]


def test_clap_embeddings_are_unit_deterministic_and_batch_independent(bundle):
    clap = bundle.clap
    a, b = _tone(23.0, seed=1), _tone(4.0, f0=330.0, seed=2)
    recs = [(a, SR), (b, SR)]
    np.random.seed(123)
    together = clap.embed_recordings(recs)
    np.random.seed(999)  # the feature extractor's RNG must not matter
    alone = np.vstack([clap.embed_recordings([r]) for r in recs])
    assert together.shape == (2, clap.dim) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(clap.embed_recordings(recs), together)


def test_text_embeddings_are_cached(bundle):
    clap = bundle.clap
    first = clap.embed_texts(["jazz trio", "dark techno", "jazz trio"])
    assert first.shape == (3, clap.dim)
    np.testing.assert_array_equal(first[0], first[2])
    assert "jazz trio" in clap._text_cache
    np.testing.assert_array_equal(clap.embed_texts(["dark techno"])[0], first[1])


def test_instrument_match_ranks_against_distractors():
    labels = sorted(set(C.INSTRUMENT_DISTRACTORS) | {"kazoo"})
    index = {lab: k for k, lab in enumerate(labels)}
    sims = np.zeros(len(labels))
    sims[index["kazoo"]] = 1.0
    assert instrument_match(sims=sims, label_index=index, wanted=["kazoo"]) == 1.0
    sims[index["kazoo"]] = -1.0
    assert instrument_match(sims=sims, label_index=index, wanted=["kazoo"]) == 0.0


# --- the whole pipeline ------------------------------------------------------------------------
def test_scorer_round_with_tiny_models(bundle):
    history = MinerHistory()
    scorer = Scorer(models=bundle, history=history)
    req = _request(vocals_requested=True, lyrics="hold my hand and never let go")
    entries = [
        RoundEntry(hotkey=f"hk{i}", samples=_tone(6.0, f0=f, seed=i), sample_rate=SR, request=req, generation_seconds=3.0)
        for i, f in enumerate((220.0, 330.0))
    ]
    first = scorer.score_round(entries)
    for out in first:
        for name in ("clap", "neural_quality", "diversity", "vocal_lyrics"):
            assert out.signals[name] is not None, (name, out.unavailable.get(name))
            assert 0.0 <= out.signals[name] <= 1.0
        assert out.unavailable["preference"] == "model absent: preference head"
        assert out.penalty_notes["fad_penalty"] == "model absent: fad_reference"
    # history now holds CLAP embeddings, so diversity reads CLAP space next round
    assert history.embeddings("hk0").shape == (1, bundle.clap.dim)
    again = scorer.score_round(entries)
    assert again[0].signals["clap"] == first[0].signals["clap"]


def test_instrumental_request_skips_whisper(bundle):
    f = Features.from_audio(samples=_tone(4.0), sample_rate=SR)
    req = _request(vocals_requested=False)
    bundle.prepare([f], [req])
    assert f.get_extra("whisper_transcript") is None
    assert 0.0 <= f.get_extra(EXTRA_INSTRUMENT_MATCH) <= 1.0
    with pytest.raises(Unavailable, match="not applicable: instrumental request"):
        vocal_lyrics.compute(SignalContext(features=f, request=req, models=bundle))


def test_a_failing_model_is_recorded_not_fatal(tiny_dir, monkeypatch):
    b = load_models(tiny_dir)

    def boom(recordings):
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(b.encoder, "summarize_recordings", boom)
    out = Scorer(models=b).score(samples=_tone(4.0), sample_rate=SR, request=_request())
    assert out.unavailable["neural_quality"] == "error: encoder: RuntimeError: encoder exploded"
    assert out.signals["clap"] is not None


def test_whisper_transcript_is_deterministic(bundle):
    w = bundle.whisper
    clip = w.resample(_tone(3.0), sample_rate=SR)
    t1, t2 = w.transcribe([clip, clip])
    assert t1 == t2 and t1.windows == 1 and t1.tokens >= 1
    assert 0.0 <= t1.intelligibility <= 1.0 and 0.0 <= t1.no_speech_prob <= 1.0
    sr = 100
    assert [len(x) for x in whisper_windows(np.zeros(65 * sr, np.float32), sample_rate=sr)] == [30 * sr, 30 * sr, 5 * sr]


def test_encoder_windows_fixed_grid():
    sr = 100
    assert [len(x) for x in encoder_windows(np.zeros(27 * sr, np.float32), sample_rate=sr)] == [5 * sr] * 5
    many = encoder_windows(np.arange(100 * sr, dtype=np.float32), sample_rate=sr)
    assert len(many) == C.ENCODER_MAX_WINDOWS and many[0][0] == 0 and many[-1][0] == 95 * sr
    assert len(encoder_windows(np.zeros(3 * sr, np.float32), sample_rate=sr)[0]) == 3 * sr


# --- weight-free diversity ------------------------------------------------------------------------
def test_diversity_without_models():
    a = Features.from_audio(samples=_tone(4.0, f0=220.0), sample_rate=SR)
    b = Features.from_audio(samples=_tone(4.0, f0=700.0, seed=5), sample_rate=SR)
    req = _request()
    with pytest.raises(Unavailable, match="no history"):
        diversity.compute(SignalContext(features=a, request=req, hotkey="x"))
    history = MinerHistory()
    for _ in range(3):
        history.add("x", embedding=history_embedding(a))
    repeat = diversity.compute(SignalContext(features=a, request=req, history=history, hotkey="x"))
    varied = diversity.compute(SignalContext(features=b, request=req, history=history, hotkey="x"))
    assert repeat == pytest.approx(0.0, abs=1e-6) and varied > repeat
    cross = diversity.compute(SignalContext(features=a, request=req, round=RoundContext(entries={"y": b}), hotkey="x"))
    assert 0.0 < cross <= 1.0


# --- WER -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("ref", "hyp", "wer"), [
    ("Hello, world!", "hello world", 0.0),
    ("don't stop me now", "Don’t stop me now.", 0.0),
    ("one two three four", "one two tree four", 0.25),
    ("one two", "one two three", 0.5),
    ("one two three four", "", 1.0),
])
def test_word_error_rate(ref, hyp, wer):
    assert vocal_lyrics.word_error_rate(reference=ref, hypothesis=hyp) == pytest.approx(wer)


def test_word_error_rate_needs_reference_words():
    with pytest.raises(ValueError):
        vocal_lyrics.word_error_rate(reference=" ,. ", hypothesis="la")


# --- canary ----------------------------------------------------------------------------------------
class _StubClap:
    """A stand-in CLAP whose answer is known: clip k embeds as the k-th unit vector; case k's
    matching text embeds as the k-th unit vector too when ``honest`` (its mismatching text as
    another), and the other way round when not."""

    sample_rate = 8000

    def __init__(self, honest: bool) -> None:
        cases = canary_clips(self.sample_rate)
        self.matching = {m: k for k, (_, _, m, _) in enumerate(cases)}
        self.mismatching = {mm: k for k, (_, _, _, mm) in enumerate(cases)}
        self.honest = honest

    def embed_audio(self, clips):
        return np.eye(len(clips), 8)

    def embed_texts(self, texts):
        out = []
        for t in texts:
            k = self.matching.get(t, self.mismatching.get(t))
            own = (t in self.matching) == self.honest
            out.append(np.eye(8)[k if own else 7])
        return np.stack(out)


class _Bundle:
    def __init__(self, clap) -> None:
        self.clap = clap


def test_canary_mechanics_with_tiny_clap(bundle):
    result = run_clap_canary(bundle)
    assert isinstance(result, CanaryResult) and len(result.cases) == 4
    assert all(np.isfinite(c.margin) for c in result.cases)
    assert result.passed == (sum(c.margin > 0 for c in result.cases) > 2)
    assert "cases matched" in result.message


def test_canary_outcome_with_stub_embedders():
    good = run_clap_canary(_Bundle(_StubClap(honest=True)))
    bad = run_clap_canary(_Bundle(_StubClap(honest=False)))
    assert good.passed and not bad.passed
    with pytest.raises(ValueError):
        run_clap_canary(_Bundle(None))
