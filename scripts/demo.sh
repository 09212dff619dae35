#!/usr/bin/env bash
# The service's main job on embedded defaults: local PostgreSQL, Redis and Solana validator,
# migrations, workers and the HTTP API; a batch of demo tickets minted through the API and shown;
# then the service stays up (URL, dev token and a curl line printed) until Ctrl-C.
# `--once` stops after the table instead. Extra arguments go to the demo (scripts/demo.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec .venv/bin/python -m scripts.demo "$@"
