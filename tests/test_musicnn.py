"""Our numpy musicnn taggers against the original TensorFlow musicnn (scoring/wheel_models/musicnn.py).

``tests/data/musicnn_reference.npz`` holds fixed 16 kHz clips and what the original code
(``musicnn.extractor`` and its TF1 graph, run by ``scripts/musicnn_reference.py``) returned for
them: taggrams, penultimate features, pooled mid-end features, and for two clips the float16 mel
spectrogram and the batched log-mel input. The weights come from the installed ``musicnn``
wheel; without it the module is skipped.
"""

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("musicnn") is None:
    pytest.skip("the musicnn wheel (which holds the weights) is not installed: "
                "pip install --no-deps musicnn==0.1.0", allow_module_level=True)

from scoring.wheel_models import musicnn as mnn  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture(scope="module")
def meta(ref: dict[str, np.ndarray]) -> dict:
    return json.loads(str(ref["meta_json"]))


def _clip(ref: dict[str, np.ndarray], name: str) -> np.ndarray:
    return ref[f"{name}/pcm16"].astype(np.float32) / 32768.0  # what librosa.load gives for PCM-16


@pytest.fixture(scope="module")
def ours(ref: dict[str, np.ndarray], meta: dict) -> dict[str, dict[str, mnn.MusicnnOutput]]:
    return {clip: mnn.analyse_all(_clip(ref, clip)) for clip in meta["clips"]}


def test_reference_file_covers_music_noise_and_level_extremes(meta: dict) -> None:
    kinds = {p["kind"] for p in meta["clips"].values()}
    assert {"chords_drums", "pink_noise", "loud_sine", "quiet_noise"} <= kinds
    assert meta["taggers"] == list(mnn.TAGGERS)
    assert REFERENCE.stat().st_size < 1_000_000


@pytest.mark.parametrize("tagger", mnn.TAGGERS)
def test_taggram_tags_and_features_match_the_original(ref, meta, ours, tagger: str) -> None:
    for clip in meta["clips"]:
        out = ours[clip][tagger]
        key = f"{clip}/{tagger}"
        taggram = ref[f"{key}/taggram"]
        assert out.taggram.shape == taggram.shape, clip
        assert out.taggram.dtype == np.float32
        np.testing.assert_allclose(out.taggram, taggram, rtol=0, atol=1e-4, err_msg=clip)
        np.testing.assert_allclose(out.tags, ref[f"{key}/tags"], rtol=0, atol=1e-4, err_msg=clip)
        np.testing.assert_allclose(out.penultimate, ref[f"{key}/penultimate"], rtol=0, atol=2e-4, err_msg=clip)
        np.testing.assert_allclose(out.mean_pool, ref[f"{key}/mean_pool"], rtol=0, atol=5e-4, err_msg=clip)
        np.testing.assert_allclose(out.max_pool, ref[f"{key}/max_pool"], rtol=1e-4, atol=2e-3, err_msg=clip)
        # the same top tags, in the same order
        order = np.argsort(-ref[f"{key}/tags"])[:5]
        assert [lab for lab, _ in out.top(5)] == [out.labels[i] for i in order], clip


def test_labels_come_from_the_wheel(ref) -> None:
    for tagger in mnn.TAGGERS:
        labels = mnn.MusicnnTagger.load(tagger).labels
        assert labels == tuple(ref[f"{tagger}/labels"].tolist())
        assert len(labels) == 50
    mtt = mnn.MusicnnTagger.load("MTT_musicnn").labels
    assert {"guitar", "no vocals", "metal", "piano", "techno"} <= set(mtt)


@pytest.mark.parametrize("clip", ["loud_sine", "quiet_noise"])
def test_input_pipeline_matches_the_extractor(ref, clip: str) -> None:
    """float16 mel and the batched log-mel patch, as musicnn's batch_data computed them."""
    ours = mnn.log_mel(_clip(ref, clip))
    mel16 = ref[f"{clip}/mel_float16"]
    assert ours.shape == mel16.shape == (1 + ref[f"{clip}/pcm16"].size // 256, 96)
    theirs = np.log10(np.float32(10000) * mel16.astype(np.float32) + np.float32(1))
    same = ours == theirs
    assert same.mean() > 0.999  # a rare float16 rounding flip from a 1e-7 FFT difference is allowed
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-3)
    np.testing.assert_allclose(ours[: mnn.N_FRAMES], ref[f"{clip}/batch"][0], rtol=0, atol=1e-3)


def test_loud_input_is_saturated_not_turned_into_nan(ref) -> None:
    """Float audio far above full scale: the original's float16 cast would give inf and NaN tags."""
    loud = _clip(ref, "loud_sine") * 1000.0
    rep = mnn.log_mel(loud)
    assert np.all(np.isfinite(rep))
    assert rep.max() == pytest.approx(np.log10(10000.0 * float(np.finfo(np.float16).max) + 1), rel=1e-6)
    out = mnn.analyse_all(loud)
    for res in out.values():
        assert np.all(np.isfinite(res.taggram)) and np.all((res.taggram >= 0) & (res.taggram <= 1))


@pytest.mark.parametrize("bad", [np.array([], dtype=np.float32), np.zeros((2, 16000), dtype=np.float32),
                                 np.array([0.0, np.nan, 0.0] * 6000), np.array([np.inf] * 20000)])
def test_unusable_audio_is_refused(bad: np.ndarray) -> None:
    with pytest.raises(mnn.MusicnnError):
        mnn.analyse_all(bad)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown musicnn tagger"):
        mnn.MusicnnTagger.load("MSD_musicnn_big")
    with pytest.raises(ValueError, match="max_patches"):
        mnn.patch_starts(2000, max_patches=0)
    with pytest.raises(mnn.MusicnnError, match="shape"):
        mnn.MusicnnTagger.load("MTT_musicnn").analyse_log_mel(np.zeros((200, 95), dtype=np.float32))
    with pytest.raises(KeyError, match="no tag"):
        mnn.analyse_all(np.zeros(16000 * 4, dtype=np.float32))["MSD_musicnn"].tag("no vocals")


def test_patches_follow_the_extractor_and_max_patches_spreads_them() -> None:
    # 30 s at 16 kHz: 1 + 480000 // 256 = 1876 frames -> 10 whole patches, 6 frames dropped
    assert mnn.patch_starts(1876).tolist() == [187 * i for i in range(10)]
    assert mnn.patch_starts(1876, max_patches=4).tolist() == [0, 561, 1122, 1683]
    assert mnn.patch_starts(1876, max_patches=1).tolist() == [0]
    assert mnn.patch_starts(1876, max_patches=50).tolist() == [187 * i for i in range(10)]
    assert mnn.patch_starts(373).tolist() == [0]
    assert mnn.patch_starts(374).tolist() == [0, 187]
    assert mnn.patch_starts(5).tolist() == [0]


def test_max_patches_selects_rows_of_the_full_taggram(ref) -> None:
    clip = np.tile(_clip(ref, "chords_drums"), 3)  # 18.6 s: 6 patches
    full = mnn.analyse_all(clip)
    some = mnn.analyse_all(clip, max_patches=3)
    rows = mnn.patch_starts(mnn.log_mel(clip).shape[0], max_patches=3) // mnn.N_FRAMES
    assert rows.tolist() == [0, 2, 5]
    for tagger in mnn.TAGGERS:
        assert full[tagger].taggram.shape == (6, 50)
        np.testing.assert_allclose(some[tagger].taggram, full[tagger].taggram[rows], atol=1e-6)
        np.testing.assert_allclose(some[tagger].patch_starts_s, rows * mnn.N_FRAMES * 256 / 16000)
        np.testing.assert_allclose(some[tagger].tags, some[tagger].taggram.mean(axis=0), atol=1e-7)
        np.testing.assert_allclose(some[tagger].embedding, some[tagger].penultimate.mean(axis=0), atol=1e-6)


def test_short_clip_is_repeat_padded(ref) -> None:
    """The original raises on clips shorter than one patch; we repeat the frames to fill one."""
    assert "UnboundLocalError" in json.loads(str(ref["meta_json"]))["short_clip_original"]
    short = _clip(ref, "chords_drums")[:16000]  # 1 s: 63 frames
    out = mnn.analyse_all(short)
    rep = mnn.log_mel(short)
    tiled = np.concatenate([rep, rep, rep, rep])[: mnn.N_FRAMES]
    direct = mnn.analyse_log_mel(tiled)
    for tagger in mnn.TAGGERS:
        assert out[tagger].padded and not direct[tagger].padded
        assert out[tagger].taggram.shape == (1, 50)
        np.testing.assert_array_equal(out[tagger].taggram, direct[tagger].taggram)


def test_two_net_ensemble_equals_one_net_at_a_time(ref) -> None:
    """The shared-front-end ensemble (kept, measured slower on one core) computes the same."""
    from scoring.wheel_models.musicnn_net import MusicnnEnsemble

    rep = mnn.log_mel(_clip(ref, "procedural_rock"))
    patches = np.stack([rep[s : s + mnn.N_FRAMES] for s in mnn.patch_starts(rep.shape[0])])
    nets = [mnn.MusicnnTagger.load(t).net for t in mnn.TAGGERS]
    pair = MusicnnEnsemble(nets).forward(patches)
    alone = mnn.analyse_log_mel(rep)
    for tagger, res in zip(mnn.TAGGERS, pair, strict=True):
        np.testing.assert_allclose(res.taggram, alone[tagger].taggram, rtol=0, atol=1e-6)
        np.testing.assert_allclose(res.penultimate, alone[tagger].penultimate, rtol=0, atol=1e-5)


def test_loaded_once_per_process() -> None:
    assert mnn.MusicnnTagger.load("MTT_musicnn") is mnn.MusicnnTagger.load("MTT_musicnn")


_PROBE = """
import hashlib, sys
import numpy as np
from scoring.wheel_models import musicnn as mnn
with np.load(sys.argv[1]) as ref:
    clip = np.tile(ref["chords_drums/pcm16"].astype(np.float32) / 32768.0, 2)
out = mnn.analyse_all(clip)
h = hashlib.sha256()
for name in mnn.TAGGERS:
    for field in ("taggram", "penultimate", "mean_pool", "max_pool"):
        h.update(getattr(out[name], field).tobytes())
print(h.hexdigest(), "tensorflow" in sys.modules, "musicnn" in sys.modules)
"""


def test_bit_identical_across_processes_and_thread_counts(ref) -> None:
    """Same samples, same bytes out in another process started with another BLAS thread count;
    and neither TensorFlow nor the musicnn package's own modules get imported."""
    clip = np.tile(_clip(ref, "chords_drums"), 2)
    out = mnn.analyse_all(clip)
    h = hashlib.sha256()
    for name in mnn.TAGGERS:
        for field in ("taggram", "penultimate", "mean_pool", "max_pool"):
            h.update(getattr(out[name], field).tobytes())
    threads = "2" if os.environ.get("OMP_NUM_THREADS", "") == "1" else "1"
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", _PROBE, str(REFERENCE)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=300, check=True)
    assert run.stdout.strip() == f"{h.hexdigest()} False False"
