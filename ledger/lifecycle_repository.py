"""Repositories of events and ticket operations: the same intent protocol as mints
(:class:`ledger.repository.IntentRepository`), plus what their workflows ask of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select

from ledger.models import NftCollection, Status, TicketOperation
from ledger.repository import IntentRepository


class OperationRepository(IntentRepository[TicketOperation]):
    """Lifecycle operations, applied to a ticket one at a time, in the order they were asked."""

    model = TicketOperation

    def for_ticket(self, ticket_id: str) -> list[TicketOperation]:
        return list(
            self.session.scalars(
                select(TicketOperation)
                .where(TicketOperation.ticket_id == ticket_id)
                .order_by(TicketOperation.id)
                .execution_options(populate_existing=True)
            ).all()
        )

    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[TicketOperation]]:
        """Each ticket's operations in the order they were decided."""
        out: dict[str, list[TicketOperation]] = {t: [] for t in ticket_ids}
        rows = self.session.scalars(
            select(TicketOperation)
            .where(TicketOperation.ticket_id.in_(list(ticket_ids)))
            .order_by(TicketOperation.id)
        ).all()
        for row in rows:
            out[row.ticket_id].append(row)
        return out

    def next_pending(self, ticket_ids: Sequence[str]) -> list[str]:
        """The first pending operation of each ticket (woken when the one before it lands)."""
        rows = self.session.execute(
            select(TicketOperation.ticket_id, func.min(TicketOperation.id))
            .where(
                TicketOperation.ticket_id.in_(list(ticket_ids)),
                TicketOperation.status == Status.PENDING,
            )
            .group_by(TicketOperation.ticket_id)
        ).all()
        ids = [i for _, i in rows]
        if not ids:
            return []
        return list(
            self.session.scalars(
                select(TicketOperation.operation_id).where(TicketOperation.id.in_(ids))
            ).all()
        )


class CollectionRepository(IntentRepository[NftCollection]):
    """Registered events, one row each, and their collections' creation."""

    model = NftCollection

    def lock(self, event_id: str) -> NftCollection | None:
        """The event's row, locked until commit: intakes of one event take turns, so a capacity
        count made under the lock cannot be overtaken by a concurrent intake."""
        return self.session.scalars(
            select(NftCollection)
            .where(NftCollection.event_id == event_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one_or_none()

    def replace_pending(self, event_id: str, values: Mapping[str, Any]) -> bool:
        """A changed event whose collection was never sent: take the new fields."""
        return self._move(event_id, expected=Status.PENDING, **values)
