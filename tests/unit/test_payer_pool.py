"""The fee-payer pool (actors.workflows.payers) over the fake chain, and the mint workflow with
it: least recently used among the funded payers, a payer below the minimum skipped (said once
per change), ``drained`` at once, balances read once per TTL, a mint that waits (never fails)
while none is funded, a refusal for the payer's funds moving the next attempt to another
payer, and each attempt's payer in the ledger."""

from __future__ import annotations

from collections import Counter

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless
from structlog.testing import capture_logs

from actors.infra import metrics
from actors.workflows.confirmer import confirm_submitted
from actors.workflows.mints import UNFUNDED, MintKind, MintSigner, process_mint
from actors.workflows.payers import NO_PAYER_FUNDED, PayerPool
from ledger.models import Status
from minter.keys import Payer
from minter.rpc import Simulation, TransactionRejected
from tests.unit.conftest import SECRET

MIN = 50_000_000


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingChain:
    """Wraps the fake chain's balances, counting the reads."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self.reads: Counter = Counter()

    def balance(self, pubkey):
        self.reads[pubkey] += 1
        return self.chain.balance(pubkey)


@pytest.fixture
def payers():
    return [Payer(Keypair()) for _ in range(3)]


def pool_of(world, payers, *, funded=(0, 1, 2), clock=None, chain=None, **kw) -> PayerPool:
    for i, p in enumerate(payers):
        world.chain.balances[p.pubkey] = 10 * MIN if i in funded else MIN - 1
    return PayerPool(
        payers, chain=chain or world.chain, min_lamports=MIN, clock=clock or Clock(), **kw
    )


def test_least_recently_used_among_the_funded_splits_evenly(world, payers):
    pool = pool_of(world, payers)
    picks = [pool.pick() for _ in range(300)]
    assert picks[:3] == payers  # ties go in pool order
    assert Counter(p.pubkey for p in picks) == {p.pubkey: 100 for p in payers}


def test_a_payer_below_the_minimum_is_skipped_said_once_and_shown(world, payers):
    with capture_logs() as logs:
        pool = pool_of(world, payers, funded=(0, 2))
        picks = {pool.pick().pubkey for _ in range(20)}
    assert picks == {payers[0].pubkey, payers[2].pubkey}
    warned = [e for e in logs if e["event"] == "payer_unfunded"]
    assert len(warned) == 1 and warned[0]["payer"] == str(payers[1].pubkey)
    assert warned[0]["log_level"] == "warning"
    funded = metrics.series("payer_funded")
    assert funded.labels(str(payers[1].pubkey))._value.get() == 0
    assert funded.labels(str(payers[0].pubkey))._value.get() == 1
    balance = metrics.series("payer_balance").labels(str(payers[1].pubkey))._value.get()
    assert balance == MIN - 1


def test_a_topped_up_payer_comes_back_after_the_ttl(world, payers):
    clock = Clock()
    pool = pool_of(world, payers, funded=(0,), clock=clock)
    assert {pool.pick().pubkey for _ in range(6)} == {payers[0].pubkey}
    world.chain.balances[payers[1].pubkey] = MIN  # topped up: at the minimum is funded
    assert {pool.pick().pubkey for _ in range(6)} == {payers[0].pubkey}  # the cached read
    clock.now += 5.0
    with capture_logs() as logs:
        assert {pool.pick().pubkey for _ in range(6)} == {payers[0].pubkey, payers[1].pubkey}
    assert [e["event"] for e in logs] == ["payer_funded"]


def test_balances_are_read_once_per_payer_per_ttl(world, payers):
    clock = Clock()
    counting = CountingChain(world.chain)
    pool = pool_of(world, payers, clock=clock, chain=counting, balance_ttl=5.0)
    for _ in range(500):
        pool.pick()
    assert counting.reads == {p.pubkey: 1 for p in payers}
    clock.now += 4.9
    pool.pick()
    assert sum(counting.reads.values()) == 3
    clock.now += 0.2
    pool.pick()
    assert counting.reads == {p.pubkey: 2 for p in payers}


def test_drained_skips_at_once_until_a_read_after_the_ttl(world, payers):
    clock = Clock()
    pool = pool_of(world, payers, clock=clock)
    with capture_logs() as logs:
        pool.drained(payers[0].pubkey)
        pool.drained(payers[0])  # said once, not per refusal
        assert payers[0].pubkey not in {pool.pick().pubkey for _ in range(10)}
    assert [e["event"] for e in logs] == ["payer_unfunded"]
    pool.drained(Keypair().pubkey())  # the authority, not a pool member: nothing to skip
    clock.now += 5.0  # the chain still shows it funded (the refusal was for another account)
    assert payers[0].pubkey in {pool.pick().pubkey for _ in range(3)}


def test_no_funded_payer_picks_none_and_balances_list_every_payer(world, payers):
    pool = pool_of(world, payers, funded=())
    assert pool.pick() is None and pool.funded() == []
    listed = pool.balances()
    assert [b.address for b in listed] == [str(p.pubkey) for p in payers]
    assert not any(b.funded for b in listed)


def test_a_pool_names_each_payer_once():
    payer = Payer(Keypair())
    with pytest.raises(ValueError):
        PayerPool([payer, payer], chain=None)
    with pytest.raises(ValueError):
        PayerPool([], chain=None)


# ---------------------------------------------------------------------------------------------
# the mint workflow with a pool


def signer_with(world, pool) -> MintSigner:
    return MintSigner(payer=world.payer, mint_secret=SECRET, payers=pool)


def test_each_attempt_is_paid_by_the_pool_and_records_its_payer(world, payers):
    pool = pool_of(world, payers)
    signer = signer_with(world, pool)
    paid = []
    for i in range(6):
        world.intent(f"T-{i}")
        out = process_mint(f"T-{i}", uow_factory=world.uow, chain=world.chain, signer=signer)
        assert out == Status.SUBMITTED
        tx = VersionedTransaction.from_bytes(world.chain.sent[-1])
        keys = tx.message.account_keys
        fee_payer = keys[0]
        paid.append(fee_payer)
        (attempt,) = world.ledger.attempts("mint", f"T-{i}")
        assert attempt.payer == str(fee_payer)
        # the authority (not a pool member here) signs as well: three signatures
        assert len(tx.signatures) == 3 and world.payer.pubkey in keys
    assert paid == [p.pubkey for p in payers] * 2


def test_with_no_payer_funded_the_mint_waits_pending_saying_why(world, payers):
    signer = signer_with(world, pool_of(world, payers, funded=()))
    world.intent("T-1")
    out = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer)
    row = world.ledger.mint("T-1")
    assert out == UNFUNDED and row.status == Status.PENDING
    assert row.last_error.startswith(NO_PAYER_FUNDED) and world.chain.sent == []


def test_a_refusal_for_the_payers_funds_moves_the_next_attempt_to_another(world, payers):
    pool = pool_of(world, payers)
    signer = signer_with(world, pool)
    world.intent("T-1")
    world.chain.send_errors.append(TransactionRejected("InsufficientFundsForFee"))
    out = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer)
    assert out == Status.PENDING and world.ledger.mint("T-1").status == Status.PENDING
    first = VersionedTransaction.from_bytes(world.chain.sent[0]).message.account_keys[0]
    assert first == payers[0].pubkey and pool.funded() == payers[1:]
    out = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer)
    again = VersionedTransaction.from_bytes(world.chain.sent[1])
    assert out == Status.SUBMITTED and again.message.account_keys[0] == payers[1].pubkey
    # the same mint address, whoever pays: exactly once holds across payers
    mint = Pubkey.from_string(world.ledger.mint("T-1").mint_address)
    first_tx = VersionedTransaction.from_bytes(world.chain.sent[0])
    assert mint in first_tx.message.account_keys and mint in again.message.account_keys
    assert [a.payer for a in world.ledger.attempts("mint", "T-1")] == [
        str(payers[0].pubkey),
        str(payers[1].pubkey),
    ]


def test_a_simulation_refused_for_the_payers_funds_drains_it(world, payers):
    pool = pool_of(world, payers)
    signer = signer_with(world, pool)
    world.intent("T-1")
    world.chain.simulation = Simulation(None, "InsufficientFundsForRent { account_index: 0 }", [])
    out = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer)
    assert out == Status.PENDING and pool.funded() == payers[1:]


def test_an_attempt_that_landed_short_of_funds_drains_its_payer_and_is_rebuilt(world, payers):
    pool = pool_of(world, payers)
    signer = signer_with(world, pool)
    world.intent("T-1")
    assert process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer) == (
        Status.SUBMITTED
    )
    row = world.ledger.mint("T-1")
    world.chain.land(row.signature, err=TransactionErrorFieldless.InsufficientFundsForFee)
    stats = confirm_submitted(
        uow_factory=world.uow, chain=world.chain, kind=MintKind(payers=pool), notify=None
    )
    assert stats.rebuild_ids == ["T-1"] and world.ledger.mint("T-1").status == Status.PENDING
    assert pool.funded() == payers[1:]  # at once, not at the next balance read


def test_already_processed_bytes_that_did_not_take_effect_stay_submitted(world, payers):
    """A rebroadcast of the committed attempt raced the worker's send and landed with an error
    (its payer drained meanwhile): the send's refusal must not fail the ticket; the confirmer
    resolves the attempt by its status."""
    signer = signer_with(world, pool_of(world, payers))
    world.intent("T-1")
    world.chain.send_errors.append(TransactionRejected("AlreadyProcessed"))
    out = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=signer)
    assert out == Status.SUBMITTED and world.ledger.mint("T-1").status == Status.SUBMITTED


def test_a_ticket_too_long_for_a_second_signer_is_paid_by_the_authority(world, payers):
    """The longest tickets the intake accepts leave no room for the 96 bytes a payer other
    than the authority adds: the authority pays those itself, the rest go to the pool."""
    pool = pool_of(world, payers)
    signer = signer_with(world, pool)
    longest = {"name": "N" * 32, "symbol": "S" * 10, "uri": "https://t.example/" + "u" * 182}
    world.intent("T-LONG", metadata=longest, event_id="E" * 32, venue_id="V" * 32, seat="S" * 32)
    world.intent("T-SHORT")
    for ticket in ("T-LONG", "T-SHORT"):
        out = process_mint(ticket, uow_factory=world.uow, chain=world.chain, signer=signer)
        assert out == Status.SUBMITTED
    long_tx, short_tx = (VersionedTransaction.from_bytes(raw) for raw in world.chain.sent)
    assert len(bytes(long_tx)) <= 1232 and long_tx.message.account_keys[0] == world.payer.pubkey
    assert len(long_tx.signatures) == 2  # the authority and the mint
    assert short_tx.message.account_keys[0] in [p.pubkey for p in payers]


def test_balance_lists_every_payer_and_ready_needs_one_funded(world, payers):
    from types import SimpleNamespace

    from actors.workflows.health import KNOWN_COST, Health

    pool = pool_of(world, payers, funded=(0, 2))
    settings = SimpleNamespace(
        minting=SimpleNamespace(standard="token2022"),
        signer=SimpleNamespace(payer=payers[0], authority=world.payer),
    )
    services = SimpleNamespace(settings=settings, chain=world.chain, uow_factory=world.uow)
    health = Health(services, ping_redis=lambda: True, payers=pool)
    report = health.balance()
    cost = KNOWN_COST["token2022"]
    assert [p["address"] for p in report["payers"]] == [str(p.pubkey) for p in payers]
    assert [p["funded"] for p in report["payers"]] == [True, False, True]
    assert [p["mints_left"] for p in report["payers"]] == [
        world.chain.balances[p.pubkey] // cost for p in payers
    ]
    assert report["total_lamports"] == sum(world.chain.balances[p.pubkey] for p in payers)
    assert report["mints_left"] == sum(p["mints_left"] for p in report["payers"])
    assert report["authority"] == {"address": str(world.payer.pubkey), "lamports": 0}
    assert health.readiness()["checks"]["payer_funded"] == "2 of 3 funded"
    for p in payers:
        world.chain.balances[p.pubkey] = 0
    ready = health.readiness()
    assert "payer_funded" in ready["not_ready"]
    assert ready["checks"]["payer_funded"].startswith("no payer is funded")
