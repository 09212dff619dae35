"""What an admin may do to a mint by hand (``POST /v1/mints/{ticket_id}/retry|cancel``).

Both are guarded transitions (``UPDATE … WHERE status = :expected``), so a row a worker moved
meanwhile is refused with :class:`IntentConflict` naming ``status`` and nothing changes:

- retry: ``failed`` → ``pending``, ``attempts`` kept, the reason noted in ``last_error``, then
  the mint workers woken (after the commit; a lost wake-up only waits for the sweeper);
- cancel: ``pending`` → ``failed`` with ``last_error = "cancelled"``. A ``submitted`` row is
  refused: its transaction may still land, and only the lifecycle may resolve it.

Each answers the row after the transition, or None when there is no such ticket.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from actors.infra.errors import IntentConflict
from actors.workflows.ports import MintRow, UnitOfWorkFactory
from ledger.models import Status

log = structlog.get_logger(__name__)

CANCELLED = "cancelled"


def retry_mint(
    ticket_id: str,
    *,
    uow_factory: UnitOfWorkFactory,
    notify: Callable[[list[str]], None],
    by: str | None = None,
) -> MintRow | None:
    """Send a ``failed`` mint back to ``pending`` and wake the workers; None if unknown."""
    with uow_factory() as uow:
        row = uow.mints.get(ticket_id)
        if row is None:
            return None
        reason = f"retry requested by {by or 'an admin'}; previous error: {row.last_error}"
        if not uow.mints.reset_to_pending(ticket_id, expected=Status.FAILED, reason=reason):
            raise _refused(uow, ticket_id, "retried", Status.FAILED)
        row = uow.mints.get(ticket_id)
        uow.commit()
    log.info("mint_retried", ticket_id=ticket_id, by=by, attempts=row.attempts)
    try:
        notify([ticket_id])
    except Exception as exc:  # committed: the sweeper picks the row up, so only say so
        log.warning("wake_up_failed", count=1, error=type(exc).__name__)
    return row


def cancel_mint(
    ticket_id: str, *, uow_factory: UnitOfWorkFactory, by: str | None = None
) -> MintRow | None:
    """Fail a ``pending`` mint with ``last_error = "cancelled"``; None if unknown."""
    with uow_factory() as uow:
        if uow.mints.get(ticket_id) is None:
            return None
        if not uow.mints.mark_failed(ticket_id, expected=Status.PENDING, reason=CANCELLED):
            raise _refused(uow, ticket_id, "cancelled", Status.PENDING)
        row = uow.mints.get(ticket_id)
        uow.commit()
    log.info("mint_cancelled", ticket_id=ticket_id, by=by)
    return row


def _refused(uow, ticket_id: str, verb: str, expected: str) -> IntentConflict:
    current = uow.mints.get(ticket_id)
    status = current.status if current is not None else "gone"
    return IntentConflict(
        "status", f"ticket {ticket_id} is {status}; only a {expected} mint can be {verb}"
    )
