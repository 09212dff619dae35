"""Protocol step 1: validate, record intent (``pending``), commit, and only then wake a worker.

Every item gets its own answer: ``created``, ``repeat`` (the ticket exists with this payload)
or ``conflict`` (it exists with another payload; nothing changes). A batch that names a ticket
twice is answered the same way: the first item records it, the later ones are compared with
what was recorded. A failed wake-up is not an error: the intent is committed and the sweeper
re-enqueues stale ``pending`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog

from actors.infra import metrics
from actors.infra.errors import IntentConflict
from actors.workflows.ports import UnitOfWorkFactory
from minter.errors import ValidationError
from minter.keys import derive_mint_keypair
from minter.nft import MintRequest, parse_mint_request

DEFAULT_BATCH_SIZE = 500
CREATED, REPEAT, CONFLICT = "created", "repeat", "conflict"

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Enqueued:
    ticket_id: str
    mint_address: str
    status: str
    created: bool
    conflict: bool = False

    @property
    def outcome(self) -> str:
        """``created``, ``repeat`` or ``conflict``."""
        return CREATED if self.created else CONFLICT if self.conflict else REPEAT


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
    uow_factory: UnitOfWorkFactory,
    mint_secret: bytes,
    default_standard: str,
    notify: Callable[[list[str]], None],
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[list[Enqueued]], None] | None = None,
) -> list[Enqueued]:
    """Record many intents; one result per item, in order (see :attr:`Enqueued.outcome`).
    ``on_progress`` gets each chunk's results as it is committed."""
    requests = validate_all(items, default_standard=default_standard)
    results: list[Enqueued] = []
    seen: set[str] = set()  # tickets recorded by earlier items of this batch
    for start in range(0, len(requests), batch_size):
        chunk = [mint_row(r, mint_secret=mint_secret) for r in requests[start : start + batch_size]]
        chunk_results = _record_chunk(chunk, seen, uow_factory=uow_factory)
        created_ids = [r.ticket_id for r in chunk_results if r.created]
        metrics.enqueued("mint", len(created_ids))
        _wake(notify, created_ids)
        results += chunk_results
        if on_progress:
            on_progress(chunk_results)
    return results


def _record_chunk(
    rows: list[dict], seen: set[str], *, uow_factory: UnitOfWorkFactory
) -> list[Enqueued]:
    """Insert the chunk's first naming of each new ticket; compare every item with its row."""
    fresh: dict[str, dict] = {}
    for row in rows:
        if row["ticket_id"] not in seen:
            fresh.setdefault(row["ticket_id"], row)
    with uow_factory() as uow:
        added = uow.mints.add_intents(list(fresh.values()))
        stored = {r.ticket_id: (r, created) for r, created in added}
        again = [r["ticket_id"] for r in rows if r["ticket_id"] not in stored]
        for r in uow.mints.get_many(sorted(set(again))):
            stored[r.ticket_id] = (r, False)
        uow.commit()
    seen.update(fresh)
    out = []
    for want in rows:
        row, created = stored[want["ticket_id"]]
        created = created and fresh.get(want["ticket_id"]) is want  # only its first naming
        conflict = not created and row.payload != want["payload"]
        out.append(Enqueued(row.ticket_id, row.mint_address, row.status, created, conflict))
    return out


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
