"""Consensus constants: every validator must use exactly these values.

Weights, curves and thresholds that decide scores live here and nowhere else, and are not
configurable: validators that differ here disagree on weights. Changing any value is a
protocol change (bump ``SCORING_VERSION``).
"""

SCORING_VERSION = 1

# --- Published signal weights (PROTOCOL.md) -------------------------------------------------
SIGNAL_WEIGHTS: dict[str, float] = {
    "clap": 0.19,
    "attribute": 0.11,
    "musicality": 0.09,
    "melody": 0.06,
    "structural": 0.06,
    "production": 0.05,
    "neural_quality": 0.05,
    "vocal": 0.04,
    "quality": 0.02,
    "vocal_lyrics": 0.08,
    "mix_separation": 0.04,
    "timbral": 0.03,
    "learned_mos": 0.03,
    "diversity": 0.06,
    "speed": 0.02,
    "preference": 0.0,  # 0 until a trained head is loaded; then PREFERENCE_WEIGHT_MIN..MAX
}
PENALTIES = ("duration_penalty", "artifact_penalty", "fad_penalty", "fingerprint_penalty")

# --- Hard zeros ---------------------------------------------------------------------------
SILENCE_RMS = 0.01  # full-clip RMS below this → final score 0

# --- Duration penalty: none within ±20 %, linear to zero at ±50 % ----------------------------
DURATION_TOLERANCE = 0.20
DURATION_ZERO_AT = 0.50

# --- Speed: ≤1× requested duration → 1.0, 3× → 0.3, ≥6× → 0 (piecewise linear) -------------
SPEED_CURVE: tuple[tuple[float, float], ...] = ((1.0, 1.0), (3.0, 0.3), (6.0, 0.0))

# --- Leaderboard ----------------------------------------------------------------------------
EMA_ALPHA = 0.2
TOP_TIER_SIZE = 10
TOP_TIER_SHARE = 0.80

# --- Neural signals -------------------------------------------------------------------------
CLAP_WINDOW_SECONDS = 10.0
CLAP_SAMPLE_RATE = 48_000
PREFERENCE_WEIGHT_MIN = 0.02
PREFERENCE_WEIGHT_MAX = 0.20
DIVERSITY_HISTORY = 50
FAD_PENALTY_FLOOR = 0.5
