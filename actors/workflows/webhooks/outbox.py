"""Events from ledger changes, written by the unit of work's commit, in its transaction.

The ledger notes each terminal change (``ledger.repository.Change``); :func:`publisher` builds
the hook that renders each as an event whose ``data`` is the object as its GET route shows it,
plus the signature and slot, and owes it to the subscribed endpoints. Changes with no event
type (a failed collection or operation) are recorded by their rows alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import structlog

from actors.workflows.collections import render_event
from actors.workflows.ports import UnitOfWork
from actors.workflows.tickets import render_ticket
from actors.workflows.views import mint_view, plain, transfer_view
from ledger.models import Status
from ledger.repository import Change

log = structlog.get_logger(__name__)

OPERATION_EVENTS = {
    "check_in": "ticket.checked_in",
    "invalidate": "ticket.invalidated",
    "reissue": "ticket.reissued",
}

Owed = list[tuple[int, int]]  # (dispatch id, endpoint id)
Wake = Callable[[Owed], None]


def render(
    uow: UnitOfWork, change: Change, *, mint_secret: bytes, rows: dict | None = None
) -> tuple[str, str, dict] | None:
    """(type, subject, data) of the event a change makes, or None; ``rows`` holds the changed
    mints and transfers read already, by (table, key)."""
    done = change.status == Status.COMPLETED
    extra: dict[str, Any] = {"slot": change.slot}
    rows = rows or {}
    if change.table == "nft_mints":
        row = rows.get((change.table, change.key)) or uow.mints.get(change.key)
        return f"mint.{change.status}", f"ticket:{row.ticket_id}", {**mint_view(row), **extra}
    if change.table == "nft_transfers":
        row = rows.get((change.table, change.key)) or uow.transfers.get(change.key)
        data = {**transfer_view(row), **extra}
        return f"transfer.{change.status}", f"ticket:{row.ticket_id}", data
    if change.table == "nft_collections" and done:
        row = uow.collections.get(change.key)
        data = {**render_event(uow, row), "signature": row.signature, **extra}
        return "collection.completed", f"event:{row.event_id}", data
    if change.table == "ticket_operations" and done:
        op = uow.operations.get(change.key)
        ticket = uow.mints.get(op.ticket_id)
        view = render_ticket(uow, ticket, mint_secret=mint_secret)
        data = {**view, "operation_id": op.operation_id, "signature": op.signature, **extra}
        return OPERATION_EVENTS[op.kind], f"ticket:{op.ticket_id}", data
    return None


def _changed_rows(uow: UnitOfWork, changes: Sequence[Change]) -> dict:
    """The changed mints and transfers, one query per table (not one per change)."""
    rows = {}
    for table, repo in (("nft_mints", uow.mints), ("nft_transfers", uow.transfers)):
        keys = [c.key for c in changes if c.table == table]
        if keys:
            rows.update({(table, getattr(r, r.KEY)): r for r in repo.get_many(keys)})
    return rows


def publisher(
    *,
    mint_secret: bytes,
    wake: Wake | None = None,
    endpoint: Callable[[UnitOfWork], None] | None = None,
):
    """The unit of work's ``publish`` hook: events in the change's transaction; after the
    commit, a wake-up per dispatch (a lost one only waits for the sweep). ``endpoint`` writes
    WEBHOOK_URL's endpoint: run in each transaction until one commits, so the events of the
    process's first changes are owed to it too (the webhook sweep, which also writes it, may
    come after them)."""
    written = endpoint is None

    def publish(uow: UnitOfWork, changes: Sequence[Change]) -> Callable[[], None] | None:
        first = not written
        if first:
            endpoint(uow)
        rows = _changed_rows(uow, changes)
        events = [render(uow, c, mint_secret=mint_secret, rows=rows) for c in changes]
        # one statement for all (a round trip per event was a quarter of a confirmer pass);
        # a subject's own events keep their order
        owed: Owed = uow.webhooks.add_events(
            [(type_, subject, plain(data)) for type_, subject, data in filter(None, events)]
        )
        if not first and (not owed or wake is None):
            return None

        def after() -> None:
            nonlocal written
            written = True
            if not owed or wake is None:
                return
            try:
                wake(owed)
            except Exception as exc:  # Redis away: the sweep finds them
                log.warning("webhook_wake_failed", error=type(exc).__name__)

        return after

    return publish
