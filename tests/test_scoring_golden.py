"""Golden breakdowns: fixed synthetic clips → the exact breakdowns stored in tests/golden/.

Any change to a score shows up here as a reviewed diff. To regenerate after an intended change:
``UPDATE_GOLDEN=1 pytest tests/test_scoring_golden.py`` (and bump ``SCORING_VERSION`` when the
change alters scores). Also checks that two fresh processes give byte-identical breakdowns.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scoring.music_theory import Key
from scoring.request import ScoringRequest
from scoring.scorer import Scorer
from scoring.synth import render_piece

GOLDEN = Path(__file__).parent / "golden" / "scoring_breakdowns.json"


def golden_cases() -> dict[str, tuple[np.ndarray, int, ScoringRequest]]:
    piece = render_piece(key=Key(9, "minor"), tempo_bpm=104, seconds=10, sample_rate=44_100, seed=7)
    rng = np.random.default_rng(11)
    t = np.arange(6 * 32_000) / 32_000
    noisy = (0.05 * rng.standard_normal(t.size) + 0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    return {
        "matching_request": (
            piece, 44_100,
            ScoringRequest(prompt="cinematic piece", duration_seconds=10, genre="cinematic", tempo_bpm=104,
                           key_signature="A minor", time_signature="4/4"),
        ),
        "mismatched_request": (
            piece, 44_100,
            ScoringRequest(prompt="jazz tune", duration_seconds=14.5, genre="jazz", tempo_bpm=71,
                           key_signature="F# major", time_signature="3/4", vocals_requested=True),
        ),
        "tone_in_noise": (noisy, 32_000, ScoringRequest(prompt="ambient", duration_seconds=6)),
        "clipped_piece": (
            np.clip(piece[:, : 5 * 44_100] * 4.0, -1, 1), 44_100,
            ScoringRequest(prompt="pop", duration_seconds=5, tempo_bpm=104),
        ),
    }


def score_all() -> dict[str, dict]:
    scorer = Scorer()
    return {
        name: scorer.score(samples=x, sample_rate=sr, request=req, generation_seconds=4.0).to_dict()
        for name, (x, sr, req) in golden_cases().items()
    }


def _assert_close(actual, expected, path=""):
    if isinstance(expected, dict):
        assert set(actual) == set(expected), path
        for k in expected:
            _assert_close(actual[k], expected[k], f"{path}.{k}")
    elif isinstance(expected, float) and isinstance(actual, float):
        # printed with 6 decimals; allow one unit in the last place for other BLAS builds
        assert actual == pytest.approx(expected, abs=2e-6), path
    else:
        assert actual == expected, path


@pytest.mark.slow
def test_golden_breakdowns():
    result = score_all()
    if os.environ.get("UPDATE_GOLDEN") == "1" or not GOLDEN.exists():
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.fail(f"{GOLDEN} missing: run with UPDATE_GOLDEN=1 to create it")
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    _assert_close(result, json.loads(GOLDEN.read_text()))
    # sanity of the stored expectations themselves
    assert result["matching_request"]["final_score"] > result["mismatched_request"]["final_score"]
    assert result["clipped_piece"]["penalties"]["artifact_penalty"] < 1.0
    assert result["mismatched_request"]["penalties"]["duration_penalty"] < 1.0


_CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
from test_scoring_golden import golden_cases
from scoring.scorer import Scorer
x, sr, req = golden_cases()["matching_request"]
sys.stdout.write(json.dumps(Scorer().score(samples=x, sample_rate=sr, request=req).to_dict(), sort_keys=True))
"""


@pytest.mark.slow
def test_two_processes_give_identical_breakdowns():
    code = _CHILD.format(tests=str(Path(__file__).parent))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    outs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, timeout=120).stdout
        for _ in range(2)
    ]
    assert outs[0] == outs[1]
    assert json.loads(outs[0])["final_score"] > 0
