"""The monitoring-store reporter: the Prometheus figures, one batched INSERT per interval.

Runs as a Dramatiq fork process beside the workers (one per ``minter worker``): every
``interval`` it sets the figures the ledger and the chain know (mints by result, rows by status,
latency of newly completed mints, each fee payer's balance and their total, block height),
reads every series summed over the worker processes, and writes them to the ``metrics`` table
with the legacy columns (metric_name, service_name ``minting-worker``, value, metric_type,
labels, timestamp).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import structlog
from prometheus_client import Metric

from actors.infra import metrics
from actors.workflows.payers import PayerPool
from actors.workflows.ports import Chain, UnitOfWork, UnitOfWorkFactory
from ledger.models import Status

SERVICE_NAME = "minting-worker"
DEFAULT_INTERVAL = 15.0  # seconds between reports (MINT_METRICS_INTERVAL)
_SKIPPED_SUFFIXES = ("_created", "_bucket")  # bucket counts make poor dashboard rows
QUANTILES = (0.5, 0.95, 0.99)

log = structlog.get_logger(__name__)


def refresh_from_ledger(uow: UnitOfWork, since: datetime | None) -> datetime | None:
    """Set the ledger-derived series; observe latencies of mints completed after ``since``."""
    mints: dict[str, int] = {}
    for (status, standard), n in uow.mints.count_by_status_and_standard().items():
        mints[status] = mints.get(status, 0) + n
        if status in (Status.COMPLETED, Status.FAILED):
            metrics.series("mints").labels(status, standard).set(n)
    for table, by_status in (
        ("nft_mints", mints),
        ("nft_transfers", uow.transfers.count_by_status()),
        ("nft_collections", uow.collections.count_by_status()),
    ):
        for status in Status:
            metrics.series("rows").labels(table, status.value).set(by_status.get(status, 0))
    metrics.series("webhook_oldest").set(uow.webhooks.oldest_undelivered())
    disabled = sum(e.status == "disabled" for e in uow.webhooks.endpoints())
    metrics.series("webhook_disabled").set(disabled)
    if since is None:
        return uow.mints.db_now()
    latest = since
    for standard, seconds, completed_at in uow.mints.completed_since(since):
        metrics.series("latency").labels(standard).observe(seconds)
        latest = max(latest, completed_at)
    return latest


def refresh_from_chain(chain: Chain, payer) -> None:
    """The pool's total balance, each payer's (``payer``: a :class:`PayerPool`, whose reads set
    the per-payer gauges, or one payer's public key) and the block height."""
    if isinstance(payer, PayerPool):
        total = sum(b.lamports for b in payer.balances(fresh=True))
    else:
        total = chain.balance(payer)
    metrics.series("balance").set(total)
    metrics.series("block_height").set(chain.block_height())


def rows_from(families: Iterable[Metric]) -> list[dict]:
    """Flatten Prometheus families into ``metrics`` rows (histograms: count, sum, quantiles)."""
    rows = []
    for family in families:
        buckets: dict[tuple, list[tuple[float, float]]] = {}
        for sample in family.samples:
            labels = dict(sample.labels)
            if sample.name.endswith("_bucket"):
                le = float(labels.pop("le"))
                buckets.setdefault(tuple(sorted(labels.items())), []).append((le, sample.value))
            if sample.name.endswith(_SKIPPED_SUFFIXES):
                continue
            rows.append(_row(sample.name, sample.value, family.type, labels))
        for key, points in buckets.items():
            for q in QUANTILES:
                value = _quantile(sorted(points), q)
                if value is not None:
                    name = f"{family.name}_p{int(q * 100)}"
                    rows.append(_row(name, value, "gauge", dict(key)))
    return rows


def _row(name: str, value: float, kind: str, labels: dict) -> dict:
    return {
        "metric_name": name,
        "service_name": SERVICE_NAME,
        "value": float(value),
        "metric_type": kind,
        "labels": labels,
    }


def _quantile(points: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the bucket holding the q-th observation (cumulative counts)."""
    total = points[-1][1] if points else 0
    if not total:
        return None
    for le, cumulative in points:
        if cumulative >= q * total:
            return le if le != float("inf") else points[-2][0] if len(points) > 1 else None
    return None


def report_once(
    *,
    uow_factory: UnitOfWorkFactory,
    store_uow_factory: UnitOfWorkFactory,
    chain: Chain,
    payer,
    collect: Callable[[], Iterable[Metric]],
    since: datetime | None,
) -> tuple[int, datetime | None]:
    """One interval: refresh, collect, one INSERT; returns (rows written, new watermark)."""
    with uow_factory() as uow:
        since = refresh_from_ledger(uow, since)
    try:
        refresh_from_chain(chain, payer)
    except Exception as exc:  # the cluster is down: report the rest, say so in the log
        log.warning("metrics_chain_unavailable", error=type(exc).__name__)
    rows = rows_from(collect())
    with store_uow_factory() as uow:
        written = uow.metrics.insert_batch(rows)
        uow.commit()
    return written, since
