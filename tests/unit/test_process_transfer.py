"""``process_transfer``, every branch (and the custody checks of ``enqueue_transfer``)."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.infra.errors import IntentConflict
from actors.workflows.lifecycle import SKIPPED
from actors.workflows.transfers import TRANSFERS, enqueue_transfer
from ledger.models import Outcome, Status
from minter.errors import ValidationError
from minter.rpc import SendOutcomeUnknown, Simulation, TransactionRejected

NO_FUNDS = "InsufficientFundsForFee"
REFUSED = "InstructionErrorCustom(4)"


@pytest.fixture
def claimed(world):
    """A custody ticket with a pending claim ``X-1`` to a fresh wallet."""
    world.custody_ticket("T-1")
    return world.claim("X-1", "T-1")


def test_a_claim_that_is_not_pending_is_skipped(world, claimed):
    assert world.process_transfer("X-1") == Status.SUBMITTED
    assert world.process_transfer("X-1") == SKIPPED
    assert world.process_transfer("X-unknown") == SKIPPED


def test_already_at_the_destination_completes_without_sending(world, claimed):
    sends = len(world.chain.sent)
    world.move_on_chain(claimed)  # an earlier attempt (or someone else) delivered it
    assert world.process_transfer("X-1") == Status.COMPLETED
    assert world.ledger.transfer("X-1").status == Status.COMPLETED
    assert len(world.chain.sent) == sends


def test_a_source_without_the_token_fails_the_claim(world, claimed):
    mint = Pubkey.from_string(claimed.token_address)
    world.chain.hold(mint, Pubkey.from_string(claimed.from_address), TOKEN_2022_PROGRAM_ID, 0)
    assert world.process_transfer("X-1") == Status.FAILED
    row = world.ledger.transfer("X-1")
    assert (row.status, row.last_error) == (Status.FAILED, "source does not hold the token")


def test_a_source_that_is_not_custody_fails_the_claim(world):
    world.custody_ticket("T-1")
    stranger = Keypair().pubkey()
    mint = world.ledger.mint("T-1").mint_address
    with world.uow() as uow:  # recorded by hand: intake would have refused it
        uow.transfers.add_intents(
            [
                {
                    "transfer_id": "X-1",
                    "ticket_id": "T-1",
                    "token_address": mint,
                    "from_address": str(stranger),
                    "to_address": str(Keypair().pubkey()),
                    "payload": {},
                }
            ]
        )
        uow.commit()
    world.chain.hold(Pubkey.from_string(mint), stranger, TOKEN_2022_PROGRAM_ID)
    assert world.process_transfer("X-1") == Status.FAILED
    assert world.ledger.transfer("X-1").last_error == "source is not custody"


def test_refused_in_simulation_for_the_payer_stays_pending(world, claimed):
    world.chain.simulation = Simulation(None, NO_FUNDS, [])
    assert world.process_transfer("X-1") == Status.PENDING
    row = world.ledger.transfer("X-1")
    assert (row.status, row.last_error) == (Status.PENDING, NO_FUNDS)


def test_refused_in_simulation_for_the_claim_fails_it(world, claimed):
    world.chain.simulation = Simulation(None, REFUSED, [])
    assert world.process_transfer("X-1") == Status.FAILED
    assert world.ledger.transfer("X-1").last_error == f"refused by the cluster: {REFUSED}"


def test_sent_is_submitted_with_its_attempt(world, claimed):
    assert world.process_transfer("X-1") == Status.SUBMITTED
    row = world.ledger.transfer("X-1")
    assert world.chain.sent[-1] == row.signed_tx
    (attempt,) = world.ledger.attempts("transfer", "X-1")
    assert attempt.signature == row.signature and attempt.sent_at is not None


def test_an_unknown_send_outcome_is_submitted(world, claimed):
    world.chain.send_errors.append(SendOutcomeUnknown("sendTransaction: timeout"))
    assert world.process_transfer("X-1") == Status.SUBMITTED
    assert world.ledger.attempts("transfer", "X-1")[0].sent_at is not None


def test_a_rejected_send_that_was_delivered_anyway_completes(world, claimed):
    world.chain.on_send = lambda raw: world.move_on_chain(claimed)  # a rebroadcast got there
    world.chain.send_errors.append(TransactionRejected("AlreadyProcessed"))  # first
    assert world.process_transfer("X-1") == Status.COMPLETED
    (attempt,) = world.ledger.attempts("transfer", "X-1")
    assert attempt.outcome == Outcome.REJECTED and attempt.sent_at is not None


def test_a_rejected_send_that_moved_nothing_goes_back_to_pending(world, claimed):
    world.chain.send_errors.append(TransactionRejected(REFUSED))
    assert world.process_transfer("X-1") == Status.PENDING
    row = world.ledger.transfer("X-1")
    assert (row.status, row.last_error) == (Status.PENDING, REFUSED)


def test_transfers_kind_reads_each_destination(world, claimed):
    with world.uow() as uow:
        assert TRANSFERS.happened(uow, world.chain, [claimed]) == [False]
        world.move_on_chain(claimed)
        assert TRANSFERS.happened(uow, world.chain, [claimed]) == [True]
    assert TRANSFERS.key_of(claimed) == "X-1" and TRANSFERS.key == "transfer_id"


# -- intake ---------------------------------------------------------------------------------------


def test_a_claim_of_a_ticket_custody_does_not_hold_is_refused(world):
    world.minted("T-1")  # held by its buyer, not custody
    with pytest.raises(ValidationError, match="not by custody"):
        world.claim("X-1", "T-1")


def test_a_repeated_claim_is_the_same_and_another_payload_conflicts(world, claimed):
    assert world.claim("X-1", "T-1", to=Pubkey.from_string(claimed.to_address)) == claimed
    with pytest.raises(IntentConflict):
        world.claim("X-1", "T-1")


def test_a_lost_wake_up_still_records_the_claim(world):
    world.custody_ticket("T-1")

    def broker_down(ids):
        raise ConnectionError("redis")

    item = {"transfer_id": "X-1", "ticket_id": "T-1", "to": str(Keypair().pubkey())}
    result = enqueue_transfer(
        item, uow_factory=world.uow, signer=world.transfer_signer, notify=broker_down
    )
    assert result.created and world.ledger.transfer("X-1").status == Status.PENDING
