#!/usr/bin/env bash
# Installs everything, lints, and runs the whole test suite against real PostgreSQL, Redis and
# the embedded Solana validator. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
.venv/bin/ruff check .
.venv/bin/lint-imports  # the layering of DESIGN.md: pyproject.toml, [tool.importlinter]
exec .venv/bin/pytest "$@"
