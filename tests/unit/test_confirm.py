"""``confirm_submitted``, every branch, for mints and for transfers; and the sweeper.

Each test submits through the real workflow (``process_mint`` / ``process_transfer``) over the
fakes, arranges what the chain says, runs one confirmer pass and reads the ledger.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from solders.transaction_status import TransactionErrorFieldless

from actors.workflows.confirmer import DEFAULT_REBROADCAST_AFTER, ConfirmStats, confirmable
from actors.workflows.lifecycle import Kind, sweep
from actors.workflows.mints import MINTS
from actors.workflows.transfers import TRANSFERS
from ledger.models import Outcome, Status
from minter.rpc import SendOutcomeUnknown, TransactionRejected
from tests.unit.conftest import World

BEYOND_VALIDITY = 151  # blocks: past the last valid block height of any blockhash fetched now
REBROADCAST_AGE = DEFAULT_REBROADCAST_AFTER.total_seconds()  # an unseen row is sent again
AN_ERROR = TransactionErrorFieldless.AccountInUse  # not the payer's problem
PAYER_ERROR = TransactionErrorFieldless.InsufficientFundsForFee


def woken(world: World, kind: Kind) -> list[str]:
    return world.woken if kind is MINTS else world.woken_transfers


# -- landed ---------------------------------------------------------------------------------------


def test_landed_at_the_asked_level_completes(world, case):
    row = case.submit(world, "K-1")
    sends = len(world.chain.sent)
    world.chain.land(row.signature, level="confirmed")
    stats = world.confirm(case.kind)
    assert (stats.completed, stats.waiting, stats.rebroadcast) == (1, 0, 0)
    now = world.row(case.kind, "K-1")
    assert now.status == Status.COMPLETED and now.signature == row.signature
    assert world.attempts(case.kind, "K-1") == [(row.signature, Outcome.LANDED)]
    assert len(world.chain.sent) == sends and woken(world, case.kind) == []


@pytest.mark.parametrize(
    "level, commitment", [("processed", "confirmed"), ("confirmed", "finalized")]
)
def test_landed_below_the_asked_level_waits(world, case, level, commitment):
    row = case.submit(world, "K-1")
    world.chain.land(row.signature, level=level)
    stats = world.confirm(case.kind, commitment=commitment)
    assert (stats.waiting, stats.completed) == (1, 0)
    now = world.row(case.kind, "K-1")
    assert now.status == Status.SUBMITTED
    assert world.attempts(case.kind, "K-1") == [(row.signature, None)]


def test_rows_beyond_one_pass_are_looked_at_in_turn(world, case):
    """More submitted rows than a pass takes: each pass takes the least recently looked at,
    so a row waiting for its level never keeps a landed one from being completed."""
    rows = [case.submit(world, f"K-{i}") for i in range(3)]
    for row in rows[:2]:
        world.chain.land(row.signature, level="processed")  # wait for "confirmed"
    world.chain.land(rows[2].signature, level="confirmed")
    first = world.confirm(case.kind, limit=2)
    assert (first.waiting, first.completed) == (2, 0)  # K-0 and K-1, recorded first
    second = world.confirm(case.kind, limit=2)
    assert second.completed_ids == ["K-2"]


def test_a_status_without_a_level_is_finalized(world, case):
    row = case.submit(world, "K-1")
    world.chain.land(row.signature, level=None)  # finalized statuses may omit the level
    assert world.confirm(case.kind, commitment="finalized").completed == 1


# -- landed with an error (skip_preflight) ------------------------------------------------------


def test_a_mint_that_landed_with_an_error_but_exists_is_completed(world):
    row = world.submitted_mint("T-1")
    world.chain.land(row.signature, err=AN_ERROR)
    world.put_nft(row)  # an earlier attempt made it: the mint address is deterministic
    stats = world.confirm(MINTS)
    assert (stats.completed, stats.failed, stats.rebuild_ids) == (1, 0, [])
    assert world.ledger.mint("T-1").status == Status.COMPLETED
    ((_, outcome),) = world.attempts(MINTS, "T-1")
    assert outcome == Outcome.FAILED
    assert world.ledger.attempts("mint", "T-1")[0].error == str(AN_ERROR)


def test_a_mint_that_landed_with_a_payer_problem_goes_back_to_pending(world):
    row = world.submitted_mint("T-1")
    world.chain.land(row.signature, err=PAYER_ERROR)
    stats = world.confirm(MINTS)
    assert (stats.completed, stats.failed, stats.rebuild_ids) == (0, 0, ["T-1"])
    now = world.ledger.mint("T-1")
    assert now.status == Status.PENDING and now.last_error == str(PAYER_ERROR)
    assert world.woken == ["T-1"]


def test_a_mint_that_landed_with_another_error_fails(world):
    row = world.submitted_mint("T-1")
    world.chain.land(row.signature, err=AN_ERROR)
    stats = world.confirm(MINTS)
    assert (stats.completed, stats.failed, stats.rebuild_ids) == (0, 1, [])
    now = world.ledger.mint("T-1")
    assert now.status == Status.FAILED
    assert now.last_error == f"refused by the cluster: {AN_ERROR}"
    assert world.woken == []


@pytest.mark.parametrize("err", [AN_ERROR, PAYER_ERROR])
def test_a_transfer_that_landed_with_an_error_is_rebuilt(world, err):
    row = world.submitted_transfer("X-1")
    world.chain.land(row.signature, err=err)
    stats = world.confirm(TRANSFERS)
    assert (stats.completed, stats.failed, stats.rebuild_ids) == (0, 0, ["X-1"])
    now = world.ledger.transfer("X-1")
    assert now.status == Status.PENDING and now.last_error == str(err)
    assert world.woken_transfers == ["X-1"]
    assert world.attempts(TRANSFERS, "X-1") == [(row.signature, Outcome.FAILED)]


# -- not seen -----------------------------------------------------------------------------------


def test_unseen_while_valid_rebroadcasts_the_same_bytes(world, case):
    row = case.submit(world, "K-1")
    world.ledger.attempts(case.kind.name, "K-1")[0].sent_at = None  # died before its send
    world.chain.advance(BEYOND_VALIDITY - 1)  # the last valid block: still valid
    world.ledger.tick(REBROADCAST_AGE)
    stats = world.confirm(case.kind)
    assert (stats.rebroadcast, stats.rebuilt, stats.completed) == (1, 0, 0)
    assert world.chain.sent[-1] == row.signed_tx
    assert world.row(case.kind, "K-1").status == Status.SUBMITTED
    (attempt,) = world.ledger.attempts(case.kind.name, "K-1")
    assert attempt.sent_at is not None and attempt.outcome is None


def test_an_unseen_row_younger_than_the_rebroadcast_age_is_not_sent_again(world, case):
    """A batch sends its rows one after another after its commit: the confirmer must not send
    a second copy of one its worker is about to send (a node's own period: 2 s)."""
    row = case.submit(world, "K-1")
    world.ledger.tick(REBROADCAST_AGE - 0.5)
    sent = len(world.chain.sent)
    assert world.confirm(case.kind).rebroadcast == 0
    assert len(world.chain.sent) == sent
    world.ledger.tick(0.5)
    assert world.confirm(case.kind).rebroadcast == 1
    assert world.chain.sent[-1] == row.signed_tx


@pytest.mark.parametrize("error", [SendOutcomeUnknown("timeout"), TransactionRejected("Dup")])
def test_a_failed_rebroadcast_is_resolved_on_a_later_pass(world, case, error):
    case.submit(world, "K-1")
    world.ledger.tick(REBROADCAST_AGE)
    world.chain.send_errors.append(error)
    assert world.confirm(case.kind).rebroadcast == 1
    assert world.row(case.kind, "K-1").status == Status.SUBMITTED


def test_expired_but_it_happened_completes_with_the_attempt_that_landed(world, case):
    first = case.submit(world, "K-1")
    world.chain.advance(BEYOND_VALIDITY)
    assert world.confirm(case.kind).rebuilt == 1  # the first attempt expired unseen
    assert case.process(world, "K-1") == Status.SUBMITTED
    second = world.row(case.kind, "K-1")
    world.chain.land(first.signature)  # it was only late
    case.happen(world, first)
    world.chain.advance(BEYOND_VALIDITY)
    stats = world.confirm(case.kind)
    assert (stats.completed, stats.rebuilt, stats.failed) == (1, 0, 0)
    now = world.row(case.kind, "K-1")
    assert now.status == Status.COMPLETED and now.signature == first.signature
    assert world.attempts(case.kind, "K-1") == [
        (first.signature, Outcome.LANDED),
        (second.signature, Outcome.SUPERSEDED),
    ]


def test_expired_and_absent_goes_back_to_pending_and_is_woken(world, case):
    row = case.submit(world, "K-1")
    world.chain.advance(BEYOND_VALIDITY)
    stats = world.confirm(case.kind, max_attempts=2)
    assert (stats.rebuilt, stats.rebuild_ids, stats.failed) == (1, ["K-1"], 0)
    now = world.row(case.kind, "K-1")
    assert now.status == Status.PENDING and now.last_error == "blockhash expired unseen"
    assert woken(world, case.kind) == ["K-1"]
    assert world.attempts(case.kind, "K-1") == [(row.signature, Outcome.EXPIRED)]


@pytest.mark.parametrize("cap", [1, 2])
def test_the_last_allowed_attempt_expiring_fails_the_row_and_wakes_nothing(world, case, cap):
    case.submit(world, "K-1")
    for _ in range(cap - 1):  # every earlier attempt expired unseen and was rebuilt
        world.chain.advance(BEYOND_VALIDITY)
        world.confirm(case.kind, max_attempts=cap)
        assert case.process(world, "K-1") == Status.SUBMITTED
    woken(world, case.kind).clear()
    world.chain.advance(BEYOND_VALIDITY)
    stats = world.confirm(case.kind, max_attempts=cap)
    assert (stats.failed, stats.rebuilt, stats.rebuild_ids) == (1, 0, [])
    now = world.row(case.kind, "K-1")
    assert now.status == Status.FAILED and now.attempts == cap
    assert now.last_error == (
        f"all {cap} attempts expired unseen; the {case.kind.name} is not on chain"
    )
    assert woken(world, case.kind) == []
    assert [o for _, o in world.attempts(case.kind, "K-1")] == [Outcome.EXPIRED] * cap


# -- the pass as a whole ----------------------------------------------------------------------


def test_nothing_submitted_is_a_quiet_pass(world, case):
    assert world.confirm(case.kind) == ConfirmStats()
    assert world.ledger.commits == 0 and woken(world, case.kind) == []


def test_each_row_of_a_batch_gets_its_own_fate(world):
    landed = world.submitted_mint("T-1")
    world.chain.advance(BEYOND_VALIDITY)
    world.submitted_mint("T-2")  # signed now: still valid
    world.submitted_mint("T-3")
    world.ledger.tables["mints"]["T-3"].last_valid_block_height = world.chain.height - 1
    world.chain.land(landed.signature)
    world.ledger.tick(REBROADCAST_AGE)
    stats = world.confirm(MINTS)
    assert (stats.completed, stats.rebroadcast, stats.rebuilt) == (1, 1, 1)
    statuses = [world.ledger.mint(t).status for t in ("T-1", "T-2", "T-3")]
    assert statuses == [Status.COMPLETED, Status.SUBMITTED, Status.PENDING]
    assert world.woken == ["T-3"]


def test_a_row_another_confirmer_holds_is_left_alone(world, case):
    row = case.submit(world, "K-1")
    world.chain.land(row.signature)
    world.ledger.held.add("K-1")
    assert world.confirm(case.kind) == ConfirmStats()
    assert world.row(case.kind, "K-1").status == Status.SUBMITTED


# -- the sweeper ----------------------------------------------------------------------------------


def test_the_sweeper_wakes_only_pending_rows_idle_for_long_enough(world):
    world.intent("T-old")
    world.ledger.tick(31)
    world.intent("T-new")
    world.submitted_mint("T-sent")
    world.ledger.tick(31)
    woken: list[str] = []
    n = sweep(
        uow_factory=world.uow,
        notify=woken.extend,
        kind=MINTS,
        pending_age=timedelta(seconds=40),
    )
    assert (n, woken) == (1, ["T-old"])
    # touched: the next sweep waits another pending_age for it
    assert sweep(uow_factory=world.uow, notify=woken.extend, kind=MINTS) == 1  # T-new, 31 s
    assert woken == ["T-old", "T-new"]


def test_the_sweeper_wakes_nothing_when_nothing_is_stale(world):
    world.intent("T-1")
    woken: list[str] = []
    assert sweep(uow_factory=world.uow, notify=woken.extend, kind=TRANSFERS) == 0
    assert woken == []


def test_a_pass_looks_only_at_kinds_with_submitted_rows(world):
    assert confirmable(world.ledger.uow, [MINTS, TRANSFERS]) == []
    world.submitted_mint("T-1")
    assert confirmable(world.ledger.uow, [MINTS, TRANSFERS]) == [MINTS]
