# Shared by scripts/demo.sh and scripts/test.sh: create or reuse ./.venv with Python 3.11.
# Usage: source scripts/_venv.sh EXTRAS   (EXTRAS: "" for the minimal install, or e.g. "all")
set -euo pipefail
_extras="${1:-}"
PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for cand in python3.11 python3 python; do
    if command -v "$cand" >/dev/null 2>&1; then PYTHON_BIN="$cand"; break; fi
  done
fi
"$PYTHON_BIN" - <<'PY' || { echo "TuneForge needs Python >= 3.10 (3.11 recommended)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY
if [ ! -x .venv/bin/python ]; then
  "$PYTHON_BIN" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
spec="."
if [ -n "$_extras" ]; then spec=".[${_extras}]"; fi
# torch is pinned to the local 2.13.0 CPU wheel: any other version pulls gigabytes of CUDA packages.
if [ -n "$_extras" ]; then
  pip install -q "torch==2.13.0" -e "$spec"
else
  pip install -q -e "$spec"
fi
# Trained scoring models that ship inside these wheels, installed without their obsolete
# dependency pins (musicnn: numpy<1.17; basic-pitch: TensorFlow); only their weight files are read.
pip install -q --no-deps "musicnn==0.1.0" "basic-pitch==0.4.0"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline
# numba's kernel cache is chosen by TuneForge itself (scoring/jit, docs/jit.md): the same from any
# shell, verified before use, one private copy per process. Warm it here, once per install, so the
# demo, the tests and the first `tuneforge score` do not compile librosa's kernels (~40 s).
# Kernels an older setup cached beside librosa's sources were shared by every process: remove them.
find .venv/lib/python*/site-packages/librosa -name '*.nb[ic]' -delete 2>/dev/null || true
python -m scoring.jit warm || echo "warning: the audio-analysis JIT cache could not be warmed; the first analysis compiles it" >&2
