"""TuneForge scoring: a clip and a request in, a ``ScoreBreakdown`` out.

A standalone package with no bittensor import, so miners can self-evaluate with the same code
validators run.
"""

# Before any module imports librosa: choose (and verify) numba's kernel cache for this process.
from scoring import jit as _jit  # noqa: E402

_jit.select()
