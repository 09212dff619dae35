"""``process_mint``, every branch, and how a refusal by the cluster is classified."""

from __future__ import annotations

import pytest

from actors.workflows.lifecycle import SKIPPED, payer_problem
from actors.workflows.mints import MINTS, MintSigner, process_mint, process_mints
from ledger.models import Outcome, Status
from minter.rpc import SendOutcomeUnknown, Simulation, TransactionRejected
from tests.fakes.chain import FakeChain

REFUSED = "InstructionErrorCustom(6)"  # the ticket's own problem (e.g. a program's check)
NO_FUNDS = "InsufficientFundsForFee"


@pytest.mark.parametrize(
    "err, payer",
    [
        ("TransactionErrorFieldless.InsufficientFundsForFee", True),
        ("AccountNotFound", True),  # the payer has never been funded
        ("InstructionError((2, Tagged(InstructionErrorCustom(1))))", True),  # CreateAccount
        ("InsufficientFundsForRent { account_index: 0 }", True),  # the payer's own rent
        ("InsufficientFundsForRent { account_index: 3 }", False),  # another account's rent
        ("InstructionErrorCustom(12)", False),
        ("TransactionErrorFieldless.AccountInUse", False),
    ],
)
def test_payer_problems_are_told_apart_from_the_tickets(err, payer):
    assert payer_problem(err) is payer


# -- before anything is signed ------------------------------------------------------------------


def test_a_row_that_is_not_pending_is_skipped(world):
    world.submitted_mint("T-1")
    sends = len(world.chain.sent)
    assert world.process_mint("T-1") == SKIPPED
    assert world.process_mint("T-unknown") == SKIPPED
    assert len(world.chain.sent) == sends


def test_a_row_another_worker_holds_is_skipped(world):
    world.intent("T-1")
    world.ledger.held.add("T-1")
    assert world.process_mint("T-1") == SKIPPED
    assert world.ledger.mint("T-1").status == Status.PENDING and world.chain.sent == []


def test_a_changed_mint_key_secret_fails_the_row_and_signs_nothing(world):
    world.intent("T-1")
    other = MintSigner(payer=world.payer, mint_secret=b"another secret, another address!")
    result = process_mint("T-1", uow_factory=world.uow, chain=world.chain, signer=other)
    assert result == Status.FAILED
    row = world.ledger.mint("T-1")
    assert row.status == Status.FAILED and "MINT_KEY_SECRET" in row.last_error
    assert world.chain.sent == [] and world.ledger.attempts("mint", "T-1") == []


def test_a_payload_that_no_longer_parses_fails_the_row(world):
    world.intent("T-1")
    world.ledger.tables["mints"]["T-1"].payload["metadata"]["name"] = "x" * 33  # over 32 bytes
    assert world.process_mint("T-1") == Status.FAILED
    row = world.ledger.mint("T-1")
    assert row.status == Status.FAILED and row.last_error.startswith("invalid request: ")
    assert world.chain.sent == []


# -- refused in simulation ------------------------------------------------------------------------


def refuse_simulation(chain: FakeChain, err: str) -> None:
    chain.simulation = Simulation(None, err, ["Program log: refused"])


def test_refused_in_simulation_because_the_mint_exists_completes(world):
    row = world.intent("T-1")
    world.put_nft(row)  # an earlier attempt landed, before the ledger knew
    refuse_simulation(world.chain, "AccountAlreadyInUse")
    assert world.process_mint("T-1") == Status.COMPLETED
    assert world.ledger.mint("T-1").status == Status.COMPLETED
    assert world.chain.sent == []


def test_refused_in_simulation_for_the_payer_stays_pending_with_the_reason(world):
    world.intent("T-1")
    refuse_simulation(world.chain, NO_FUNDS)
    assert world.process_mint("T-1") == Status.PENDING
    row = world.ledger.mint("T-1")
    assert (row.status, row.last_error, row.attempts) == (Status.PENDING, NO_FUNDS, 0)
    assert world.chain.sent == []


def test_refused_in_simulation_for_the_ticket_fails_it(world):
    world.intent("T-1")
    refuse_simulation(world.chain, REFUSED)
    assert world.process_mint("T-1") == Status.FAILED
    row = world.ledger.mint("T-1")
    assert (row.status, row.last_error) == (Status.FAILED, f"refused by the cluster: {REFUSED}")


# -- sent -----------------------------------------------------------------------------------------


def test_a_send_persists_first_then_records_when_it_was_sent(world):
    world.intent("T-1")
    assert world.process_mint("T-1") == Status.SUBMITTED
    row = world.ledger.mint("T-1")
    assert row.status == Status.SUBMITTED and row.attempts == 1
    assert world.chain.sent == [row.signed_tx]
    (attempt,) = world.ledger.attempts("mint", "T-1")
    assert attempt.signature == row.signature and attempt.sent_at is not None
    assert attempt.last_valid_block_height == row.last_valid_block_height


def test_an_unknown_send_outcome_is_submitted_with_sent_at(world):
    world.intent("T-1")
    world.chain.send_errors.append(SendOutcomeUnknown("sendTransaction: timeout"))
    assert world.process_mint("T-1") == Status.SUBMITTED
    row = world.ledger.mint("T-1")
    (attempt,) = world.ledger.attempts("mint", "T-1")
    assert row.status == Status.SUBMITTED and attempt.sent_at is not None


def test_a_rejected_send_of_a_mint_that_exists_completes(world):
    row = world.intent("T-1")
    world.put_nft(row)  # an earlier attempt landed; the fake's simulation passes regardless
    world.chain.send_errors.append(TransactionRejected("AlreadyProcessed"))
    assert world.process_mint("T-1") == Status.COMPLETED
    (attempt,) = world.ledger.attempts("mint", "T-1")
    assert (attempt.outcome, attempt.error) == (Outcome.REJECTED, "AlreadyProcessed")
    assert attempt.sent_at is not None
    assert world.ledger.mint("T-1").status == Status.COMPLETED


def test_a_rejected_send_for_the_payer_goes_back_to_pending(world):
    world.intent("T-1")
    world.chain.send_errors.append(TransactionRejected(NO_FUNDS))
    assert world.process_mint("T-1") == Status.PENDING
    row = world.ledger.mint("T-1")
    assert (row.status, row.last_error) == (Status.PENDING, NO_FUNDS)
    (attempt,) = world.ledger.attempts("mint", "T-1")
    assert attempt.outcome == Outcome.REJECTED


def test_a_rejected_send_for_the_ticket_fails_it(world):
    world.intent("T-1")
    world.chain.send_errors.append(TransactionRejected(REFUSED))
    assert world.process_mint("T-1") == Status.FAILED
    assert world.ledger.mint("T-1").last_error == f"refused by the cluster: {REFUSED}"


def test_mints_kind_reads_the_deterministic_mint_address(world):
    one, two = world.intent("T-1"), world.intent("T-2")
    world.put_nft(two)
    with world.uow() as uow:
        assert MINTS.happened(uow, world.chain, [one, two]) == [False, True]
    assert MINTS.key_of(one) == "T-1" and MINTS.key == "ticket_id"


def test_a_batch_is_claimed_committed_and_sent_together_each_ticket_on_its_own(world):
    """One claim and one commit before the first send, one send request for the batch; each
    ticket keeps its own attempt and fate (a bad one fails alone, one held elsewhere is
    skipped, one refused by the cluster is resolved alone)."""
    for t in ("T-1", "T-2", "T-3", "T-4", "T-5"):
        world.intent(t)
    world.ledger.tables["mints"]["T-2"].payload["metadata"]["name"] = ""  # no longer parses
    world.ledger.held.add("T-4")
    commits = world.ledger.commits
    sends = len(world.chain.sent)

    at_first_send = []

    def refuse_t5(raw):  # the cluster refuses T-5's transaction for the ticket's own fault
        at_first_send.append(world.ledger.commits)
        if raw == bytes(world.ledger.tables["mints"]["T-5"].signed_tx or b""):
            world.chain.send_errors.append(TransactionRejected("InvalidAccountData"))

    world.chain.on_send = refuse_t5
    outcomes = process_mints(
        ["T-1", "T-2", "T-3", "T-4", "T-5"],
        uow_factory=world.uow,
        chain=world.chain,
        signer=world.signer,
    )
    assert outcomes == {
        "T-1": Status.SUBMITTED,
        "T-2": Status.FAILED,
        "T-3": Status.SUBMITTED,
        "T-4": SKIPPED,
        "T-5": Status.FAILED,
    }
    assert world.chain.batches == [3] and len(world.chain.sent) - sends == 3
    assert at_first_send[0] - commits == 1  # every ticket decided and persisted in one commit
    for t in ("T-1", "T-3", "T-5"):
        (attempt,) = world.ledger.attempts("mint", t)
        assert attempt.signature == world.ledger.mint(t).signature
    assert world.ledger.mint("T-4").status == Status.PENDING
