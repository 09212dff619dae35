#!/usr/bin/env bash
# Ledger-against-chain reconciliation for cron, e.g. every 15 minutes:
#   */15 * * * *  cd /srv/ticket-minter && scripts/reconcile_cron.sh
# Settings come from the environment as for every `minter` command (DATABASE_URL,
# SOLANA_RPC_URL, and REDIS_URL with RECONCILE_FIX=1). Each run writes its JSON report to
# $RECONCILE_REPORT_DIR and exits as `minter reconcile` does, saying which case it was:
#   0 AGREE, 1 DIFFER, 2 USAGE (bad flags or settings), 3 UNREACHABLE (PostgreSQL, Redis or the
#   RPC down: nothing was checked), 4 ERROR (an unexpected failure: see the report's .err file).
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
# shellcheck disable=SC2086  # MINTER may be "python -m actors.entrypoints.cli"
$minter reconcile "${flags[@]}" >"$out.tmp" 2>"$out.err"
code=$?
set -e
if [[ $code -le 1 ]]; then  # a report was written; keep stderr only when it says something
  mv "$out.tmp" "$out"
  [[ -s "$out.err" ]] || rm -f "$out.err"
else  # no report: the reason is on stderr
  rm -f "$out.tmp"
  out="$out.err"
fi
why="$(tail -n 1 "$out" 2>/dev/null || true)"
case $code in
  0) echo "reconcile: AGREE: ledger and chain agree ($out)" ;;
  1) echo "reconcile: DIFFER: ledger and chain differ, see $out" >&2 ;;
  2) echo "reconcile: USAGE: bad flags or settings: $why" >&2 ;;
  3) echo "reconcile: UNREACHABLE: a dependency is down, nothing was checked: $why" >&2 ;;
  *) echo "reconcile: ERROR: failed with exit $code, see $out" >&2 ;;
esac
exit $code
