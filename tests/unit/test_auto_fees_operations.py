"""``SOLANA_COMPUTE_UNIT_PRICE=auto`` beyond mints, over fakes: a transfer, a lifecycle
operation and an event's collection are each priced from the recent fees of their own writable
accounts at the percentile, raised per earlier attempt, and never cost more than the cap;
without ``auto`` they bid the fixed price."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from solders.transaction import VersionedTransaction

from actors.workflows.collections import process_collection
from actors.workflows.mints import MintSigner
from actors.workflows.ticket_ops import process_operation
from actors.workflows.transfers import TransferSigner, process_transfer
from ledger.models import Status
from minter.fees import PriorityFeePolicy, writable_keys
from minter.localnet.fees import compute_unit_price
from minter.rpc import Simulation
from tests.unit.conftest import SECRET, World
from tests.unit.test_events import put
from tests.unit.test_priority_fees import FEES, units_of
from tests.unit.test_ticket_lifecycle import core_ticket, do


@dataclass(frozen=True)
class Kind:
    table: str  # of the fake ledger
    arrange: Callable[[World], str]  # a pending row, ready to sign: its key
    process: Callable  # (world, key, policy, fixed price) -> what the worker did


def claim(world: World) -> str:
    world.custody_ticket("T-1")
    world.claim("X-1", "T-1")
    return "X-1"


def transfer(world: World, key: str, fees, price) -> str:
    signer = TransferSigner(payer=world.payer, compute_unit_price=price, fees=fees)
    return process_transfer(key, uow_factory=world.uow, chain=world.chain, signer=signer)


def check_in(world: World) -> str:
    core_ticket(world)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    return "scan-1"


def signer(world: World, fees, price) -> MintSigner:
    return MintSigner(payer=world.payer, mint_secret=SECRET, compute_unit_price=price, fees=fees)


def operation(world: World, key: str, fees, price) -> str:
    signed = signer(world, fees, price)
    return process_operation(key, uow_factory=world.uow, chain=world.chain, signer=signed)


def event(world: World) -> str:
    put(world)
    return "E-1"


def collection(world: World, key: str, fees, price) -> str:
    signed = signer(world, fees, price)
    return process_collection(key, uow_factory=world.uow, chain=world.chain, signer=signed)


KINDS = [
    pytest.param(Kind("transfers", claim, transfer), id="transfer"),
    pytest.param(Kind("operations", check_in, operation), id="operation"),
    pytest.param(Kind("collections", event, collection), id="collection"),
]


@pytest.fixture(params=KINDS)
def kind(request) -> Kind:
    return request.param


def sent(world: World, kind: Kind, *, fees=None, price=None, attempts: int = 0):
    """Arrange ``kind``'s row (``attempts`` earlier ones expired), sign it, send it: the sent
    transaction."""
    key = kind.arrange(world)
    world.ledger.tables[kind.table][key].attempts = attempts
    world.chain.fees_asked.clear()  # what arranging it asked (nothing: no policy there)
    assert kind.process(world, key, fees, price) == Status.SUBMITTED
    return VersionedTransaction.from_bytes(world.chain.sent[-1])


def test_the_price_is_the_percentile_of_its_own_writable_accounts_fees(world, kind):
    world.chain.fees = FEES
    tx = sent(world, kind, fees=PriorityFeePolicy(percentile=75, max_lamports=10**9))
    assert compute_unit_price(tx.message) == 800  # nearest rank: the 9th of 12
    (asked,) = world.chain.fees_asked  # once, for the accounts this transaction write-locks
    assert asked == writable_keys(tx.message) and world.payer.pubkey in asked


def test_each_earlier_attempt_raises_the_price(world, kind):
    world.chain.fees = FEES
    policy = PriorityFeePolicy(percentile=75, step=2.0, max_lamports=10**9)
    tx = sent(world, kind, fees=policy, attempts=2)
    assert compute_unit_price(tx.message) == 800 * 2**2


def test_the_cap_bounds_what_it_pays(world, kind):
    world.chain.fees = [10**9]  # a congested cluster
    world.chain.simulation = Simulation(100_000, None, [])
    tx = sent(world, kind, fees=PriorityFeePolicy(percentile=50, max_lamports=5_000), attempts=3)
    price, units = compute_unit_price(tx.message), units_of(tx)
    assert 0 < price < 10**9 and price * units <= 5_000 * 1_000_000


def test_without_auto_the_fixed_price_is_bid(world, kind):
    world.chain.fees = FEES
    tx = sent(world, kind, price=1_234, attempts=2)
    assert compute_unit_price(tx.message) == 1_234  # not raised, and no fees asked
    assert world.chain.fees_asked == []


def test_without_a_price_none_is_bid(world, kind):
    world.chain.fees = FEES
    tx = sent(world, kind)
    assert compute_unit_price(tx.message) == 0 and world.chain.fees_asked == []
