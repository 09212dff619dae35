#!/usr/bin/env bash
# The service's main job on embedded defaults: local PostgreSQL, Redis and Solana validator,
# migrations, workers, a batch of demo tickets minted and shown. Extra arguments go to the demo.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/python -m scripts.demo "$@"
