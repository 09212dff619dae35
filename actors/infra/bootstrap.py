"""The one place that builds engines, clients and the broker from the one :class:`Settings`.

Nothing is built at import time anywhere else; entry points call :func:`build_services` and
hand the pieces to workflows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.infra import metrics
from actors.infra.broker import (
    COLLECTION_QUEUE,
    DEFAULT_MINT_BATCH,
    OPERATION_QUEUE,
    TRANSFER_QUEUE,
    make_broker,
    notifier,
    webhook_notifier,
)
from actors.infra.config import Settings
from actors.infra.logs import register_settings_secrets
from actors.infra.sendrate import AdaptiveRate
from ledger.db import make_engine, make_session_factory
from ledger.unit_of_work import UnitOfWork
from minter.failover import FailoverChain
from minter.rpc import ChainClient


@dataclass
class Services:
    """What a command built from its settings; :meth:`close` releases the engine and client."""

    settings: Settings
    engine: Any = None
    uow_factory: Any = None
    chain: ChainClient | None = None
    broker: Any = None
    notify: Any = None  # wakes mint workers for ticket ids (Redis messages)
    notify_transfers: Any = None  # wakes transfer workers for transfer ids
    notify_collections: Any = None  # wakes collection workers for event ids
    notify_operations: Any = None  # wakes lifecycle workers for operation ids
    notify_webhooks: Any = None  # wakes webhook deliverers for (dispatch id, endpoint id)
    send_rate: AdaptiveRate | None = None  # the shared adaptive send rate (in Redis)
    # the unit of work's hook that writes webhook events beside terminal changes: set by the
    # entry points (actors.entrypoints.services); without it such a commit raises
    publish: Any = None

    def close(self) -> None:
        if self.chain is not None:
            self.chain.close()
        if self.engine is not None:
            self.engine.dispose()


def build_services(
    settings: Settings,
    *,
    database: bool = True,
    chain: bool = True,
    broker: bool = True,
) -> Services:
    """Build what a command needs (the worker's entry point declares its actors on ``broker``)."""

    register_settings_secrets(settings)  # the last guard: cut from any log line
    services = Services(settings=settings)
    if database:
        services.engine = make_engine(settings.database.url, pool_size=settings.database.pool_size)
        session_factory = make_session_factory(services.engine)
        services.uow_factory = lambda: UnitOfWork(session_factory, publish=services.publish)
    if chain:
        # the send rate (built with the broker, below) hears of every 429 and "node behind"
        services.chain = _chain(
            settings,
            on_throttle=lambda kind, after: (
                services.send_rate and services.send_rate.throttled(after)
            ),
        )
    if broker:
        services.broker = make_broker(settings.broker.redis_url)
        services.notify = notifier(services.broker, batch=DEFAULT_MINT_BATCH)
        services.notify_transfers = notifier(
            services.broker, queue=TRANSFER_QUEUE, actor="transfer_ticket"
        )
        services.notify_collections = notifier(
            services.broker, queue=COLLECTION_QUEUE, actor="create_collection"
        )
        services.notify_operations = notifier(
            services.broker, queue=OPERATION_QUEUE, actor="apply_operation"
        )
        services.notify_webhooks = webhook_notifier(services.broker)
        minting = settings.minting
        services.send_rate = AdaptiveRate(
            services.broker.client,
            start=minting.send_rate,
            minimum=minting.send_rate_min,
            maximum=minting.send_rate_max,
            step=minting.send_rate_step,
        )
    return services


def _chain(settings: Settings, *, on_throttle=None):
    """One endpoint's client, or (SOLANA_RPC_URLS) a failover over several."""

    def client(url: str) -> ChainClient:
        return ChainClient(
            url,
            commitment=settings.chain.commitment,
            timeout=settings.chain.rpc_timeout,
            skip_preflight=settings.chain.skip_preflight,
            blockhash_ttl=settings.chain.blockhash_ttl,
            on_fault=metrics.rpc_fault,
            on_call=metrics.rpc_call,
            on_throttle=on_throttle,
        )

    urls = settings.chain.rpc_urls or (settings.chain.rpc_url,)
    if len(urls) == 1:
        return client(urls[0])
    labels = {url: metrics.endpoint_label(i, url) for i, url in enumerate(urls)}
    for url in urls:  # every endpoint starts healthy
        metrics.rpc_endpoint(labels[url], True)
    return FailoverChain(
        urls,
        make_client=client,
        on_score=lambda url, score, healthy: metrics.rpc_endpoint(labels[url], healthy),
    )


def store_uow_factory(services: Services):
    """Units of work on the monitoring store: its own engine when MONITORING_DATABASE_URL
    names another database, else the ledger's."""
    url = services.settings.database.monitoring_url
    if not url or url == services.settings.database.url:
        return services.uow_factory
    engine = make_engine(url, pool_size=1)
    session_factory = make_session_factory(engine)
    return lambda: UnitOfWork(session_factory)  # metrics rows only: nothing to publish
