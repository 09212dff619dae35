#!/usr/bin/env bash
# Installs what the service and its tests need on a fresh machine; safe to run again.
# Sourced by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# -e so the console command `minter` runs this checkout.
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test]" 2> >(grep -v "^WARNING: Location" >&2)

# PostgreSQL 15 (initdb, pg_ctl) must be on PATH; Redis is installed from Debian when missing.
.venv/bin/python -c "from devtools.local_services import ensure_redis_server as e; e()"

# Node packages of the tests that run official JS clients, from their lockfiles.
if command -v npm >/dev/null 2>&1; then
  for dir in tests/js/*/; do
    if [ -f "$dir/package-lock.json" ] && [ ! -d "$dir/node_modules" -o "$dir/package-lock.json" -nt "$dir/node_modules" ]; then
      npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
    fi
  done
fi
