"""The ticket lifecycle, decided in the ledger (DESIGN.md, Ticket lifecycle).

Each operation is one guarded UPDATE of the ticket's ``state`` and a ``ticket_operations`` row
in the same transaction, committed before anything is sent; the chain write follows through
:mod:`actors.workflows.ticket_ops`. So a door scanner's answer never waits for the chain, and
of concurrent scans of one ticket exactly one is admitted. A repeat of an ``operation_id`` with
the same body answers what the first did; another body under it is a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import structlog

from actors.infra.errors import IntentConflict
from actors.workflows.holders import holder_from
from actors.workflows.ports import MintRow, OperationRow, UnitOfWork, UnitOfWorkFactory
from ledger.models import Status, TicketState
from minter.keys import derive_version_keypair
from minter.nft.operation import (
    CHECK_IN,
    INVALIDATE,
    REISSUE,
    OperationRequest,
    iso_utc,
    parse_operation,
)

log = structlog.get_logger(__name__)

# what each operation may start from
_FROM = {
    CHECK_IN: (TicketState.MINTED, TicketState.REISSUED),
    INVALIDATE: (TicketState.MINTED, TicketState.CHECKED_IN, TicketState.REISSUED),
    REISSUE: (TicketState.INVALIDATED,),
}
_TO = {
    CHECK_IN: TicketState.CHECKED_IN,
    INVALIDATE: TicketState.INVALIDATED,
    REISSUE: TicketState.REISSUED,
}
SUPPORTED = ("core", "token2022")  # the standards whose lifecycle is built
_OPEN = (Status.PENDING, Status.SUBMITTED)


class TicketNotFound(LookupError):
    """Raised when the ticket is not in the ledger (or not the caller's to see)."""


class AlreadyCheckedIn(IntentConflict):
    """Raised when a ticket was already scanned: the answer names the first scan."""

    def __init__(self, ticket_id: str, first_at: datetime, gate: str | None) -> None:
        super().__init__(
            "ticket_id", f"ticket {ticket_id} was already checked in at {first_at} ({gate})"
        )
        self.first_checked_in_at = first_at
        self.gate = gate


@dataclass(frozen=True)
class Operated:
    operation: OperationRow
    ticket: MintRow
    created: bool


def operate(
    kind: str,
    ticket_id: str,
    body: Mapping,
    *,
    uow_factory: UnitOfWorkFactory,
    mint_secret: bytes,
    notify: Callable[[list[str]], None],
    visible: Callable[[MintRow], bool] = lambda row: True,
    actor: str | None = None,
) -> Operated:
    """Decide ``kind`` for the ticket in the ledger, record its operation, wake the worker.

    ``visible`` says whether the caller may see the ticket (a venue's admin: its own venue's
    only); an invisible ticket is :class:`TicketNotFound`, as an absent one."""
    req = parse_operation(kind, body)
    with uow_factory() as uow:
        ticket = uow.mints.get(ticket_id)
        if ticket is None or not visible(ticket):
            raise TicketNotFound(ticket_id)
        repeat = _repeat(uow, req, ticket_id)
        if repeat is not None:
            return Operated(repeat, ticket, False)
        _supported(ticket, kind)
        try:
            moved = _move(uow, req, ticket)
        except IntentConflict:
            repeat = _repeat(uow, req, ticket_id)  # the same request, committed meanwhile
            if repeat is None:
                raise
            return Operated(repeat, uow.mints.get(ticket_id), False)
        row = _record(uow, req, moved, mint_secret=mint_secret, actor=actor)
        uow.commit()
    try:
        notify([row.operation_id])
    except Exception as exc:  # committed: the sweeper re-enqueues stale pending rows
        log.warning("wake_up_failed", operation_id=row.operation_id, error=type(exc).__name__)
    log.info("ticket_operation", ticket_id=ticket_id, kind=kind, operation_id=row.operation_id)
    return Operated(row, moved, True)


def _repeat(uow: UnitOfWork, req: OperationRequest, ticket_id: str) -> OperationRow | None:
    row = uow.operations.get(req.operation_id)
    if row is None:
        return None
    same = (row.ticket_id, row.kind, row.payload.get("request")) == (ticket_id, req.kind, req.body)
    if not same:
        raise IntentConflict(
            "operation_id", f"operation {req.operation_id} exists with another body"
        )
    return row


def _supported(ticket: MintRow, kind: str) -> None:
    if ticket.standard not in SUPPORTED:
        raise IntentConflict(
            "standard",
            f"{kind.replace('_', '-')} is not supported for the {ticket.standard} standard; "
            "use core",
        )
    if ticket.status == Status.FAILED:
        raise IntentConflict("ticket_id", f"ticket {ticket.ticket_id} was never minted (failed)")


def _move(uow: UnitOfWork, req: OperationRequest, ticket: MintRow) -> MintRow:
    """The one guarded UPDATE that decides; a loser learns why from the row as it is now."""
    expected = [s.value for s in _FROM[req.kind]]
    if req.kind == CHECK_IN:
        moved = uow.mints.admit(ticket.ticket_id, expected=expected, gate=req.body["gate"])
    elif req.kind == REISSUE:
        if any(t.status in _OPEN for t in uow.transfers.for_ticket(ticket.ticket_id)):
            # its owner defaults to the last holder: not while a move may change who that is
            raise IntentConflict("ticket_id", f"ticket {ticket.ticket_id} has a transfer open")
        moved = uow.mints.reissue(ticket.ticket_id, expected=expected)
    else:
        moved = uow.mints.change_state(ticket.ticket_id, expected=expected, state=_TO[req.kind])
    if moved is not None:
        return moved
    now = uow.mints.get(ticket.ticket_id)
    if req.kind == CHECK_IN and now.state == TicketState.CHECKED_IN:
        raise AlreadyCheckedIn(now.ticket_id, now.checked_in_at, now.checked_in_gate)
    raise IntentConflict(
        "ticket_id", f"ticket {now.ticket_id} is {now.state}: cannot {req.kind.replace('_', '-')}"
    )


def version_address(ticket: MintRow, version: int, *, mint_secret: bytes) -> str:
    if version == 1:
        return ticket.mint_address
    return str(derive_version_keypair(mint_secret, ticket.ticket_id, version).pubkey())


def _record(
    uow: UnitOfWork, req: OperationRequest, ticket: MintRow, *, mint_secret: bytes, actor
) -> OperationRow:
    payload: dict = {"request": req.body, "actor": actor}
    if req.kind == REISSUE:
        payload["owner"] = req.body.get("owner") or holder_of(uow, ticket)
    if req.kind == CHECK_IN:
        payload["checked_in_at"] = ticket.checked_in_at.isoformat()
    ((row, created),) = uow.operations.add_intents(
        [
            {
                "operation_id": req.operation_id,
                "ticket_id": ticket.ticket_id,
                "kind": req.kind,
                "version": ticket.version,
                "address": version_address(ticket, ticket.version, mint_secret=mint_secret),
                "payload": payload,
            }
        ]
    )
    if not created:  # the id was taken meanwhile (by another ticket): undo the state move
        raise IntentConflict(
            "operation_id", f"operation {req.operation_id} exists with another body"
        )
    return row


def holder_of(uow: UnitOfWork, ticket: MintRow) -> str:
    """Who holds the ticket per the ledger: its owner (or its reissue's), then each move."""
    operations = uow.operations.for_ticket(ticket.ticket_id)
    return holder_from(ticket, operations, uow.transfers.for_ticket(ticket.ticket_id))


@dataclass(frozen=True)
class OnChain:
    """What the chain should show of a ticket, from its mint and its landed operations."""

    address: str  # the current version's asset
    checked_in: str | None  # the checked_in attribute, once the check-in landed
    burned: bool  # the current version was burned by an invalidation that landed
    frozen: bool  # a landed check-in (or invalidation outside a collection) froze it


def on_chain(ticket: MintRow, operations) -> OnChain:
    address, checked_in, burned, frozen = ticket.mint_address, None, False, False
    for op in operations:
        if op.status != Status.COMPLETED:
            continue
        if op.kind == REISSUE:
            address, checked_in, burned, frozen = op.address, None, False, False
        elif op.kind == CHECK_IN and op.address == address:
            checked_in = iso_utc(datetime.fromisoformat(op.payload["checked_in_at"]))
            frozen = True
        elif op.kind == INVALIDATE and op.address == address:
            # a Core ticket outside a collection has no burn delegate: frozen instead
            burned = ticket.standard != "core" or ticket.event_id is not None
            frozen = True
    return OnChain(address, checked_in, burned, frozen)


def ticket_view(
    ticket_id: str,
    *,
    uow_factory: UnitOfWorkFactory,
    mint_secret: bytes,
    visible: Callable[[MintRow], bool] = lambda row: True,
) -> dict | None:
    """``GET /v1/tickets/{id}``: lifecycle state, versions, holder and history (None: 404)."""
    with uow_factory() as uow:
        ticket = uow.mints.get(ticket_id)
        if ticket is None or not visible(ticket):
            return None
        return render_ticket(uow, ticket, mint_secret=mint_secret)


def render_ticket(uow: UnitOfWork, ticket: MintRow, *, mint_secret: bytes) -> dict:
    """The ticket as its route shows it, read in ``uow`` (also its webhook events' data)."""
    operations = uow.operations.for_ticket(ticket.ticket_id)
    transfers = uow.transfers.for_ticket(ticket.ticket_id)
    holder = holder_from(ticket, operations, transfers)
    reissues = {op.version: op for op in operations if op.kind == REISSUE}
    versions = []
    for n in range(1, ticket.version + 1):
        created = ticket if n == 1 else reissues.get(n)
        versions.append(
            {
                "version": n,
                "address": version_address(ticket, n, mint_secret=mint_secret),
                "status": created.status if created is not None else None,
                "valid": n == ticket.version and ticket.state != TicketState.INVALIDATED,
            }
        )
    history = [
        {
            "kind": "mint",
            "status": ticket.status,
            "at": ticket.completed_at,
            "to": ticket.owner_address,
        }
    ]
    steps = [(op.created_at, op.id, _operation_step(op)) for op in operations]
    steps += [(t.created_at, t.id, _transfer_step(t)) for t in transfers]
    history += [step for _, _, step in sorted(steps, key=lambda s: (s[0], s[1]))]
    return {
        "ticket_id": ticket.ticket_id,
        "state": ticket.state,
        "standard": ticket.standard,
        "event_id": ticket.event_id,
        "venue_id": ticket.venue_id,
        "holder": holder,
        "checked_in_at": ticket.checked_in_at,
        "gate": ticket.checked_in_gate,
        "versions": versions,
        "history": history,
    }


def _operation_step(op: OperationRow) -> dict:
    return {
        "kind": op.kind,
        "operation_id": op.operation_id,
        "version": op.version,
        "status": op.status,
        "signature": op.signature,
        "at": op.created_at,
        "by": op.payload.get("actor"),  # the token's subject: the scanner, the admin
        **{k: v for k, v in op.payload["request"].items() if k != "operation_id"},
    }


def _transfer_step(t) -> dict:
    return {
        "kind": "transfer",
        "transfer_id": t.transfer_id,
        "from": t.from_address,
        "to": t.to_address,
        "reason": t.payload.get("reason", "claim"),
        "status": t.status,
        "signature": t.signature,
        "at": t.created_at,
    }
