"""Consensus constants: every validator must use exactly these values.

Weights, curves and thresholds that decide scores live here and nowhere else, and are not
configurable: validators that differ here disagree on weights. Changing any value is a
protocol change (bump ``SCORING_VERSION``).
"""

SCORING_VERSION = 3

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
CLAP_MIN_TAIL_SECONDS = 2.0  # a trailing partial CLAP window shorter than this is dropped (repeat-padded otherwise)
#: CLAP text–audio cosine mapped linearly onto [0, 1] between these (docs/models-scoring.md: calibration).
CLAP_COSINE_FLOOR = 0.05
CLAP_COSINE_CEILING = 0.45
#: Zero-shot instrument check: each requested instrument is ranked against these distractors.
INSTRUMENT_DISTRACTORS = (
    "piano", "drums", "electric guitar", "acoustic guitar", "violin", "synthesizer",
    "flute", "trumpet", "bass guitar", "choir", "saxophone", "organ",
)
INSTRUMENT_PROMPT = "the sound of a {}"
ENCODER_WINDOW_SECONDS = 5.0  # self-supervised encoder windows (MERT is trained on 5 s excerpts)
ENCODER_MAX_WINDOWS = 12  # more windows than this: evenly spaced ones are used
#: Reference-free neural quality: mean adjacent-window cosine of the encoder's pooled states.
ENCODER_COHERENCE_FLOOR = 0.5
ENCODER_COHERENCE_CEILING = 0.95
WHISPER_WINDOW_SECONDS = 30.0
WHISPER_MAX_WINDOWS = 6  # lyrics are transcribed from the first 3 minutes at most (= the longest clip)
WHISPER_MAX_NEW_TOKENS = 160  # per 30 s window (greedy)
VOCAL_LYRICS_WER_SHARE = 0.6  # with lyrics: 0.6 × (1 − WER) + 0.4 × intelligibility
PREFERENCE_ACCURACY_LOW = 0.5  # validation accuracy → PREFERENCE_WEIGHT_MIN (below: the head is unused)
PREFERENCE_ACCURACY_HIGH = 0.8  # → PREFERENCE_WEIGHT_MAX
DIVERSITY_FULL_DISTANCE_CLAP = 0.5  # mean cosine distance earning full diversity credit (CLAP embeddings)
DIVERSITY_FULL_DISTANCE_DSP = 0.12  # DSP embedding: unrelated real tracks sit 0.10 apart on average (measured, docs)
FAD_WINDOW_CLIPS = 32  # a miner's FAD uses exactly its last 32 clips (history + this one)
FAD_PENALTY_MID_RATIO = 3.0  # FAD / reference bootstrap median at which half the penalty applies
FAD_PENALTY_SCALE = 0.5

# --- Analysis front end (changing any of these changes every score) -------------------------
ANALYSIS_SAMPLE_RATE = 22_050  # Hz; the mono analysis signal is resampled here once (soxr)
STFT_N_FFT = 2048
STFT_HOP = 512  # ~23 ms at 22.05 kHz
N_MELS = 64
N_MFCC = 20
PITCH_FMIN_HZ = 55.0  # A1
PITCH_FMAX_HZ = 1760.0  # A6
PITCH_BINS_PER_SEMITONE = 3
PITCH_HARMONICS = 6  # harmonic-summation salience: h = 1..6, weight 0.8**(h-1)
PITCH_MAX_BIN_HZ = 5_500.0  # HPSS and salience use bins below this
HPSS_KERNEL = 17  # median-filter length (frames / bins) of the bounded HPSS
HPSS_MAX_SECONDS = 60.0  # HPSS/pitch run on at most this much audio (centre excerpt)
STRUCTURE_MAX_FRAMES = 256  # self-similarity matrices are at most this size per side
STRUCTURE_POOL_SECONDS = 0.5  # minimum pooling of structure features
DSP_EMBEDDING_DIM = 96

# --- Genre families (copied from tuneforge/catalog.py: scoring must not import tuneforge) ---
GENRE_FAMILY: dict[str, str] = {
    "pop": "pop", "rock": "rock", "hard rock": "rock", "metal": "rock", "punk": "rock",
    "indie": "rock", "jazz": "jazz", "bebop": "jazz", "smooth jazz": "jazz", "blues": "jazz",
    "funk": "rnb", "soul": "rnb", "r&b": "rnb", "hip hop": "urban", "trap": "urban",
    "lo-fi hip hop": "urban", "electronic": "electronic", "house": "electronic",
    "techno": "electronic", "trance": "electronic", "drum and bass": "electronic",
    "dubstep": "electronic", "synthwave": "electronic", "ambient": "ambient", "chillout": "ambient",
    "new age": "ambient", "classical": "classical", "baroque": "classical", "cinematic": "classical",
    "orchestral": "classical", "piano solo": "classical", "folk": "folk", "country": "folk",
    "bluegrass": "folk", "celtic": "folk", "reggae": "world", "latin": "world",
    "bossa nova": "world", "afrobeat": "world", "flamenco": "world", "gospel": "rnb",
    "disco": "electronic", "video game": "electronic", "world": "world",
    "rnb": "rnb", "urban": "urban",
}
DEFAULT_FAMILY = "default"
#: Integrated loudness target (LUFS) and half-width of the full-credit zone (LU) per family.
FAMILY_LOUDNESS_LUFS: dict[str, tuple[float, float]] = {
    "pop": (-10.0, 4.0), "rock": (-10.0, 4.0), "electronic": (-9.0, 4.0), "urban": (-10.0, 4.0),
    "rnb": (-12.0, 4.0), "jazz": (-16.0, 5.0), "folk": (-14.0, 5.0), "world": (-13.0, 5.0),
    "ambient": (-17.0, 5.0), "classical": (-19.0, 6.0), "default": (-14.0, 6.0),
}
LOUDNESS_FALLOFF_LU = 14.0  # beyond the full-credit zone, credit falls to 0 over this many LU
#: Peak-to-loudness ratio (true peak − integrated LUFS, dB) full-credit range per family.
FAMILY_PLR_DB: dict[str, tuple[float, float]] = {
    "pop": (7.0, 13.0), "rock": (7.0, 13.0), "electronic": (6.0, 12.0), "urban": (7.0, 13.0),
    "rnb": (8.0, 15.0), "jazz": (9.0, 19.0), "folk": (8.0, 17.0), "world": (8.0, 17.0),
    "ambient": (9.0, 20.0), "classical": (10.0, 23.0), "default": (7.0, 19.0),
}
PLR_FALLOFF_DB = 8.0

# --- Duration-aware and request-aware weight tilts (multiplicative, then renormalised) -------
SHORT_CLIP_SECONDS = 10.0  # clips shorter than this: production & fidelity matter more
LONG_CLIP_SECONDS = 30.0  # clips this long or longer: structure & melody matter more
SHORT_CLIP_TILT: dict[str, float] = {
    "production": 1.3, "neural_quality": 1.3, "quality": 1.3, "learned_mos": 1.2,
    "structural": 0.6, "melody": 0.85,
}
LONG_CLIP_TILT: dict[str, float] = {"structural": 1.35, "melody": 1.2}
VOCALS_REQUESTED_TILT: dict[str, float] = {"vocal": 1.5, "vocal_lyrics": 1.25}

# --- Attribute adherence ----------------------------------------------------------------------
TEMPO_FULL_CREDIT = 0.04  # relative tempo error with full credit
TEMPO_ZERO_CREDIT = 0.15  # relative tempo error with no credit
TEMPO_OCTAVE_CREDIT = 0.85  # ×0.5 / ×2 readings
TEMPO_COMPOUND_CREDIT = 0.6  # ×2/3 / ×3/2 readings, compound meters only
KEY_RELATION_CREDIT: dict[str, float] = {
    "exact": 1.0, "relative": 0.8, "parallel": 0.6, "fifth": 0.5, "other": 0.1,
}
KEY_UNSURE_CREDIT = 0.3  # what an unconfident key reading earns
KEY_STRENGTH_RANGE = (0.35, 0.8)  # Krumhansl correlation mapped to confidence 0..1
METER_PERIODS = (2, 3, 4, 5, 7)  # beat-accent periodicities tested
METER_MIN_BEATS = 12
METER_TEMPO_MATCH = 0.08  # tracked tempo within 8 % of a reading (×1, ×½, ×2, ×⅔, ×3⁄2) sets the bar's beat count

# --- Penalties --------------------------------------------------------------------------------
CLIP_LEVEL_RATIO = 0.999  # samples within this share of the clip's peak count as at the ceiling
CLIP_MIN_RUN = 3  # consecutive ceiling samples that make a flat top
CLIP_SHARE_FULL = 0.02  # flat-topped sample share that earns the clipping floor
CLIP_FLOOR = 0.3
CLIP_SHARE_SQUARE = 0.5  # flat-topped share beyond which the clip turns into a square wave ...
CLIP_SHARE_ZERO = 0.9  # ... and the share at which it is one: clipping multiplier 0
LOOP_WINDOW_SECONDS = 3.0
LOOP_MIN_LAG_SECONDS = 0.08
LOOP_MAX_LAG_SECONDS = 1.0
LOOP_CORRELATION = 0.9  # waveform correlation at the loop lag
LOOP_NEIGHBOURHOOD_RMS = 0.45  # broadband check: correlation around the lag stays below this
LOOP_FLOOR = 0.2
CLICK_RATIO = 20.0  # second-difference spike over its local RMS
CLICK_RATE_FREE = 20.0  # clicks per minute tolerated (square-wave synths and lossy codecs make a few)
CLICK_RATE_FULL = 150.0  # clicks per minute that earn the floor
CLICK_FLOOR = 0.5
DROPOUT_BLOCK_SECONDS = 0.01
DROPOUT_SILENT_DBFS = -70.0
DROPOUT_LOUD_DBFS = -40.0
DROPOUT_PER_EVENT = 0.12  # multiplier lost per internal dropout
DROPOUT_FLOOR = 0.3
NOTCH_DEPTH_DB = 18.0  # a band this far below its smoothed neighbourhood is a hole
NOTCH_SHARE_FULL = 0.15  # share of the in-band spectrum in holes that earns the floor
NOTCH_FLOOR = 0.6
BAND_LIMIT_FREE_HZ = 5000.0
BAND_LIMIT_FULL_HZ = 3500.0
BAND_LIMIT_FLOOR = 0.6

# --- Fingerprint (copy detection; scoring/copies/, docs/scoring.md "Fingerprint") ---------------
# The fingerprint is a spectral-peak print: the strongest peaks of each frame of a log-frequency
# spectrogram (all channels' power summed, so polarity and channel tricks do not change it).
FINGERPRINT_SAMPLE_RATE = 8_000  # Hz; every channel is resampled here (content above 4 kHz is ignored)
FINGERPRINT_N_FFT = 2048  # 256 ms Hann windows (3.9 Hz bins: a third of a semitone from ~200 Hz)
FINGERPRINT_HOP = 512  # 64 ms between frames
FINGERPRINT_FMIN_HZ = 130.81  # C3: the lowest log-frequency bin centre
FINGERPRINT_FMAX_HZ = 3520.0  # A7: ≤ 4 kHz / 2^(2/12), so a +2 semitone shift low-passed at 4 kHz keeps every bin
FINGERPRINT_BINS_PER_OCTAVE = 36  # a third of a semitone
FINGERPRINT_MAX_SECONDS = 30.0  # prints cover the first 30 s
FINGERPRINT_PEAKS_PER_FRAME = 24  # at most this many spectral peaks stored per frame
FINGERPRINT_PEAK_DEPTH_DB = 36.0  # peaks more than this below the frame's strongest are not stored
FINGERPRINT_SILENCE_DB = -60.0  # frames whose strongest peak is below this (dB re the clip's loud frames) are silent
# Alignment: the second print is searched over pitch shift, tempo change and offset.
FINGERPRINT_MAX_SHIFT_BINS = 10  # ±3.3 semitones (pitch-shift ±2 plus a ±5 % speed change)
FINGERPRINT_STRETCH_MIN = 0.92  # tempo ratios searched (±5 % stretch with margin), step below
FINGERPRINT_STRETCH_MAX = 1.08
FINGERPRINT_STRETCH_STEP = 0.005
FINGERPRINT_MAX_OFFSET_SECONDS = 1.0  # start offsets searched (delays and trimmed starts up to 0.5 s)
FINGERPRINT_CANDIDATES = 3  # best pitch shifts × best (stretch, offset) pairs verified
FINGERPRINT_REFINE_FRAMES = 2  # each segment may move ± this many frames (phase-vocoder drift)
FINGERPRINT_SEGMENT_FRAMES = 32  # ~2 s
# Pre-filter: share of each print's 4 strongest peaks per frame found among the other's 10 strongest
# (±1 bin, ±1 frame) at the best candidate alignment, the smaller of the two directions.
FINGERPRINT_MATCH_MIN = 0.55  # below: different music, no further check (copies measured ≥ 0.61)
# Evidence of originality: strong notes of one clip the other lacks (absent, or present but much weaker).
FINGERPRINT_STRONG_DB = 12.0  # a peak within this of its frame's strongest is a strong note
FINGERPRINT_MISSING_DB = 15.0  # absent: the other clip is this much weaker there, relative to its frame
FINGERPRINT_WEAK_DB = 6.0  # weak: this much more deficit than the frame's median deficit (a doubled chord tone)
FINGERPRINT_TOLERANCE_BINS = 1  # ... anywhere within ± this many bins (and ± 1 frame)
FINGERPRINT_EVENT_FRAMES = 3  # lacking cells count when they form a run over at least this many frames (a note)
FINGERPRINT_MIN_COVERAGE = 0.8  # the other clip must cover this share of a clip's strong-note frames to hold it
FINGERPRINT_EVIDENCE_FULL = 7.0  # lacking-note cells per 10 s at or below which the later clip is a copy (0)
FINGERPRINT_EVIDENCE_NONE = 12.0  # at or above: different music (1); honest pairs measured ≥ 13.5
FINGERPRINT_HISTORY_CLIPS = 16  # a hotkey's clip is checked against its this many most recent fingerprints
# --- end of the fingerprint block ------------------------------------------------------------

# --- melody / structural calibration (measured on the real-music corpus, see docs/scoring.md) ---
MELODY_VOICING_RATIO = 1.5  # melody's own, looser voicing: dense mixes peak at ratio ~1.6-1.9
MELODY_SMOOTH_FRAMES = 5  # median filter (STFT frames, ~116 ms) on the melody pitch track
MELODY_MIN_NOTE_FRAMES = 4  # a note is a run of at least this many frames (~93 ms) on one semitone
VIBRATO_EDGE_FRAMES = 2  # frames dropped at each end of a voiced run before vibrato analysis (onset/release pitch errors)
STRUCTURE_VARIETY_NONE = 0.02  # mean pooled-chroma std at/below which structural is 0 (loops, held tones: ≤ 0.03)
STRUCTURE_VARIETY_FULL = 0.08  # at/above: no gate (real corpus music 0.10-0.26)

# --- trained listeners (scoring/listeners.py; docs/scoring.md "Listeners") ----------------------
MUSICNN_MAX_PATCHES = 4  # evenly spaced 3 s patches tagged per clip (~20 ms per patch per tagger)
NOTES_MAX_SECONDS = 14.3  # basic-pitch transcribes 3 evenly spaced 4.75 s excerpts (~0.2 s per clip)
MUSICNN_FAD_WINDOW_CLIPS = 16  # weight-free fad_penalty: a miner's last 16 clips' musicnn embeddings
MUSICNN_REFERENCE_SEGMENT_SECONDS = 10.0  # the reference cuts each real recording into 10 s segments
DIVERSITY_FULL_DISTANCE_MUSICNN = 0.6  # musicnn embedding (post-ReLU, cosine): see docs/scoring.md

# --- prompt adherence from the musicnn tags (scoring/prompt_tags.py; docs/scoring.md "attribute: genre,
# mood, instruments, vocals") -----------------------------------------------------------------------
PROMPT_TAG_FLOOR = 0.01  # tag probabilities are clipped to [this, 1 - this] before log-odds: below 1 % a tag says "no"
PROMPT_PRIOR_STD_FLOOR = 1.0  # log-odds; tags that barely move on 21 real recordings are not over-read
PROMPT_RANK_SHARE = 0.5  # a term's credit: this share from its rank among its vocabulary's terms ...
PROMPT_Z_SCALE = 1.0  # ... the rest from Φ(evidence / this), evidence in z units of real music
#: The attribute signal is the weighted mean of its parts (a part not listed weighs 1). Mood weighs half: the
#: taggers have few mood tags, so its evidence is mostly loudness and tempo words (fitting mood beat the far
#: one on 76 % of corpus clips, genre 86 %, instruments 90 %, leave-one-recording-out priors).
ATTRIBUTE_PART_WEIGHTS: dict[str, float] = {"mood": 0.5}
# --- end of the prompt-adherence block -------------------------------------------------------------

# --- note evidence (scoring/note_stats.py, envelopes.py, repetition.py, partials.py, hiss.py; the
# melody/musicality blend; artifact_penalty's evidence multipliers; docs/scoring.md "Note evidence") -----
# Corpus figures in the comments: 21 real recordings, 10 s and 30 s excerpts (scripts/note_evidence_probe.py).
NOTE_MIN_NOTES = 8  # fewer notes: key clarity, step share, length variety and grid alignment not measured
NOTE_ONSET_MERGE_SECONDS = 0.05  # notes starting this close together share one onset (a struck chord)
NOTE_CHANGE_WINDOW_SECONDS = 0.25  # windows between which the sounding pitch-class set is compared
NOTE_GRID_DIVISIONS = (1, 2, 4)  # onset phases are read against the beat, its halves and its quarters
#: Envelopes: a band's frame pair counts when either frame is within this of the band's loudest frame.
ENVELOPE_ACTIVE_DB = 50.0
ENVELOPE_EPSILON_DB = 0.1  # dB per frame added to rise and fall before their log ratio (held tones ~0)
ENVELOPE_TAIL_SHARE = 0.02  # coarse asymmetry: mean of the top / bottom 2 % of level changes
ENVELOPE_FINE_N_FFT = 512  # fine envelopes: 23 ms Hann windows ...
ENVELOPE_FINE_HOP = 128  # ... every 5.8 ms
ENVELOPE_FINE_QUANTILE = 0.99  # fine asymmetry: 99th vs 1st percentile of level changes
#: Exact repeats are looked for from this lag to half the clip (shorter lags: the short-loop check).
REPEAT_MIN_LAG_SECONDS = 1.0
#: A frame repeats the frame one lag earlier when their mel spectra differ by less (mean |dB|, gain removed).
REPEAT_MATCH_DB = 1.0
REPEAT_RANGE_DB = 40.0  # bands compared: within this of the frame pair's strongest band
REPEAT_FLOOR_DB = 80.0  # mel cells this far under the loudest are floored
REPEAT_AUDIBLE_DB = 60.0  # frames whose loudest band is within this of the clip's loudest are counted
#: Shares at lags this far away are subtracted (a held tone matches at every lag): 13 and 18 frames.
REPEAT_AWAY_SECONDS = (0.3, 0.42)
REPEAT_CONFIRM_SECONDS = 1.0  # a share is confirmed at twice its lag when that leaves this much overlap
REPEAT_CANDIDATES = 8  # autocorrelation peaks checked (each ±1 frame) ...
REPEAT_VERIFIED = 4  # ... and the best raw shares among them made lag-specific
#: A spectral peak is a partial when it stands this far above the lowest level within PARTIAL_BASE_BINS
#: on either side, lies within PARTIAL_RANGE_DB of its frame's strongest bin and is the largest within
#: PARTIAL_MIN_SPACING_BINS (Hann side lobes are not partials).
PARTIAL_PROMINENCE_DB = 10.0
PARTIAL_BASE_BINS = 16  # ~170 Hz
PARTIAL_RANGE_DB = 50.0
PARTIAL_MIN_SPACING_BINS = 4
PARTIAL_MAX_FRAMES = 200  # evenly spaced loud frames read for the partial count
HISS_BAND_HZ = (5000.0, 10000.0)  # the high band whose steady floor is hiss
MELODY_NOTES_SHARE = 0.5  # melody = (1 - this) × the DSP pitch-track value + this × the notes' value
MUSICALITY_NOTES_HARMONIC_SHARE = 0.3  # share of the notes in musicality's harmonic half
# artifact-penalty multipliers (scoring/penalties/artifact.py): none at FREE, FLOOR from FULL on
REVERSAL_FREE = -0.1  # attack/decay asymmetry: corpus ≥ 0.08, procedural ≥ 0.08; reversals ≤ -0.04
REVERSAL_FULL = -0.4
REVERSAL_FLOOR = 0.45
REPEAT_SHARE_FREE = 0.25  # confirmed repeat share: corpus ≤ 0.17, procedural ≤ 0.2; 4 s loops ≥ 0.51
REPEAT_SHARE_FULL = 0.5
REPEAT_FLOOR = 0.3
PARTIALS_FREE = 6.0  # partials per loud frame: corpus music ≥ 14 (one plucked line ~9); sines, beeps 1
PARTIALS_FULL = 2.5  # (a sine arpeggio 2)
PURE_TONE_FLOOR = 0.4
NO_NOTES_COVERAGE_FREE = 0.25  # share of the time a note sounds: corpus ≥ 0.36; white/pink noise ≤ 0.17
NO_NOTES_COVERAGE_FULL = 0.1
NO_NOTES_FLOOR = 0.4
STATIC_CHANGES_FREE = 0.4  # pitch-class-set changes per s: corpus ≥ 0.7, procedural ≥ 0.5; held chord 0
STATIC_CHANGES_FULL = 0.1
STATIC_CHROMA_FREE = 0.06  # chroma variety: corpus music ≥ 0.10; held tones ≤ 0.002; noise 0.03-0.04
STATIC_CHROMA_FULL = 0.02
STATIC_FLOOR = 0.4
#: Hiss needs both: the high band's 10th-percentile level re the median full-band level (corpus music
#: ≤ -16.9 dB, procedural ≤ -19.7; with noise at 10 dB SNR ≥ -12.4) ...
HISS_FLOOR_FREE_DB = -18.0
HISS_FLOOR_FULL_DB = -13.0
#: ... and its level range (corpus music ≥ 9.4 dB; with noise ≤ 7.0, white or pink noise alone ~0.7).
HISS_SPREAD_FREE_DB = 9.0
HISS_SPREAD_FULL_DB = 5.0
HISS_FLOOR = 0.45
# --- end of the note-evidence block ---------------------------------------------------------------
