#!/usr/bin/env bash
# Set up ./.venv (all extras, torch pinned to 2.13.0) and run ruff and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# PostgreSQL and Redis for the tests that run the API over real servers (throwaway instances on free
# loopback ports, started by the tests themselves: tuneforge/localservices.py). Installed when missing.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  else
    echo "warning: PostgreSQL/Redis missing and not root: their tests are skipped (apt-get install postgresql redis-server)" >&2
  fi
fi
# Headless Chromium for the dashboard's browser test (tests/test_dashboard_browser.py). Installed when missing.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "warning: chromium missing and not root: the dashboard's browser test is skipped (apt-get install chromium)" >&2
  fi
fi
source scripts/_venv.sh all
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
ruff check .
pytest -q -p no:cacheprovider "$@"
