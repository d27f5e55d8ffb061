#!/usr/bin/env bash
# Download the neural models TuneForge can use, for operators (never run by tests or at run time).
#
#   scripts/download_models.sh [TARGET ...] [--dir DIR]
#
# TARGET: musicgen-small | musicgen-medium | musicgen-large | musicgen-melody |
#         musicgen-stereo-small | ace-step | clap | mert | whisper | aesthetics | all
#         (default: musicgen-small)
# DIR:    ${TUNEFORGE_MODELS_DIR:-$HOME/.cache/tuneforge/models}
#
# Each model is saved as a plain directory DIR/<name> (musicgen-small, clap, mert, whisper, ...),
# which is where the miner and validator look for it (--generation.model facebook/musicgen-small
# resolves to DIR/musicgen-small). aesthetics (facebook/audiobox-aesthetics, CC-BY-4.0) goes to
# DIR/audiobox-aesthetics: config.json + model.safetensors when the hub repo has them, else its
# checkpoint.pt. ace-step (ACE-Step/acestep-v15-xl-turbo-diffusers: the diffusers-format ACE-Step
# 1.5 XL turbo, ~5 B parameters) goes to DIR/acestep-v15-xl-turbo-diffusers, where --generation.backend
# ace_step finds it by default. Uses huggingface_hub.snapshot_download; set HF_TOKEN if needed.
set -euo pipefail

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
}

repo_for() {
    case "$1" in
        musicgen-small) echo "facebook/musicgen-small" ;;
        musicgen-medium) echo "facebook/musicgen-medium" ;;
        musicgen-large) echo "facebook/musicgen-large" ;;
        musicgen-melody) echo "facebook/musicgen-melody" ;;
        musicgen-stereo-small) echo "facebook/musicgen-stereo-small" ;;
        ace-step) echo "ACE-Step/acestep-v15-xl-turbo-diffusers" ;;
        clap) echo "laion/larger_clap_music" ;;
        mert) echo "m-a-p/MERT-v1-95M" ;;
        whisper) echo "openai/whisper-small" ;;
        aesthetics) echo "facebook/audiobox-aesthetics" ;;
        *) return 1 ;;
    esac
}

dir_for() {
    case "$1" in
        aesthetics) echo "audiobox-aesthetics" ;;  # the directory scoring.models.load_models reads
        ace-step) echo "acestep-v15-xl-turbo-diffusers" ;;  # the hub id's name: the ace_step backend's default
        *) echo "$1" ;;
    esac
}

ALL_TARGETS=(musicgen-small musicgen-medium musicgen-large musicgen-melody musicgen-stereo-small ace-step clap mert whisper aesthetics)
DIR="${TUNEFORGE_MODELS_DIR:-$HOME/.cache/tuneforge/models}"
TARGETS=()

while [[ $# -gt 0 ]]; do
    case "$1" in
        --dir)
            [[ $# -ge 2 ]] || { echo "download_models.sh: --dir needs a value" >&2; exit 2; }
            DIR="$2"; shift 2 ;;
        --dir=*) DIR="${1#--dir=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        all) TARGETS+=("${ALL_TARGETS[@]}"); shift ;;
        *)
            if ! repo_for "$1" >/dev/null; then
                echo "download_models.sh: unknown target '$1' (${ALL_TARGETS[*]} all)" >&2
                exit 2
            fi
            TARGETS+=("$1"); shift ;;
    esac
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(musicgen-small)

PYTHON="${PYTHON:-python3}"
if [[ -x "$(dirname "$0")/../.venv/bin/python" ]]; then
    PYTHON="$(dirname "$0")/../.venv/bin/python"
fi

mkdir -p "$DIR"
for target in "${TARGETS[@]}"; do
    repo="$(repo_for "$target")"
    dest="$DIR/$(dir_for "$target")"
    echo "==> $repo -> $dest"
    HF_HUB_OFFLINE=0 "$PYTHON" -c '
import sys
from huggingface_hub import HfApi, snapshot_download
repo, dest = sys.argv[1], sys.argv[2]
files = HfApi().list_repo_files(repo)
if repo == "facebook/audiobox-aesthetics":
    # One layout only (scoring/models/aesthetics.py reads either): the hub-mixin files when present.
    if "config.json" in files and "model.safetensors" in files:
        allow = ["config.json", "model.safetensors", "README.md"]
    elif "checkpoint.pt" in files:
        allow = ["checkpoint.pt", "README.md"]
    else:
        sys.exit(f"{repo} has neither config.json + model.safetensors nor checkpoint.pt: {files}")
    path = snapshot_download(repo_id=repo, local_dir=dest, allow_patterns=allow)
    print(f"saved {repo} ({', '.join(a for a in allow if a in files)}) to {path}")
    sys.exit(0)
# Weights in one format only: safetensors when the repo has them, else PyTorch .bin.
ignore = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "*.tflite", "*.mlmodel"]
if any(f.endswith(".safetensors") for f in files):
    ignore.append("*.bin")
path = snapshot_download(repo_id=repo, local_dir=dest, ignore_patterns=ignore)
print(f"saved {repo} to {path}")
' "$repo" "$dest"
done
echo "done: models in $DIR"
