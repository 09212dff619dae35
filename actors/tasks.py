"""Dramatiq actors over a Redis broker: thin wrappers that call one workflow each.

Actors are registered on a broker built at run time (:func:`register_actors`), never at import.
A :class:`Ticker` middleware in every worker process sends the confirmer and sweeper messages on
an interval, so neither depends on a message surviving in Redis.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.rate_limits import BucketRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from actors import minting, transfers
from minter.errors import PermanentRpcError, ValidationError

DEFAULT_HEARTBEAT_TIMEOUT = 15_000  # ms before Redis hands a dead worker's messages to others
DEFAULT_MAX_RETRIES = 20
DEFAULT_MIN_BACKOFF = 200  # ms
DEFAULT_MAX_BACKOFF = 30_000
DEFAULT_MAX_AGE = 24 * 3600 * 1000  # ms; older messages are dropped, the sweeper re-enqueues
DEFAULT_RATE_WAIT = 30.0  # seconds a mint waits for a send slot before its message is retried
MINT_QUEUE = "mints"
TRANSFER_QUEUE = "transfers"
CONTROL_QUEUE = "control"

log = structlog.get_logger(__name__)


def make_broker(redis_url: str, *, heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT):
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(),
    ]
    return RedisBroker(url=redis_url, middleware=middleware, heartbeat_timeout=heartbeat_timeout)


def notifier(broker, *, queue: str = MINT_QUEUE, actor: str = "mint_ticket"):
    """Wakes ``actor`` for ids by name: producers need not declare the actors."""
    broker.declare_queue(queue)

    def notify(ids):
        for key in ids:
            broker.enqueue(
                dramatiq.Message(
                    queue_name=queue, actor_name=actor, args=(key,), kwargs={}, options={}
                )
            )

    return notify


class RateGate:
    """Dramatiq's Redis bucket limiter, waited on (not failed on) for a while."""

    def __init__(self, broker: RedisBroker, *, per_second: int, wait: float = DEFAULT_RATE_WAIT):
        backend = RedisBackend(client=broker.client)
        self.limiter = BucketRateLimiter(backend, "solana-sends", limit=per_second, bucket=1000)
        self.wait = wait

    def __enter__(self):
        deadline = time.monotonic() + self.wait
        while True:
            with self.limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return self
            if time.monotonic() > deadline:
                raise dramatiq.RateLimitExceeded("send rate limit: no slot in time")
            time.sleep(0.02)

    def __exit__(self, *exc):
        return False


@dataclass
class Ticker(dramatiq.Middleware):
    """Sends each (actor, interval) message periodically while a worker process runs."""

    jobs: list

    def __post_init__(self):
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker):
        self._stop.clear()
        threading.Thread(target=self._run, name="ticker", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()

    def _run(self):
        due = [0.0] * len(self.jobs)
        while not self._stop.is_set():
            now = time.monotonic()
            for i, (actor, interval) in enumerate(self.jobs):
                if now >= due[i]:
                    due[i] = now + interval
                    try:
                        actor.send()
                    except Exception as exc:  # Redis down: try again next tick
                        log.warning("tick_failed", actor=actor.actor_name, error=type(exc).__name__)
            self._stop.wait(min(interval for _, interval in self.jobs))


class MetricsReporter(dramatiq.Middleware):
    """Runs :func:`actors.reporter.run_reporter` as one fork process beside the workers."""

    @property
    def forks(self):
        from actors.reporter import run_reporter

        return [run_reporter]


def add_observability(broker) -> None:
    """Under ``minter worker`` (multiprocess metrics): Dramatiq's own Prometheus middleware,
    which serves every process's series on one port, and the monitoring-store reporter."""
    import os

    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())
    broker.add_middleware(MetricsReporter())


def register_actors(broker, services):
    """Declare the actors on ``broker``, bound to ``services``; returns them by name."""
    add_observability(broker)
    gate = RateGate(broker, per_second=services.tuning.send_rate)
    signer = minting.MintSigner(
        payer=services.settings.payer,
        mint_secret=services.settings.mint_key_secret,
        compute_unit_price=services.tuning.compute_unit_price,
    )
    ns = SimpleNamespace()
    notify = services.notify
    notify_transfers = services.notify_transfers
    transfer_signer = transfers.TransferSigner(
        payer=services.settings.payer, compute_unit_price=services.tuning.compute_unit_price
    )

    def mint_ticket(ticket_id: str) -> None:
        with gate:
            minting.process_mint(
                ticket_id, uow_factory=services.uow_factory, chain=services.chain, signer=signer
            )

    def transfer_ticket(transfer_id: str) -> None:
        with gate:
            transfers.process_transfer(
                transfer_id,
                uow_factory=services.uow_factory,
                chain=services.chain,
                signer=transfer_signer,
            )

    kinds = ((minting.MINTS, notify), (transfers.TRANSFERS, notify_transfers))

    def confirm_submitted() -> None:
        for kind, wake in kinds:
            minting.confirm_submitted(
                uow_factory=services.uow_factory,
                chain=services.chain,
                kind=kind,
                commitment=services.settings.commitment,
                notify=wake,
                max_attempts=services.tuning.max_attempts,
            )

    def sweep() -> None:
        for kind, wake in kinds:
            minting.sweep(
                uow_factory=services.uow_factory,
                notify=wake,
                kind=kind,
                pending_age=timedelta(seconds=services.tuning.pending_age),
            )

    retry_opts = dict(
        max_retries=DEFAULT_MAX_RETRIES,
        min_backoff=DEFAULT_MIN_BACKOFF,
        max_backoff=DEFAULT_MAX_BACKOFF,
        max_age=DEFAULT_MAX_AGE,
        throws=(PermanentRpcError, ValidationError),
    )
    ns.mint_ticket = dramatiq.actor(
        mint_ticket, broker=broker, actor_name="mint_ticket", queue_name=MINT_QUEUE, **retry_opts
    )
    ns.transfer_ticket = dramatiq.actor(
        transfer_ticket,
        broker=broker,
        actor_name="transfer_ticket",
        queue_name=TRANSFER_QUEUE,
        **retry_opts,
    )
    control = dict(broker=broker, queue_name=CONTROL_QUEUE, max_retries=0, max_age=60_000)
    ns.confirm_submitted = dramatiq.actor(
        confirm_submitted, actor_name="confirm_submitted", **control
    )
    ns.sweep = dramatiq.actor(sweep, actor_name="sweep", **control)
    ns.notify = notify
    broker.add_middleware(
        Ticker(
            jobs=[
                (ns.confirm_submitted, services.tuning.confirm_interval),
                (ns.sweep, services.tuning.sweep_interval),
            ]
        )
    )
    return ns
