"""The admin's retry and cancel of a mint (actors/workflows/admin.py) over the fake ledger."""

from __future__ import annotations

import pytest

from actors.infra.errors import IntentConflict
from actors.workflows.admin import CANCELLED, cancel_mint, retry_mint
from ledger.models import Status


def _fail(world, ticket_id: str, *, attempts: int = 0, error: str = "blockhash expired"):
    row = world.intent(ticket_id)  # the committed row: set as the lifecycle would leave it
    row.status, row.attempts, row.last_error = Status.FAILED, attempts, error


def test_retry_sends_a_failed_mint_back_to_pending_and_wakes_the_workers(world):
    _fail(world, "T-1", attempts=3)
    woken: list[str] = []
    row = retry_mint("T-1", uow_factory=world.uow, notify=woken.extend, by="ops")
    assert row.status == Status.PENDING and row.attempts == 3  # attempts kept
    assert "ops" in row.last_error and "blockhash expired" in row.last_error
    assert world.ledger.mint("T-1").status == Status.PENDING
    assert woken == ["T-1"]


def test_retry_survives_a_lost_wake_up(world):
    _fail(world, "T-1")

    def down(ids):
        raise ConnectionError("redis down")

    row = retry_mint("T-1", uow_factory=world.uow, notify=down)
    assert row.status == Status.PENDING  # committed: the sweeper picks it up


@pytest.mark.parametrize("status", [Status.PENDING, Status.SUBMITTED, Status.COMPLETED])
def test_retry_refuses_a_mint_that_has_not_failed(world, status):
    world.intent("T-1").status = status
    woken: list[str] = []
    with pytest.raises(IntentConflict) as refused:
        retry_mint("T-1", uow_factory=world.uow, notify=woken.extend)
    assert refused.value.field == "status" and status in str(refused.value)
    assert world.ledger.mint("T-1").status == status and woken == []


def test_cancel_fails_a_pending_mint(world):
    world.intent("T-1")
    row = cancel_mint("T-1", uow_factory=world.uow, by="ops")
    assert row.status == Status.FAILED and row.last_error == CANCELLED == "cancelled"
    assert world.ledger.mint("T-1").status == Status.FAILED


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.COMPLETED, Status.FAILED])
def test_cancel_refuses_a_mint_that_is_not_pending(world, status):
    world.intent("T-1").status = status
    with pytest.raises(IntentConflict) as refused:
        cancel_mint("T-1", uow_factory=world.uow)
    assert refused.value.field == "status" and status in str(refused.value)
    assert world.ledger.mint("T-1").status == status


def test_a_submitted_mint_cannot_be_cancelled_after_a_real_submit(world):
    world.submitted_mint("T-1")
    with pytest.raises(IntentConflict, match="submitted"):
        cancel_mint("T-1", uow_factory=world.uow)


def test_unknown_tickets_answer_none(world):
    assert retry_mint("NOPE", uow_factory=world.uow, notify=lambda ids: None) is None
    assert cancel_mint("NOPE", uow_factory=world.uow) is None
