"""The guards the review of the lifecycle asked for: one move of a ticket at a time, a refusal
that does not count as done, failures that stop what was built on them."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair

from actors.infra.errors import IntentConflict
from actors.workflows.collections import COLLECTIONS
from actors.workflows.mints import WAITING
from actors.workflows.ticket_ops import OPERATIONS
from actors.workflows.transfers import enqueue_transfer
from ledger.models import Status
from minter.rpc import TransactionRejected
from tests.unit.conftest import SECRET
from tests.unit.test_events import put, ticket
from tests.unit.test_ticket_lifecycle import core_ticket, do, process


def resell(world, transfer_id: str, ticket_id: str, reason: str = "resale"):
    body = {
        "transfer_id": transfer_id,
        "ticket_id": ticket_id,
        "to": str(Keypair().pubkey()),
        "reason": reason,
    }
    return enqueue_transfer(
        body,
        uow_factory=world.uow,
        signer=world.transfer_signer,
        notify=world.woken_transfers.extend,
        mint_secret=SECRET,
    )


def test_a_second_resale_is_refused_while_one_is_open(world):
    core_ticket(world)
    assert resell(world, "sale-1", "T-1").created
    with pytest.raises(IntentConflict) as err:
        resell(world, "sale-2", "T-1")
    assert "transfer in progress" in str(err.value)
    assert set(world.ledger.tables["transfers"]) == {"sale-1"}


def test_a_checked_in_ticket_is_resold_only_for_support(world):
    core_ticket(world)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    with pytest.raises(IntentConflict) as err:
        resell(world, "sale-1", "T-1")
    assert "checked in" in str(err.value)
    assert resell(world, "help-1", "T-1", reason="support").created


def test_an_operation_waits_for_a_transfer_asked_before_it(world):
    core_ticket(world)
    resell(world, "sale-1", "T-1")
    world.ledger.tick(1)
    do(world, "invalidate", "T-1", operation_id="void-1", reason="refund")
    assert process(world, "void-1") == WAITING
    assert "transfer of ticket T-1" in world.ledger.operation("void-1").last_error


def test_a_refused_send_is_not_an_operation_done(world):
    core_ticket(world)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    world.chain.send_errors.append(TransactionRejected("AccountFrozen"))
    outcome = process(world, "scan-1")
    # the asset exists, but does not show the check-in: not completed
    assert outcome == Status.FAILED
    assert world.ledger.operation("scan-1").status == Status.FAILED


def test_operations_after_a_failed_one_fail_too(world):
    core_ticket(world)
    do(world, "invalidate", "T-1", operation_id="void-1", reason="refund")
    do(world, "reissue", "T-1", operation_id="again-1")
    with world.uow() as uow:
        uow.operations.mark_failed("void-1", expected=Status.PENDING, reason="refused")
        uow.commit()
    assert process(world, "again-1") == Status.FAILED
    assert "earlier operation void-1" in world.ledger.operation("again-1").last_error
    assert len(world.chain.sent) == 2  # the collection and the mint only: no second version


def test_tickets_of_a_failed_collection_fail_saying_why(world):
    put(world)
    ticket(world, "T-1", event_id="E-1")
    with world.uow() as uow:
        uow.collections.mark_failed("E-1", expected=Status.PENDING, reason="refused")
        uow.commit()
    assert world.process_mint("T-1") == Status.FAILED
    assert "collection of event E-1 failed" in world.ledger.mint("T-1").last_error
    assert COLLECTIONS.name == "collection" and OPERATIONS.name == "operation"


def test_a_pending_event_named_by_tickets_keeps_its_fields(world):
    put(world, capacity=10)
    ticket(world, "T-1", event_id="E-1")
    with pytest.raises(IntentConflict) as err:
        put(world, capacity=1)
    assert err.value.field == "capacity" and "1 tickets name it" in str(err.value)
    assert world.ledger.collection("E-1").capacity == 10
