#!/usr/bin/env bash
# Ledger-against-chain reconciliation for cron, e.g. every 15 minutes:
#   */15 * * * *  cd /srv/ticket-minter && scripts/reconcile_cron.sh
# Settings come from the environment as for every `minter` command (DATABASE_URL,
# SOLANA_RPC_URL, and REDIS_URL with RECONCILE_FIX=1). Each run writes its JSON report to
# $RECONCILE_REPORT_DIR and exits as `minter reconcile` does: 0 agree, 1 differ, 2 bad setup.
# Overlapping runs are skipped (flock), so a slow run never piles up behind itself.
set -euo pipefail

report_dir="${RECONCILE_REPORT_DIR:-./reconcile-reports}"
minter="${MINTER:-minter}"
flags=(--json)
[[ "${RECONCILE_FIX:-0}" == "1" ]] && flags+=(--fix)
[[ -n "${RECONCILE_STUCK_AFTER:-}" ]] && flags+=(--stuck-after "$RECONCILE_STUCK_AFTER")

mkdir -p "$report_dir"
exec 9>"$report_dir/.lock"
if ! flock -n 9; then
  echo "reconcile: previous run still going; skipped" >&2
  exit 0
fi

out="$report_dir/reconcile-$(date -u +%Y%m%dT%H%M%SZ).json"
set +e
# shellcheck disable=SC2086  # MINTER may be "python -m actors.cli"
$minter reconcile "${flags[@]}" >"$out.tmp"
code=$?
set -e
mv "$out.tmp" "$out"
case $code in
  0) echo "reconcile: ledger and chain agree ($out)" ;;
  1) echo "reconcile: ledger and chain DIFFER, see $out" >&2 ;;
  *) echo "reconcile: failed with exit $code, see $out" >&2 ;;
esac
exit $code
