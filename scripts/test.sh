#!/usr/bin/env bash
# Set up ./.venv (all extras, torch pinned to 2.13.0) and run ruff and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh all
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ruff check .
pytest -q -p no:cacheprovider "$@"
