"""Prometheus series of the service: ``solana_*`` for chain work, ``minting_*`` for the pipeline.

One registry per process, built on first use (never at import). Worker processes run in
prometheus-client's multiprocess mode (``minter worker`` sets ``PROMETHEUS_MULTIPROC_DIR``), so
the workers' endpoint and the monitoring-store reporter see the sum over every process.

Figures the ledger knows exactly (mints by result, latency, rows by status) are set from the
ledger by the reporter, so a killed worker loses none of them; the rest are counted where they
happen (sends, rebroadcasts, RPC calls and faults).
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_lock = threading.Lock()
_registry: CollectorRegistry | None = None
_series: dict[str, object] = {}

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
LEDGER = "mostrecent"  # multiprocess mode of gauges set from the ledger or the chain


def _declare(reg: CollectorRegistry) -> dict[str, object]:
    return {
        "mints": Gauge(
            "minting_mints",
            "Mints resolved per the ledger, by result and standard",
            ["result", "standard"],
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "latency": Histogram(
            "minting_enqueue_to_completed_seconds",
            "Seconds from intent to completed",
            ["standard"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        ),
        "rows": Gauge(
            "minting_ledger_rows",
            "Ledger rows by table and status",
            ["table", "status"],
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "enqueued": Counter("minting_enqueued", "Intents recorded", ["kind"], registry=reg),
        "sends": Counter("solana_sends", "Transactions sent", ["kind"], registry=reg),
        "rebroadcasts": Counter(
            "solana_rebroadcasts", "Signed bytes sent again", ["kind"], registry=reg
        ),
        "rpc_latency": Histogram(
            "solana_rpc_latency_seconds",
            "RPC call latency, retries included",
            ["method"],
            buckets=RPC_BUCKETS,
            registry=reg,
        ),
        "rpc_errors": Counter(
            "solana_rpc_errors", "RPC faults by method and kind", ["method", "kind"], registry=reg
        ),
        "balance": Gauge(
            "solana_payer_balance_lamports",
            "Balance of the fee-payer pool, every payer's lamports summed",
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "payer_balance": Gauge(
            "solana_payer_lamports",
            "Balance of one fee payer of the pool",
            ["payer"],
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "payer_funded": Gauge(
            "minting_payer_funded",
            "1 while a fee payer holds at least MINT_PAYER_MIN_LAMPORTS and pays mints, 0 while "
            "it is skipped",
            ["payer"],
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "block_height": Gauge(
            "solana_block_height", "Cluster block height", registry=reg, multiprocess_mode=LEDGER
        ),
        "rpc_endpoint": Gauge(
            "solana_rpc_endpoint_healthy",
            "1 while an RPC endpoint of SOLANA_RPC_URLS takes reads and sends, 0 while demoted",
            ["endpoint"],
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "send_rate": Gauge(
            "minting_send_rate",
            "The adaptive send rate shared by every worker, sends per second",
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "webhook_deliveries": Counter(
            "minting_webhook_deliveries",
            "Webhook attempts by result (delivered, retry, failed: the last try failed)",
            ["result"],
            registry=reg,
        ),
        "webhook_latency": Histogram(
            "minting_webhook_delivery_seconds",
            "Seconds from a webhook request's connect to its answer (or its failure)",
            buckets=RPC_BUCKETS[3:] + (15, 30),
            registry=reg,
        ),
        "webhook_oldest": Gauge(
            "minting_webhook_oldest_undelivered_seconds",
            "Age of the oldest event still owed to an active endpoint",
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
        "webhook_disabled": Gauge(
            "minting_webhook_endpoints_disabled",
            "Endpoints disabled after failing for too long",
            registry=reg,
            multiprocess_mode=LEDGER,
        ),
    }


def registry() -> CollectorRegistry:
    """The process's registry with every series declared."""
    global _registry
    with _lock:
        if _registry is None:
            reg = CollectorRegistry()
            _series.update(_declare(reg))
            for kind in ("mint", "transfer"):  # shown at 0 before the first one happens
                _series["sends"].labels(kind)
                _series["rebroadcasts"].labels(kind)
            for result in ("delivered", "retry", "failed"):
                _series["webhook_deliveries"].labels(result)
            _registry = reg
        return _registry


def series(name: str):
    """One declared series by short name (``mints``, ``sends``, ``rpc_errors`` …)."""
    registry()
    return _series[name]


# hooks the workflows and the chain client call ---------------------------------------------------
def sent(kind: str) -> None:
    series("sends").labels(kind).inc()


def rebroadcast(kind: str) -> None:
    series("rebroadcasts").labels(kind).inc()


def enqueued(kind: str, n: int = 1) -> None:
    if n:
        series("enqueued").labels(kind).inc(n)


def rpc_call(method: str, seconds: float) -> None:
    series("rpc_latency").labels(method).observe(seconds)


def rpc_fault(method: str, kind: str) -> None:
    series("rpc_errors").labels(method, kind).inc()


def webhook_attempt(result: str, seconds: float) -> None:
    series("webhook_deliveries").labels(result).inc()
    series("webhook_latency").observe(seconds)


def endpoint_label(index: int, url: str) -> str:
    """``0:host:port``: never the path or query, where providers put API keys."""
    parts = urlsplit(url)
    return f"{index}:{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def payer_balance(payer: str, lamports: int, funded: bool) -> None:
    """One payer of the pool: its balance, and whether it is funded (takes mints)."""
    series("payer_balance").labels(payer).set(lamports)
    series("payer_funded").labels(payer).set(1 if funded else 0)


def rpc_endpoint(label: str, healthy: bool) -> None:
    series("rpc_endpoint").labels(label).set(1 if healthy else 0)
