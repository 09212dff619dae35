"""Prometheus series of the service: ``solana_*`` for chain work, ``minting_*`` for the pipeline.

One registry per process, built on first use (never at import). The monitoring-store reporter
reads the same registry, so both places show the same figures.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_lock = threading.Lock()
_registry: CollectorRegistry | None = None
_series: dict[str, object] = {}

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)


def registry() -> CollectorRegistry:
    """The process's registry with every series declared."""
    global _registry
    with _lock:
        if _registry is None:
            reg = CollectorRegistry()
            _series.update(
                mints=Counter(
                    "minting_mints",
                    "Mints resolved, by result and standard",
                    ["result", "standard"],
                    registry=reg,
                ),
                enqueued=Counter(
                    "minting_enqueued", "Mint intents recorded", ["standard"], registry=reg
                ),
                latency=Histogram(
                    "minting_enqueue_to_completed_seconds",
                    "Seconds from intent to completed",
                    ["standard"],
                    buckets=LATENCY_BUCKETS,
                    registry=reg,
                ),
                rows=Gauge(
                    "minting_ledger_rows",
                    "Ledger rows by table and status",
                    ["table", "status"],
                    registry=reg,
                ),
                sends=Counter("solana_sends", "Transactions sent", ["kind"], registry=reg),
                rebroadcasts=Counter(
                    "solana_rebroadcasts", "Signed bytes sent again", registry=reg
                ),
                rpc_latency=Histogram(
                    "solana_rpc_latency_seconds", "RPC call latency", ["method"], registry=reg
                ),
                rpc_errors=Counter(
                    "solana_rpc_errors",
                    "RPC faults by method and kind",
                    ["method", "kind"],
                    registry=reg,
                ),
                balance=Gauge("solana_payer_balance_lamports", "Payer balance", registry=reg),
                block_height=Gauge("solana_block_height", "Cluster block height", registry=reg),
            )
            _registry = reg
        return _registry


def series(name: str):
    """One declared series by short name (``mints``, ``sends``, ``rpc_errors`` …)."""
    registry()
    return _series[name]
