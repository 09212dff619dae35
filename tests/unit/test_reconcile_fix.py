"""``reconcile --fix``: each repair, only what the chain proves, and in the right order."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction_status import TransactionErrorFieldless
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.workflows.mints import MINTS
from actors.workflows.reconcile import DEFAULT_STUCK_AFTER, Report, reconcile
from actors.workflows.reconcile.fix import apply_fixes, observed_transfer_id
from actors.workflows.reconcile.model import LANDED, MISSING, OWNER_CHANGED, STUCK, Discrepancy
from actors.workflows.transfers import TRANSFERS
from ledger.models import Outcome, Status
from minter.rpc import Simulation
from tests.unit.conftest import Case, World

STUCK_FOR = DEFAULT_STUCK_AFTER.total_seconds() + 1
BEYOND_VALIDITY = 151


def fix(world: World, *, max_attempts: int | None = None) -> Report:
    return reconcile(
        uow_factory=world.uow,
        chain=world.chain,
        fix=True,
        notify=world.woken.extend,
        notify_transfers=world.woken_transfers.extend,
        max_attempts=max_attempts,
    )


def fixed(report: Report) -> list[tuple[str, str, str | None]]:
    return [(d.kind, d.key, d.fixed) for d in report.discrepancies]


def woken(world: World, case: Case) -> list[str]:
    return world.woken if case.kind is MINTS else world.woken_transfers


def expired_then_late(world: World, case: Case, key: str):
    """Submitted, expired unseen (back to pending), then the first attempt landed after all."""
    row = case.submit(world, key)
    world.chain.advance(BEYOND_VALIDITY)
    world.confirm(case.kind)
    woken(world, case).clear()
    assert world.row(case.kind, key).status == Status.PENDING
    world.chain.land(row.signature)
    case.happen(world, row)
    return row


# -- on_chain_not_completed -----------------------------------------------------------------------


def test_landed_is_completed_with_the_attempt_that_landed(world, case):
    row = expired_then_late(world, case, "K-1")
    report = fix(world)
    assert fixed(report) == [(LANDED, "K-1", "completed with the attempt that landed")]
    now = world.row(case.kind, "K-1")
    assert now.status == Status.COMPLETED and now.signature == row.signature
    assert world.attempts(case.kind, "K-1") == [(row.signature, Outcome.LANDED)]
    assert report.agrees and fix(world).discrepancies == []


# -- missing_on_chain -----------------------------------------------------------------------------


def test_a_mint_missing_that_can_never_land_goes_back_to_pending_and_is_woken(world):
    row = world.minted("T-1")
    world.chain.put(Pubkey.from_string(row.mint_address), None)  # e.g. a cluster reset
    world.chain.forget(row.signature)
    world.chain.advance(BEYOND_VALIDITY)
    assert fixed(fix(world)) == [(MISSING, "T-1", "set back to pending and re-enqueued")]
    now = world.ledger.mint("T-1")
    assert (now.status, now.last_error) == (Status.PENDING, "reconcile: not on chain; re-enqueued")
    assert world.woken == ["T-1"]


def test_a_mint_completed_without_any_attempt_and_since_gone_is_re_enqueued(world):
    row = world.intent("T-1")
    world.put_nft(row)  # found on chain before any attempt of ours: completed, no signature
    world.chain.simulation = Simulation(None, "AccountAlreadyInUse", [])
    assert world.process_mint("T-1") == Status.COMPLETED
    assert world.ledger.mint("T-1").signature is None
    world.chain.put(Pubkey.from_string(row.mint_address), None)
    assert fixed(fix(world)) == [(MISSING, "T-1", "set back to pending and re-enqueued")]
    assert world.woken == ["T-1"]


def test_a_transfer_missing_that_can_never_land_goes_back_to_pending_and_is_woken(world):
    row = world.submitted_transfer("X-1")
    world.chain.land(row.signature)
    world.confirm(TRANSFERS)  # completed, yet the token never moved
    world.chain.forget(row.signature)
    world.chain.advance(BEYOND_VALIDITY)
    # the ledger's holder (the destination) lacks the token too; once the claim is sent back
    # to pending, custody holds it as the ledger says: no outside move is recorded
    assert fixed(fix(world)) == [
        (
            OWNER_CHANGED,
            row.ticket_id,
            f"the ledger's holder is now {row.from_address}, as on chain",
        ),
        (MISSING, "X-1", "set back to pending and re-enqueued"),
    ]
    assert world.ledger.transfer("X-1").status == Status.PENDING
    assert list(world.ledger.tables["transfers"]) == ["X-1"]
    assert world.woken_transfers == ["X-1"]


def test_missing_is_left_alone_while_an_attempt_may_still_land(world):
    row = world.minted("T-1")
    world.chain.put(Pubkey.from_string(row.mint_address), None)
    world.chain.forget(row.signature)  # unseen, but its blockhash is still valid
    assert fixed(fix(world)) == [(MISSING, "T-1", None)]
    assert world.ledger.mint("T-1").status == Status.COMPLETED and world.woken == []


def test_missing_is_left_alone_when_an_attempt_landed(world):
    row = world.minted("T-1")
    world.chain.put(Pubkey.from_string(row.mint_address), None)  # closed since, say
    world.chain.advance(BEYOND_VALIDITY)
    assert fixed(fix(world)) == [(MISSING, "T-1", None)]


def test_a_missing_transfer_is_left_alone_when_the_destination_holds_it(world):
    row = world.submitted_transfer("X-1")
    world.chain.land(row.signature, err=TransactionErrorFieldless.AccountInUse)
    world.move_on_chain(row)  # delivered by another transaction
    with world.uow() as uow:
        uow.transfers.mark_completed("X-1", expected=Status.SUBMITTED)
        uow.commit()
    world.chain.advance(BEYOND_VALIDITY)
    assert fixed(fix(world)) == [(MISSING, "X-1", None)]


# -- stuck ----------------------------------------------------------------------------------------


def test_a_stuck_pending_row_is_re_enqueued(world, case):
    if case.kind is MINTS:
        world.intent("K-1")
    else:
        world.custody_ticket("T-1")
        world.claim("K-1", "T-1")
    world.ledger.tick(STUCK_FOR)
    assert fixed(fix(world)) == [(STUCK, "K-1", "re-enqueued")]
    now = world.row(case.kind, "K-1")
    assert (now.status, now.updated_at) == (Status.PENDING, world.ledger.now)
    assert woken(world, case) == ["K-1"]


def test_a_stuck_submitted_row_whose_signature_landed_is_completed(world, case):
    row = case.submit(world, "K-1")
    world.chain.land(row.signature)
    world.ledger.tick(STUCK_FOR)
    assert fixed(fix(world)) == [(STUCK, "K-1", "completed: its signature landed")]
    assert world.row(case.kind, "K-1").status == Status.COMPLETED and woken(world, case) == []


def test_a_stuck_submitted_row_that_happened_on_chain_is_completed(world, case):
    row = case.submit(world, "K-1")
    world.chain.advance(BEYOND_VALIDITY)  # expired, its signature never seen ...
    case.happen(world, row)  # ... yet its effect is on chain
    world.ledger.tick(STUCK_FOR)
    assert fixed(fix(world)) == [(STUCK, "K-1", "completed: it happened on chain")]
    assert world.row(case.kind, "K-1").status == Status.COMPLETED


def test_a_stuck_submitted_row_expired_unseen_is_re_enqueued(world, case):
    row = case.submit(world, "K-1")
    world.chain.advance(BEYOND_VALIDITY)
    world.ledger.tick(STUCK_FOR)
    report = fix(world, max_attempts=2)
    assert fixed(report) == [(STUCK, "K-1", "blockhash expired unseen: re-enqueued")]
    now = world.row(case.kind, "K-1")
    assert (now.status, now.last_error) == (Status.PENDING, "reconcile: expired unseen")
    assert world.attempts(case.kind, "K-1") == [(row.signature, Outcome.EXPIRED)]
    assert woken(world, case) == ["K-1"]


def test_a_stuck_submitted_row_at_its_last_attempt_fails_and_is_not_woken(world, case):
    case.submit(world, "K-1")
    world.chain.advance(BEYOND_VALIDITY)
    world.ledger.tick(STUCK_FOR)
    assert fixed(fix(world, max_attempts=1)) == [
        (STUCK, "K-1", "failed: all 1 attempts expired unseen")
    ]
    assert world.row(case.kind, "K-1").status == Status.FAILED and woken(world, case) == []


@pytest.mark.parametrize("err", [None, TransactionErrorFieldless.AccountInUse])
def test_a_stuck_submitted_row_still_valid_or_failed_is_the_confirmers_call(world, case, err):
    row = case.submit(world, "K-1")
    if err is not None:
        world.chain.land(row.signature, err=err)
    world.ledger.tick(STUCK_FOR)
    report = fix(world)
    assert fixed(report) == [(STUCK, "K-1", None)] and not report.agrees
    assert world.row(case.kind, "K-1").status == Status.SUBMITTED


# -- owner_changed --------------------------------------------------------------------------------


def test_an_outside_move_is_recorded_as_an_observed_transfer(world):
    row = world.minted("T-1")
    mint = Pubkey.from_string(row.mint_address)
    elsewhere = Keypair().pubkey()
    world.chain.hold(mint, Pubkey.from_string(row.owner_address), TOKEN_2022_PROGRAM_ID, 0)
    world.chain.hold(mint, elsewhere, TOKEN_2022_PROGRAM_ID)
    assert fixed(fix(world)) == [(OWNER_CHANGED, "T-1", f"recorded the move to {elsewhere}")]
    observed = world.ledger.transfer(observed_transfer_id(row.mint_address, 1))
    assert (observed.status, observed.from_address, observed.to_address) == (
        Status.COMPLETED,
        row.owner_address,
        str(elsewhere),
    )
    assert fix(world).discrepancies == []  # the ledger's holder is now the chain's


def test_a_token_held_by_no_one_is_not_recorded(world):
    row = world.minted("T-1")
    mint = Pubkey.from_string(row.mint_address)
    world.chain.hold(mint, Pubkey.from_string(row.owner_address), TOKEN_2022_PROGRAM_ID, 0)
    assert fixed(fix(world)) == [(OWNER_CHANGED, "T-1", None)]
    assert world.ledger.tables["transfers"] == {}


def test_a_claim_repaired_first_explains_the_move(world):
    """The mint's owner_changed is found before the claim's landed; the claim is fixed first,
    so the move it made is not recorded a second time as an outside one."""
    row = world.submitted_transfer("X-1")
    world.chain.advance(BEYOND_VALIDITY)
    world.confirm(TRANSFERS, max_attempts=1)  # failed: its only attempt expired unseen
    world.chain.land(row.signature)  # ... yet it landed
    world.move_on_chain(row)
    report = fix(world)
    assert [(d.kind, d.key) for d in report.discrepancies] == [
        (OWNER_CHANGED, row.ticket_id),
        (LANDED, "X-1"),
    ]
    assert fixed(report) == [
        (OWNER_CHANGED, row.ticket_id, f"the ledger's holder is now {row.to_address}, as on chain"),
        (LANDED, "X-1", "completed with the attempt that landed"),
    ]
    assert list(world.ledger.tables["transfers"]) == ["X-1"]  # no observed move
    assert world.ledger.transfer("X-1").status == Status.COMPLETED


# -- what is never touched ------------------------------------------------------------------------


def test_chain_differs_is_only_reported(world):
    row = world.minted("T-1")
    world.put_nft(row, name="Forged")
    before = world.ledger.commits
    ((kind, _, done),) = fixed(fix(world))
    assert (kind, done, world.ledger.commits) == ("chain_differs", None, before)


def test_a_row_that_moved_since_it_was_read_is_left_alone(world):
    world.intent("T-1")
    stale = Discrepancy(STUCK, "nft_mints", "T-1", Status.SUBMITTED, "submitted for 601 s")
    gone = Discrepancy(STUCK, "nft_mints", "T-gone", Status.PENDING, "pending for 601 s")
    apply_fixes([stale, gone], uow_factory=world.uow, chain=world.chain, notify={})
    assert (stale.fixed, gone.fixed, world.ledger.commits) == (None, None, 1)
