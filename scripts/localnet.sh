#!/usr/bin/env bash
# A local Solana validator on PORT (default 8899): solana-test-validator when it is installed,
# otherwise the embedded one (LiteSVM behind JSON-RPC). Extra arguments go to the embedded one.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-8899}"
if command -v solana-test-validator >/dev/null 2>&1; then
  args=(--rpc-port "$PORT" --reset --quiet)
  if [ -n "${MPL_TOKEN_METADATA_SO:-}" ]; then
    args+=(--bpf-program metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s "$MPL_TOKEN_METADATA_SO")
  fi
  if [ -n "${MPL_CORE_SO:-}" ]; then
    args+=(--bpf-program CoREENxT6tW1HoK8ypY1SxRMZTcVPm7R94rH4PZNhX7d "$MPL_CORE_SO")
  fi
  exec solana-test-validator "${args[@]}"
fi
args=(--port "$PORT")
if [ -n "${MPL_TOKEN_METADATA_SO:-}" ]; then
  args+=(--program "metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s=$MPL_TOKEN_METADATA_SO")
fi
if [ -n "${MPL_CORE_SO:-}" ]; then
  args+=(--program "CoREENxT6tW1HoK8ypY1SxRMZTcVPm7R94rH4PZNhX7d=$MPL_CORE_SO")
fi
exec "$ROOT/.venv/bin/python" -m minter.localnet "${args[@]}" "$@"
