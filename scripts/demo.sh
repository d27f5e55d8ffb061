#!/usr/bin/env bash
# Set up ./.venv (minimal install: no torch) and run a whole TuneForge subnet on this machine:
# a local chain, miners on real axons on 127.0.0.1, a validator scoring rounds and setting weights.
# Extra arguments go to `tuneforge localnet` (e.g. --miners 8 --rounds 5 --serve).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh ""
exec tuneforge localnet "$@"
