"""The monitoring-store reporter process: a Dramatiq fork beside the workers that writes every
series to the ``metrics`` table on an interval (:func:`actors.workflows.report.report_once`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import structlog
from prometheus_client import CollectorRegistry, Metric, multiprocess

from actors.entrypoints.services import payer_pool
from actors.infra import config as cfg
from actors.infra import metrics
from actors.infra.bootstrap import build_services, store_uow_factory
from actors.infra.logs import configure_logging
from actors.workflows.report import report_once

log = structlog.get_logger(__name__)


def multiprocess_collector() -> Callable[[], Iterable[Metric]]:
    """Every series summed over the worker processes (prometheus-client multiprocess mode)."""

    def collect():
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg.collect()

    return collect


def run_reporter() -> None:
    """Dramatiq fork entry point: report until SIGTERM."""

    settings = cfg.load_settings(require=cfg.DATABASE + ("SOLANA_RPC_URL", cfg.PAYER_VARIABLE))
    configure_logging(fmt=settings.logging.format, level=settings.logging.level)
    interval = settings.minting.metrics_interval
    services = build_services(settings, broker=False)  # reads only: no events to publish
    pool = payer_pool(services)  # every payer's balance and the total, per interval
    store = store_uow_factory(services)
    # PROMETHEUS_MULTIPROC_DIR and MINTER_WORKER_STARTED are process plumbing that `minter
    # worker` sets for its children, not operator settings (so not in the settings model)
    collect = multiprocess_collector() if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else None
    collect = collect or metrics.registry().collect
    boot = os.environ.get("MINTER_WORKER_STARTED")
    since = datetime.fromtimestamp(float(boot), tz=UTC) if boot else None
    while True:
        started = time.monotonic()
        try:
            written, since = report_once(
                uow_factory=services.uow_factory,
                store_uow_factory=store,
                chain=services.chain,
                payer=pool,
                collect=collect,
                since=since,
            )
            log.debug("metrics_reported", rows=written)
        except Exception as exc:  # Postgres restarting: the next interval tries again
            log.warning("metrics_report_failed", error=type(exc).__name__)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
