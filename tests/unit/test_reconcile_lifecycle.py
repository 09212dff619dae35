"""Reconciliation of events' collections and ticket operations, over the in-memory fakes."""

from __future__ import annotations

from solders.account import Account
from solders.pubkey import Pubkey

from actors.workflows.reconcile import reconcile
from ledger.models import Status
from minter.nft.core import CORE_PROGRAM_ID
from tests.unit.test_events import put
from tests.unit.test_ticket_lifecycle import core_ticket, do, process

TOMBSTONE = Account(890_880, b"\0", CORE_PROGRAM_ID, False, 0)  # what Core's burn leaves


def run(world, *, fix: bool = False):
    return reconcile(
        uow_factory=world.uow,
        chain=world.chain,
        fix=fix,
        notify=world.woken.extend,
        notify_transfers=world.woken_transfers.extend,
        notify_collections=world.woken_collections.extend,
        notify_operations=world.woken_operations.extend,
    )


def found(report) -> list[tuple[str, str, str, str | None]]:
    return [(d.kind, d.table, d.key, d.fixed) for d in report.discrepancies]


def test_a_completed_collection_missing_on_chain_and_a_pending_one_that_landed(world):
    core_ticket(world)  # E-1's collection completed, on chain as far as the ledger knows
    put(world, "E-2")
    address = Pubkey.from_string(world.ledger.collection("E-2").collection_address)
    world.chain.put(address, Account(2_000_000, b"\5", CORE_PROGRAM_ID, False, 0))
    report = run(world)
    assert report.collections == 2
    assert ("missing_on_chain", "nft_collections", "E-1", None) in found(report)
    assert ("on_chain_not_completed", "nft_collections", "E-2", None) in found(report)
    repaired = run(world, fix=True)
    assert ("on_chain_not_completed", "nft_collections", "E-2", "completed with the attempt "
            "that landed") in found(repaired)  # fmt: skip
    assert world.ledger.collection("E-2").status == Status.COMPLETED


def test_a_failed_operation_is_reported_and_a_landed_one_completed(world):
    row = core_ticket(world)
    world.chain.put(
        Pubkey.from_string(world.ledger.collection("E-1").collection_address),
        Account(2_000_000, b"\5", CORE_PROGRAM_ID, False, 0),
    )
    do(world, "invalidate", "T-1", operation_id="void-1", reason="refund")
    assert process(world, "void-1") == Status.SUBMITTED
    world.chain.put(Pubkey.from_string(row.mint_address), TOMBSTONE)  # the burn landed
    with world.uow() as uow:  # while the ledger lost track of it
        uow.operations.reset_to_pending("void-1", expected=Status.SUBMITTED, reason="lost")
        uow.commit()
    report = run(world, fix=True)
    (landed,) = [f for f in found(report) if f[1] == "ticket_operations"]
    assert landed[0] == "on_chain_not_completed" and landed[3] is not None
    assert world.ledger.operation("void-1").status == Status.COMPLETED
    assert report.operations == 1

    do(world, "reissue", "T-1", operation_id="again-1")
    with world.uow() as uow:
        uow.operations.mark_failed("again-1", expected=Status.PENDING, reason="refused: x")
        uow.commit()
    again = run(world)
    assert ("chain_differs", "ticket_operations", "again-1", None) in found(again)
