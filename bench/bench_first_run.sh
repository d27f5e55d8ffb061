#!/usr/bin/env bash
# What a new user waits for after the install: wall time and peak memory of the first and second
# `tuneforge score` in fresh processes, `tuneforge localnet` with its defaults, and optionally the
# demo and the test suite, each printed with the machine and its load (README timings come from here).
#
#   bash bench/bench_first_run.sh            # score x2 + localnet (a few minutes)
#   bash bench/bench_first_run.sh --all      # also scripts/demo.sh and scripts/test.sh (install included)
#
# Runs from the repository root with ./.venv in place (scripts/demo.sh or scripts/test.sh make it).
set -euo pipefail
cd "$(dirname "$0")/.."
tf=.venv/bin/tuneforge
[ -x "$tf" ] || { echo "no $tf: run bash scripts/demo.sh first" >&2; exit 1; }
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 WANDB_MODE=offline OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

machine() {
  echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# measure LABEL CMD...: wall seconds and peak RSS of CMD (its output goes to $work/LABEL.log)
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/$label.log" 2>&1 || { echo "$label: failed (log: $work/$label.log)"; tail -5 "$work/$label.log"; return 1; }
  read -r wall rss <"$work/time"
  printf '%-28s %8.1f s  %7.0f MB peak RSS   (load %s)\n' "$label" "$wall" "$((rss / 1024))" "$(cut -d' ' -f1 /proc/loadavg)"
}

machine
"$tf" --log-level WARNING generate --prompt "calm piano in C major" --duration 10 --seed 1 --out "$work/clip.wav" >/dev/null
measure "tuneforge score (1st)" "$tf" score "$work/clip.wav" --prompt "calm piano in C major" --duration 10 --json
measure "tuneforge score (2nd)" "$tf" score "$work/clip.wav" --prompt "calm piano in C major" --duration 10 --json
measure "tuneforge localnet" "$tf" localnet --out "$work/localnet"
if [ "${1:-}" = "--all" ]; then
  measure "scripts/demo.sh" bash scripts/demo.sh --out "$work/demo"
  measure "scripts/test.sh" bash scripts/test.sh -q
fi
