"""Dramatiq actors over a Redis broker: thin wrappers that call one workflow each.

Actors are registered on a broker built at run time (:func:`register_actors`), never at import.
A :class:`Ticker` middleware in every worker process sends the confirmer and sweeper messages on
an interval, so neither depends on a message surviving in Redis.
"""

from __future__ import annotations

import os
from datetime import timedelta
from types import SimpleNamespace

import dramatiq
import structlog

from actors.entrypoints import services as wiring
from actors.entrypoints.worker.reporter import run_reporter
from actors.infra.broker import (
    COLLECTION_QUEUE,
    CONTROL_QUEUE,
    MINT_QUEUE,
    OPERATION_QUEUE,
    TRANSFER_QUEUE,
    WEBHOOK_QUEUE,
    EndpointGates,
    RateGate,
    Ticker,
)
from actors.infra.config import reveal
from actors.infra.errors import SettingsError
from actors.workflows import collections, confirmer, lifecycle, mints, ticket_ops, transfers
from actors.workflows.sent_marks import SentMarks
from actors.workflows.webhooks import delivery
from ledger.models import Status
from minter.errors import PermanentRpcError, ValidationError
from minter.fees import PriorityFeePolicy

DEFAULT_MAX_RETRIES = 20
DEFAULT_MIN_BACKOFF = 200  # ms
DEFAULT_MAX_BACKOFF = 30_000
DEFAULT_MAX_AGE = 24 * 3600 * 1000  # ms; older messages are dropped, the sweeper re-enqueues
DEFAULT_WEBHOOK_SWEEP = 1.0  # seconds between webhook sweeps (they wake lost or due retries)
DEFAULT_BUSY_DELAY = 1.0  # seconds before a delivery that found no rate slot tries again

log = structlog.get_logger(__name__)


class MetricsReporter(dramatiq.Middleware):
    """Runs :func:`actors.workflows.report.run_reporter` as one fork process beside the workers."""

    @property
    def forks(self):
        return [run_reporter]


class FlushOnShutdown(dramatiq.Middleware):
    """Writes the process's buffered ``sent_at`` marks when its workers stop."""

    def __init__(self, marks: SentMarks) -> None:
        self.marks = marks

    def after_worker_shutdown(self, broker, worker):
        self.marks.flush()


def add_observability(broker) -> None:
    """Under ``minter worker`` (multiprocess metrics): Dramatiq's own Prometheus middleware,
    which serves every process's series on one port, and the monitoring-store reporter."""

    # process plumbing set by `minter worker` for its children, not an operator setting
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    # here, not at the top: the middleware reads PROMETHEUS_MULTIPROC_DIR when it is imported
    from dramatiq.middleware.prometheus import Prometheus

    broker.add_middleware(Prometheus())
    broker.add_middleware(MetricsReporter())


def register_actors(broker, services):
    """Declare the actors on ``broker``, bound to ``services``; returns them by name."""
    add_observability(broker)
    settings = services.settings
    gate = RateGate(broker, per_second=settings.minting.send_rate, rate=services.send_rate)
    auto = settings.chain.compute_unit_price == "auto"
    fixed_price = None if auto else settings.chain.compute_unit_price
    pool = wiring.payer_pool(services)  # one per process: its turns keep the split even
    signer = mints.MintSigner(
        payer=settings.signer.authority,  # signs metadata, collections, delegates, operations
        payers=pool,  # pays each mint
        mint_secret=reveal(settings.signer.mint_key_secret),
        compute_unit_price=fixed_price,
        fees=PriorityFeePolicy(
            percentile=settings.chain.priority_percentile,
            step=settings.chain.priority_step,
            max_lamports=settings.chain.max_priority_lamports,
        )
        if auto
        else None,
        budgets=lifecycle.ComputeBudgets(),  # a mint's shape is simulated once per process
    )
    ns = SimpleNamespace()
    sent = SentMarks(services.uow_factory)  # the process's sent_at marks, one UPDATE a round
    broker.add_middleware(FlushOnShutdown(sent))
    notify = services.notify
    notify_transfers = services.notify_transfers
    transfer_signer = transfers.TransferSigner(
        payer=settings.signer.authority, compute_unit_price=fixed_price, fees=signer.fees
    )

    def mint_ticket(ticket_ids: str | list[str]) -> None:
        ids = [ticket_ids] if isinstance(ticket_ids, str) else list(ticket_ids)
        outcomes: dict[str, str] = {}
        while ids:  # as many at a time as the send rate grants slots for
            with gate.up_to(len(ids)) as granted:
                outcomes.update(
                    mints.process_mints(
                        ids[:granted],
                        uow_factory=services.uow_factory,
                        chain=services.chain,
                        signer=signer,
                        sent=sent,
                    )
                )
            ids = ids[granted:]
        # refused for its payer's funds (that payer is now skipped) or its compute budget: it
        # is pending again; while a payer is funded, try again now with the next one rather
        # than after the sweeper's MINT_PENDING_AGE (with none funded it waits for the sweeper)
        again = [t for t, outcome in outcomes.items() if outcome == Status.PENDING]
        if again and pool.funded():
            notify(again)

    def transfer_ticket(transfer_id: str) -> None:
        with gate:
            transfers.process_transfer(
                transfer_id,
                uow_factory=services.uow_factory,
                chain=services.chain,
                signer=transfer_signer,
            )

    def create_collection(event_id: str) -> None:
        with gate:
            outcome = collections.process_collection(
                event_id, uow_factory=services.uow_factory, chain=services.chain, signer=signer
            )
        if outcome == Status.COMPLETED:  # an earlier attempt had landed
            collections.wake_tickets([event_id], uow_factory=services.uow_factory, notify=notify)

    def apply_operation(operation_id: str) -> None:
        with gate:
            ticket_ops.process_operation(
                operation_id, uow_factory=services.uow_factory, chain=services.chain, signer=signer
            )

    # mints as the confirmer sees them: an attempt that landed refused for its fee payer's
    # funds skips that payer at once in this process's pool
    mint_kind = mints.MintKind(payers=pool)
    kinds = (
        (collections.COLLECTIONS, services.notify_collections),
        (mint_kind, notify),
        (transfers.TRANSFERS, notify_transfers),
        (ticket_ops.OPERATIONS, services.notify_operations),
    )

    def confirm_submitted() -> None:
        busy = confirmer.confirmable(services.uow_factory, [kind for kind, _ in kinds])
        for kind, wake in kinds:
            if kind not in busy:
                continue
            stats = confirmer.confirm_submitted(
                uow_factory=services.uow_factory,
                chain=services.chain,
                kind=kind,
                commitment=settings.chain.commitment,
                notify=wake,
                max_attempts=settings.minting.max_attempts,
            )
            if kind is collections.COLLECTIONS and stats.completed_ids:
                # the tickets that waited for these collections
                collections.wake_tickets(
                    stats.completed_ids, uow_factory=services.uow_factory, notify=notify
                )
            elif kind in (mint_kind, ticket_ops.OPERATIONS) and stats.completed_ids:
                # the operations that waited for these mints, or for the one before them
                ticket_ops.wake_next(
                    kind,
                    stats.completed_ids,
                    uow_factory=services.uow_factory,
                    notify=services.notify_operations,
                )

    def sweep() -> None:
        for kind, wake in kinds:
            lifecycle.sweep(
                uow_factory=services.uow_factory,
                notify=wake,
                kind=kind,
                pending_age=timedelta(seconds=settings.minting.pending_age),
            )

    deliver_webhook, sweep_webhooks = _webhook_actors(broker, services)

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
    ns.create_collection = dramatiq.actor(
        create_collection,
        broker=broker,
        actor_name="create_collection",
        queue_name=COLLECTION_QUEUE,
        **retry_opts,
    )
    ns.apply_operation = dramatiq.actor(
        apply_operation,
        broker=broker,
        actor_name="apply_operation",
        queue_name=OPERATION_QUEUE,
        **retry_opts,
    )
    control = dict(broker=broker, queue_name=CONTROL_QUEUE, max_retries=0, max_age=60_000)
    ns.confirm_submitted = dramatiq.actor(
        confirm_submitted, actor_name="confirm_submitted", **control
    )
    ns.sweep = dramatiq.actor(sweep, actor_name="sweep", **control)
    ns.deliver_webhook = dramatiq.actor(
        deliver_webhook,
        broker=broker,
        actor_name="deliver_webhook",
        queue_name=WEBHOOK_QUEUE,
        **retry_opts,
    )
    ns.sweep_webhooks = dramatiq.actor(sweep_webhooks, actor_name="sweep_webhooks", **control)
    ns.notify = notify
    broker.add_middleware(
        Ticker(
            jobs=[
                (ns.confirm_submitted, settings.minting.confirm_interval),
                (ns.sweep, settings.minting.sweep_interval),
                (ns.sweep_webhooks, DEFAULT_WEBHOOK_SWEEP),
            ]
        )
    )
    return ns


def _webhook_actors(broker, services):
    """deliver_webhook (one attempt of one dispatch, then its retry or its successor woken)
    and sweep_webhooks (what lost its wake-up)."""
    settings = services.settings
    gates = EndpointGates(broker, per_second=settings.webhooks.rate_limit)
    sender = wiring.sender(settings)
    policy = wiring.policy(settings)
    secret_for = wiring.secret_for(settings)
    wake = services.notify_webhooks
    grace = timedelta(seconds=settings.minting.pending_age)  # a lost wake-up waits this long

    def deliver_webhook(dispatch_id: int, endpoint_id: int) -> None:
        outcome = delivery.deliver(
            dispatch_id,
            uow_factory=services.uow_factory,
            sender=sender,
            secret_for=secret_for,
            policy=policy,
            slot=gates.acquire,
        )
        if outcome.result == delivery.RETRY:
            wake([(dispatch_id, endpoint_id)], delay=outcome.retry_in)
        elif outcome.result == delivery.BUSY:  # the endpoint's rate is spent: come back later
            wake([(dispatch_id, endpoint_id)], delay=DEFAULT_BUSY_DELAY)
        if outcome.wake:
            wake(outcome.wake)

    default_put = False

    def sweep_webhooks() -> None:
        nonlocal default_put
        if not default_put:  # here, not at boot: a worker must start while PostgreSQL is away
            try:
                wiring.put_default_endpoint(services)
                default_put = True
            except SettingsError as exc:  # a WEBHOOK_URL refused: said, not delivered to
                log.error("webhook_default_refused", problem=str(exc))
                default_put = True
        delivery.sweep(uow_factory=services.uow_factory, wake=wake, grace=grace)

    return deliver_webhook, sweep_webhooks
