"""``register_actors`` on Dramatiq's StubBroker: the four actors on their queues with their retry
options, and messages that run the workflows through the services they were given (fakes)."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from pydantic import SecretBytes

from actors.entrypoints.worker import actors
from actors.infra.broker import (
    COLLECTION_QUEUE,
    CONTROL_QUEUE,
    MINT_QUEUE,
    OPERATION_QUEUE,
    TRANSFER_QUEUE,
    WEBHOOK_QUEUE,
    WORKER_QUEUES,
    Ticker,
)
from actors.infra.config import WebhookSettings
from ledger.models import Status
from minter.errors import PermanentRpcError, ValidationError
from tests.unit.conftest import SECRET, World

RETRIED = {
    "max_retries": actors.DEFAULT_MAX_RETRIES,
    "min_backoff": actors.DEFAULT_MIN_BACKOFF,
    "max_backoff": actors.DEFAULT_MAX_BACKOFF,
    "max_age": actors.DEFAULT_MAX_AGE,
    "throws": (PermanentRpcError, ValidationError),
}
TICK = 3600.0  # seconds: the ticker sends each control message once, when the worker boots


class OpenGate:
    """Stands in for :class:`actors.infra.broker.RateGate`, whose bucket lives in Redis."""

    entered = 0

    def __init__(self, broker, *, per_second: int, rate=None) -> None:
        self.per_second = per_second

    def __enter__(self):
        OpenGate.entered += 1
        return self

    def __exit__(self, *exc) -> bool:
        return False

    @contextmanager
    def up_to(self, n: int):
        OpenGate.entered += n
        yield n


class OpenGates:
    """Stands in for :class:`actors.infra.broker.EndpointGates` (Redis buckets too)."""

    def __init__(self, broker, *, per_second: int) -> None:
        self.per_second = per_second

    def gate(self, endpoint_id: int) -> OpenGate:
        return OpenGate(None, per_second=self.per_second)


def services_of(world: World) -> SimpleNamespace:
    """What ``build_services`` hands the worker, with the settings ``register_actors`` reads."""
    settings = SimpleNamespace(
        signer=SimpleNamespace(
            payer=world.payer,
            payers=(world.payer,),
            authority=world.payer,
            payer_min_lamports=0,  # the fake chain's balances start at 0
            mint_key_secret=SecretBytes(SECRET),
        ),
        chain=SimpleNamespace(commitment="confirmed", compute_unit_price=None),
        minting=SimpleNamespace(
            send_rate=1000,
            max_attempts=20,
            pending_age=30.0,
            confirm_interval=TICK,
            sweep_interval=TICK,
        ),
        webhooks=WebhookSettings(),
    )
    return SimpleNamespace(
        settings=settings,
        uow_factory=world.uow,
        chain=world.chain,
        notify=world.woken.extend,
        notify_transfers=world.woken_transfers.extend,
        notify_collections=world.woken_collections.extend,
        notify_operations=world.woken_operations.extend,
        notify_webhooks=lambda owed, delay=None: None,
        send_rate=None,
    )


@pytest.fixture
def broker(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(actors, "RateGate", OpenGate)
    monkeypatch.setattr(actors, "EndpointGates", OpenGates)
    OpenGate.entered = 0
    broker = StubBroker()
    broker.emit_after("process_boot")
    yield broker
    broker.close()


def run(broker, *queues: str) -> None:
    """Work until ``queues`` are drained (a failing actor fails the test: fail fast)."""
    worker = Worker(broker, worker_threads=1, worker_timeout=20)
    worker.start()
    try:
        for queue in queues:
            broker.join(queue, timeout=5_000)
        worker.join()
    finally:
        worker.stop()


def test_the_eight_actors_are_declared_on_their_queues(broker, world):
    ns = actors.register_actors(broker, services_of(world))
    assert set(broker.get_declared_actors()) == {
        "mint_ticket",
        "transfer_ticket",
        "create_collection",
        "apply_operation",
        "deliver_webhook",
        "confirm_submitted",
        "sweep",
        "sweep_webhooks",
    }
    for name, queue in (
        ("mint_ticket", MINT_QUEUE),
        ("transfer_ticket", TRANSFER_QUEUE),
        ("create_collection", COLLECTION_QUEUE),
        ("apply_operation", OPERATION_QUEUE),
        ("deliver_webhook", WEBHOOK_QUEUE),
    ):
        actor = broker.get_actor(name)
        assert actor.queue_name == queue
        assert {k: actor.options.get(k) for k in RETRIED} == RETRIED
    for name in ("confirm_submitted", "sweep", "sweep_webhooks"):
        actor = broker.get_actor(name)
        assert actor.queue_name == CONTROL_QUEUE
        assert (actor.options["max_retries"], actor.options["max_age"]) == (0, 60_000)
    # `minter worker` consumes every queue an actor is declared on
    declared = {broker.get_actor(name).queue_name for name in broker.get_declared_actors()}
    assert declared == set(WORKER_QUEUES)
    (ticker,) = [m for m in broker.middleware if isinstance(m, Ticker)]
    assert ticker.jobs == [
        (ns.confirm_submitted, TICK),
        (ns.sweep, TICK),
        (ns.sweep_webhooks, actors.DEFAULT_WEBHOOK_SWEEP),
    ]


def test_a_mint_message_runs_process_mint_through_the_services(broker, world):
    ns = actors.register_actors(broker, services_of(world))
    world.intent("T-1")
    ns.mint_ticket.send("T-1")
    run(broker, MINT_QUEUE, CONTROL_QUEUE)
    row = world.ledger.mint("T-1")
    assert row.status == Status.SUBMITTED and OpenGate.entered == 1
    assert set(world.chain.sent) == {row.signed_tx}  # sent (and perhaps rebroadcast) as signed

    world.chain.land(row.signature)
    ns.confirm_submitted.send()
    run(broker, CONTROL_QUEUE)
    assert world.ledger.mint("T-1").status == Status.COMPLETED


def test_a_transfer_message_runs_process_transfer(broker, world):
    ns = actors.register_actors(broker, services_of(world))
    world.custody_ticket("T-1")
    world.claim("X-1", "T-1")
    ns.transfer_ticket.send("X-1")
    run(broker, TRANSFER_QUEUE, CONTROL_QUEUE)
    assert world.ledger.transfer("X-1").status == Status.SUBMITTED and OpenGate.entered == 1


@pytest.mark.parametrize("pool_size", [2, 1])
def test_a_mint_refused_for_its_payers_funds_is_retried_at_once_by_another(
    broker, world, pool_size
):
    """Not after the sweeper's MINT_PENDING_AGE: woken again now, while a payer is funded; with
    none funded it waits for the sweeper."""
    from solders.keypair import Keypair

    from minter.keys import Payer
    from minter.rpc import TransactionRejected

    services = services_of(world)
    payers = tuple(Payer(Keypair()) for _ in range(pool_size))
    for p in payers:
        world.chain.balances[p.pubkey] = 10**9
    services.settings.signer.payers = payers
    services.settings.signer.payer_min_lamports = 1
    ns = actors.register_actors(broker, services)
    world.intent("T-1")
    world.chain.send_errors.append(TransactionRejected("InsufficientFundsForFee"))
    ns.mint_ticket.send("T-1")
    run(broker, MINT_QUEUE)
    assert world.ledger.mint("T-1").status == Status.PENDING
    assert world.woken == (["T-1"] if pool_size == 2 else [])
