"""Who holds a ticket per the ledger, and how it got there: its mint, then each completed move."""

from __future__ import annotations

from dataclasses import dataclass, field

from actors.workflows.ports import MintRow, UnitOfWork, UnitOfWorkFactory
from ledger.models import Status
from minter.errors import ValidationError
from minter.nft.operation import REISSUE


def holder_from(ticket: MintRow, operations, transfers, *, landed_only: bool = False) -> str:
    """Who holds the ticket per the ledger: its owner (or its latest reissue's), then each
    completed move, in the order they were recorded; ``landed_only``: what the chain should
    show (a reissue counts once its new version is on chain)."""
    holder = ticket.owner_address
    events = [(r.created_at, r.id, "reissue", r) for r in operations if r.kind == REISSUE]
    events += [(r.created_at, r.id, "transfer", r) for r in transfers]
    for _, _, kind, row in sorted(events, key=lambda e: (e[0], e[1])):
        if kind == "reissue" and (row.status == Status.COMPLETED or not landed_only):
            holder = row.payload["owner"]
        elif kind == "transfer" and row.status == Status.COMPLETED:
            holder = row.to_address
    return holder


def current_holder(uow: UnitOfWork, ticket_id: str) -> tuple[MintRow, str]:
    """The ticket's completed mint row and who holds it per the ledger."""
    mint = uow.mints.get(ticket_id)
    if mint is None or mint.status != Status.COMPLETED:
        raise ValidationError("ticket_id", f"ticket {ticket_id} has no completed mint")
    operations = uow.operations.for_ticket(ticket_id)
    return mint, holder_from(mint, operations, uow.transfers.for_ticket(ticket_id))


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
        operations = uow.operations.for_ticket(ticket_id)
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
    holder = holder_from(mint, operations, moves) if mint.status == Status.COMPLETED else None
    return History(ticket_id, holder, steps)
