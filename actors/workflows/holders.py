"""Who holds a ticket per the ledger, and how it got there: its mint, then each completed move."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from actors.workflows.ports import MintRow, TransferRow, UnitOfWork, UnitOfWorkFactory
from ledger.models import Status
from minter.errors import ValidationError


def ledger_holder(mint: MintRow, moves: Sequence[TransferRow]) -> str:
    """Who holds the ticket per the ledger: its owner, then each completed move's destination."""
    holder = mint.owner_address
    for t in moves:
        if t.status == Status.COMPLETED:
            holder = t.to_address
    return holder


def current_holder(uow: UnitOfWork, ticket_id: str) -> tuple[MintRow, str]:
    """The ticket's completed mint row and who holds it per the ledger."""
    mint = uow.mints.get(ticket_id)
    if mint is None or mint.status != Status.COMPLETED:
        raise ValidationError("ticket_id", f"ticket {ticket_id} has no completed mint")
    return mint, ledger_holder(mint, uow.transfers.for_ticket(ticket_id))


@dataclass
class History:
    ticket_id: str
    holder: str
    steps: list[dict] = field(default_factory=list)


def ticket_history(ticket_id: str, *, uow_factory: UnitOfWorkFactory) -> History | None:
    """Who holds ticket T now per the ledger, and how it got there: the mint, then each move."""
    with uow_factory() as uow:
        mint = uow.mints.get(ticket_id)
        if mint is None:
            return None
        moves = uow.transfers.for_ticket(ticket_id)
    steps = [
        {
            "kind": "mint",
            "to": mint.owner_address,
            "status": mint.status,
            "signature": mint.signature,
            "at": mint.completed_at,
        }
    ]
    for t in moves:
        steps.append(
            {
                "kind": "transfer",
                "id": t.transfer_id,
                "from": t.from_address,
                "to": t.to_address,
                "status": t.status,
                "signature": t.signature,
                "at": t.completed_at,
                "error": t.last_error,
            }
        )
    holder = ledger_holder(mint, moves) if mint.status == Status.COMPLETED else None
    return History(ticket_id, holder, steps)
