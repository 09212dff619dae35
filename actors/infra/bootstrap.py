"""The one place that builds engines, clients and the broker from :class:`Settings`.

Nothing is built at import time anywhere else; entry points call :func:`build_services` and
hand the pieces to workflows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.infra import metrics
from actors.infra.broker import TRANSFER_QUEUE, make_broker, notifier
from actors.infra.config import Settings
from actors.infra.logs import register_settings_secrets
from ledger.db import make_engine, make_session_factory
from ledger.unit_of_work import UnitOfWork
from minter.rpc import ChainClient, RetryPolicy

DEFAULT_SEND_RATE = 10  # sends per second across all workers (the legacy default)
DEFAULT_RPC_TIMEOUT = 10.0


@dataclass(frozen=True)
class Tuning:
    """Knobs an operator or a test may turn; the defaults suit one payer on a public cluster."""

    send_rate: int = DEFAULT_SEND_RATE
    rpc_timeout: float = DEFAULT_RPC_TIMEOUT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # mints and transfers simulate before they are signed, so preflight would run them twice
    skip_preflight: bool = True
    compute_unit_price: int | None = None
    db_pool_size: int = 5
    blockhash_ttl: float = 0.2
    pending_age: float = 30.0  # seconds before the sweeper re-enqueues a pending row
    confirm_interval: float = 0.25  # seconds between confirmer passes
    sweep_interval: float = 5.0
    # signed transactions per row before the last one expiring unseen fails it (the confirmer)
    max_attempts: int = 20  # actors.workflows.mints.DEFAULT_MAX_ATTEMPTS


@dataclass
class Services:
    settings: Settings
    tuning: Tuning
    engine: Any = None
    uow_factory: Any = None
    chain: ChainClient | None = None
    broker: Any = None
    notify: Any = None  # wakes mint workers for ticket ids (Redis messages)
    notify_transfers: Any = None  # wakes transfer workers for transfer ids

    def close(self) -> None:
        if self.chain is not None:
            self.chain.close()
        if self.engine is not None:
            self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    tuning: Tuning | None = None,
    database: bool = True,
    chain: bool = True,
    broker: bool = True,
) -> Services:
    """Build what a command needs (the worker's entry point declares its actors on ``broker``)."""

    register_settings_secrets(settings)  # the last guard: cut from any log line
    tuning = tuning or Tuning()
    services = Services(settings=settings, tuning=tuning)
    if database:
        services.engine = make_engine(settings.database_url, pool_size=tuning.db_pool_size)
        session_factory = make_session_factory(services.engine)
        services.uow_factory = lambda: UnitOfWork(session_factory)
    if chain:
        services.chain = ChainClient(
            settings.rpc_url,
            commitment=settings.commitment,
            timeout=tuning.rpc_timeout,
            retry=tuning.retry,
            skip_preflight=tuning.skip_preflight,
            blockhash_ttl=tuning.blockhash_ttl,
            on_fault=metrics.rpc_fault,
            on_call=metrics.rpc_call,
        )
    if broker:
        services.broker = make_broker(settings.redis_url)
        services.notify = notifier(services.broker)
        services.notify_transfers = notifier(
            services.broker, queue=TRANSFER_QUEUE, actor="transfer_ticket"
        )
    return services


def store_uow_factory(services: Services):
    """Units of work on the monitoring store: its own engine when MONITORING_DATABASE_URL
    names another database, else the ledger's."""
    url = services.settings.monitoring_database_url
    if not url or url == services.settings.database_url:
        return services.uow_factory
    engine = make_engine(url, pool_size=1)
    session_factory = make_session_factory(engine)
    return lambda: UnitOfWork(session_factory)
