"""Protocol step 1: validate, record intent (``pending``), commit, and only then wake a worker.

The same ticket with the same payload returns the existing row; with another payload it is a
conflict and nothing changes. A failed wake-up is not an error: the intent is committed and the
sweeper re-enqueues stale ``pending`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from actors import metrics
from actors.errors import IntentConflict
from minter.errors import ValidationError
from minter.keys import derive_mint_keypair
from minter.nft import MintRequest, parse_mint_request

DEFAULT_BATCH_SIZE = 500

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Enqueued:
    ticket_id: str
    mint_address: str
    status: str
    created: bool
    conflict: bool = False


def mint_row(req: MintRequest, *, mint_secret: bytes) -> dict:
    """The ``nft_mints`` intent columns for a validated request."""
    payload = req.to_ledger_payload()
    return {
        "ticket_id": req.ticket_id,
        "mint_address": str(derive_mint_keypair(mint_secret, req.ticket_id).pubkey()),
        "owner_address": str(req.owner),
        "standard": req.standard,
        "metadata": payload["metadata"],
        "event_id": req.event_id,
        "venue_id": req.venue_id,
        "payload": payload,
    }


def validate_all(items: Sequence[Mapping], *, default_standard: str) -> list[MintRequest]:
    """Validate every item before anything is written; a batch names the item's index."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(parse_mint_request(item, default_standard=default_standard))
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError(f"[{i}].{exc.field}", exc.message) from None
    return out


def enqueue_mints(
    items: Sequence[Mapping],
    *,
    uow_factory: Callable,
    mint_secret: bytes,
    default_standard: str,
    notify: Callable[[list[str]], None],
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> list[Enqueued]:
    """Record many intents; returns one result per item, in order (``conflict`` set on a clash)."""
    requests = validate_all(items, default_standard=default_standard)
    results: list[Enqueued] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start : start + batch_size]
        rows = [mint_row(r, mint_secret=mint_secret) for r in chunk]
        with uow_factory() as uow:
            stored = uow.mints.add_intents(rows)
            uow.commit()
        created_ids = []
        for want, (row, created) in zip(rows, stored, strict=True):
            conflict = not created and row.payload != want["payload"]
            results.append(Enqueued(row.ticket_id, row.mint_address, row.status, created, conflict))
            if created:
                created_ids.append(row.ticket_id)
        metrics.enqueued("mint", len(created_ids))
        _wake(notify, created_ids)
        if on_progress:
            on_progress(len(chunk))
    return results


def enqueue_mint(item: Mapping, **kw) -> Enqueued:
    """Record one intent; raises :class:`IntentConflict` when the ticket has another payload."""
    (result,) = enqueue_mints([item], **kw)
    if result.conflict:
        raise IntentConflict(
            "ticket_id", f"ticket {result.ticket_id} was already requested with another payload"
        )
    return result


def _wake(notify: Callable[[list[str]], None], ticket_ids: list[str]) -> None:
    if not ticket_ids:
        return
    try:
        notify(ticket_ids)
    except Exception as exc:  # committed intent: the sweeper picks it up, so only say so
        log.warning("wake_up_failed", count=len(ticket_ids), error=type(exc).__name__)
