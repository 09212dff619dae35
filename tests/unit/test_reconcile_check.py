"""Reconciliation's classification: each class, for mints and for transfers, and the clean case."""

from __future__ import annotations

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction_status import TransactionErrorFieldless
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.workflows.reconcile import DEFAULT_STUCK_AFTER, reconcile
from actors.workflows.reconcile.model import DIFFERS, LANDED, MISSING, OWNER_CHANGED, STUCK
from actors.workflows.transfers import TRANSFERS
from ledger.models import Status
from tests.unit.conftest import World

STUCK_FOR = DEFAULT_STUCK_AFTER.total_seconds() + 1


def found(world: World) -> list[tuple[str, str, str]]:
    report = reconcile(uow_factory=world.uow, chain=world.chain)
    return [(d.kind, d.key, d.detail) for d in report.discrepancies]


def kinds(world: World) -> list[tuple[str, str]]:
    return [(kind, key) for kind, key, _ in found(world)]


def completed_transfer(world: World, transfer_id: str = "X-1"):
    row = world.submitted_transfer(transfer_id)
    world.chain.land(row.signature)
    world.move_on_chain(row)
    world.confirm(TRANSFERS)
    assert world.ledger.transfer(transfer_id).status == Status.COMPLETED
    return world.ledger.transfer(transfer_id)


# -- clean ----------------------------------------------------------------------------------------


def test_a_ledger_that_agrees_with_the_chain_reports_nothing(world):
    world.minted("T-1")
    completed_transfer(world)
    world.intent("T-fresh")  # pending, but not for long: a worker will take it
    report = reconcile(uow_factory=world.uow, chain=world.chain)
    assert report.agrees and report.discrepancies == []
    assert (report.mints, report.transfers) == (3, 1)


# -- mints ----------------------------------------------------------------------------------------


def test_a_completed_mint_absent_from_chain_is_missing(world):
    row = world.minted("T-1")
    world.chain.put(Pubkey.from_string(row.mint_address), None)
    assert found(world) == [(MISSING, "T-1", "mint account does not exist")]


def test_a_mint_on_chain_but_pending_or_failed_in_the_ledger_landed(world):
    world.put_nft(world.intent("T-1"))
    world.put_nft(world.intent("T-2"))
    with world.uow() as uow:
        uow.mints.mark_failed("T-2", expected=Status.PENDING, reason="gave up")
        uow.commit()
    assert kinds(world) == [(LANDED, "T-1"), (LANDED, "T-2")]


def test_a_mint_held_by_another_wallet_changed_owner(world):
    row = world.minted("T-1")
    thief = Keypair().pubkey()
    mint = Pubkey.from_string(row.mint_address)
    world.chain.hold(mint, Pubkey.from_string(row.owner_address), TOKEN_2022_PROGRAM_ID, 0)
    world.chain.hold(mint, thief, TOKEN_2022_PROGRAM_ID)
    assert found(world) == [
        (OWNER_CHANGED, "T-1", f"held by {thief}; ledger says {row.owner_address}")
    ]


def test_a_burned_mint_is_held_by_no_one(world):
    row = world.minted("T-1")
    mint = Pubkey.from_string(row.mint_address)
    world.chain.hold(mint, Pubkey.from_string(row.owner_address), TOKEN_2022_PROGRAM_ID, 0)
    ((kind, _, detail),) = found(world)
    assert (kind, detail) == (OWNER_CHANGED, f"held by no one; ledger says {row.owner_address}")


def test_a_claim_of_ours_in_flight_explains_the_move(world):
    row = world.submitted_transfer("X-1")
    world.chain.land(row.signature)
    world.move_on_chain(row)  # landed, not yet confirmed: the confirmer completes it
    assert found(world) == []


def test_a_mint_whose_supply_or_metadata_differs_is_reported(world):
    one, two = world.minted("T-1"), world.minted("T-2")
    world.put_nft(one, supply=2)
    world.put_nft(two, name="Forged")
    ((k1, t1, d1), (k2, t2, d2)) = found(world)
    assert (k1, t1, k2, t2) == (DIFFERS, "T-1", DIFFERS, "T-2")
    assert "supply is 2" in d1 and "Forged" in d2


def test_a_payload_that_no_longer_parses_is_reported_as_differing(world):
    world.minted("T-1")
    world.ledger.tables["mints"]["T-1"].payload["owner"] = "not an address"
    ((kind, key, detail),) = found(world)
    assert (kind, key) == (DIFFERS, "T-1") and detail.startswith("payload unreadable: ")


def test_pending_and_submitted_mints_idle_too_long_are_stuck(world):
    world.intent("T-1")
    world.submitted_mint("T-2")
    world.ledger.tick(STUCK_FOR)
    world.intent("T-3")  # fresh: not stuck
    assert found(world) == [
        (STUCK, "T-1", f"pending for {int(STUCK_FOR)} s"),
        (STUCK, "T-2", f"submitted for {int(STUCK_FOR)} s"),
    ]


# -- transfers ------------------------------------------------------------------------------------


def test_a_completed_transfer_whose_signature_is_unknown_is_missing(world):
    row = completed_transfer(world)
    world.chain.forget(row.signature)  # e.g. the ledger was restored on another cluster
    assert (MISSING, "X-1", "signature unknown to the cluster") in found(world)


def test_a_completed_transfer_whose_signature_failed_is_missing(world):
    row = completed_transfer(world)
    err = TransactionErrorFieldless.AccountInUse
    world.chain.land(row.signature, err=err)
    assert (MISSING, "X-1", f"failed: {err}") in found(world)


def test_a_transfer_that_landed_but_is_pending_or_failed_in_the_ledger(world):
    row = world.submitted_transfer("X-1")
    world.chain.advance(151)
    world.confirm(TRANSFERS)  # expired unseen: back to pending, signature kept
    assert world.ledger.transfer("X-1").status == Status.PENDING
    world.chain.land(row.signature)  # it was only late
    world.move_on_chain(row)
    assert kinds(world) == [(LANDED, "X-1")]
    with world.uow() as uow:
        uow.transfers.mark_failed("X-1", expected=Status.PENDING, reason="gave up")
        uow.commit()
    assert (LANDED, "X-1", f"signature {row.signature} landed") in found(world)


def test_a_transfer_idle_too_long_is_stuck(world):
    world.submitted_transfer("X-1")
    world.ledger.tick(STUCK_FOR)
    assert (STUCK, "X-1", f"submitted for {int(STUCK_FOR)} s") in found(world)


def test_a_ticket_moved_after_its_last_claim_changed_owner(world):
    row = completed_transfer(world)
    elsewhere = Keypair().pubkey()
    world.move_on_chain(row, to=str(elsewhere))  # from the claim's destination onwards
    mint = Pubkey.from_string(row.token_address)
    world.chain.hold(mint, Pubkey.from_string(row.to_address), TOKEN_2022_PROGRAM_ID, 0)
    assert found(world) == [
        (OWNER_CHANGED, row.ticket_id, f"held by {elsewhere}; ledger says {row.to_address}")
    ]


# -- a row that moved while it was read -----------------------------------------------------------


def test_a_row_that_moved_since_it_was_read_is_not_reported(world):
    world.intent("T-1")
    world.ledger.tick(STUCK_FOR)
    opened = 0

    def uow_factory():
        nonlocal opened
        opened += 1
        if opened == 2:  # between the read and the re-check, a worker took it
            world.ledger.tables["mints"]["T-1"].status = Status.SUBMITTED
        return world.ledger.uow()

    assert reconcile(uow_factory=uow_factory, chain=world.chain).discrepancies == []
