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
from solders.pubkey import Pubkey

from actors.infra import metrics
from actors.infra.errors import CapacityReached, IntentConflict
from actors.workflows.ports import CollectionRow, UnitOfWork, UnitOfWorkFactory
from minter.errors import ValidationError
from minter.keys import derive_mint_keypair
from minter.nft import MAX_TRANSACTION_BYTES, MintRequest, parse_mint_request
from minter.nft.event import FROZEN_AT_MINT
from minter.nft.transaction import Placement, transaction_size

DEFAULT_BATCH_SIZE = 500
# the first chunk's size; each next one doubles, up to the batch size: the workers start on the
# first tickets while the rest are written (a first chunk of 500 kept them waiting 0.2-0.3 s)
DEFAULT_FIRST_CHUNK = 64  # four messages of DEFAULT_MINT_BATCH (16) tickets
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


def validate_all(
    items: Sequence[Mapping],
    *,
    default_standard: str,
    events: Mapping[str, CollectionRow] | None = None,
) -> list[MintRequest]:
    """Validate every item before anything is written; a batch names the item's index.
    ``events``: the registered events the items name (their standard, venue and collection)."""
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_validate_one(item, default_standard, events or {}))
        except ValidationError as exc:
            if len(items) == 1:
                raise
            raise ValidationError(f"[{i}].{exc.field}", exc.message) from None
    return out


def _validate_one(
    item: Mapping, default_standard: str, events: Mapping[str, CollectionRow]
) -> MintRequest:
    event = events.get(item.get("event_id")) if isinstance(item, Mapping) else None
    # a ticket of a registered event takes the event's standard unless it names one
    req = parse_mint_request(
        item, default_standard=event.standard if event is not None else default_standard
    )
    if event is None:
        if req.event_id is not None and req.standard == "core":
            raise ValidationError(
                "event_id", f"event {req.event_id} is not registered: PUT /v1/events/{{id}} first"
            )
        return _fits(req, Placement())
    if req.standard != event.standard:
        raise ValidationError(
            "standard", f"must be {event.standard}, the standard of event {event.event_id}"
        )
    if event.venue_id is not None:
        if req.venue_id is None:
            req = req.with_venue(event.venue_id)
        elif req.venue_id != event.venue_id:
            raise ValidationError(
                "venue_id", f"must be {event.venue_id}, the venue of event {event.event_id}"
            )
    place = Placement(
        Pubkey.from_string(event.collection_address), event.transfer_policy in FROZEN_AT_MINT
    )
    return _fits(req, place)


def _fits(req: MintRequest, place: Placement) -> MintRequest:
    """A Core ticket's one transaction must fit in a packet: refuse extras that overflow it."""
    if req.standard == "core":
        size = transaction_size(req, place)
        if size > MAX_TRANSACTION_BYTES:
            raise ValidationError(
                "attributes",
                f"make the ticket's transaction {size} bytes; at most {MAX_TRANSACTION_BYTES}: "
                "shorten or drop some",
            )
    return req


def registered_events(uow_factory: UnitOfWorkFactory, items: Sequence[Mapping]) -> dict:
    """The registered events named by ``items``, by id (unregistered ones are absent)."""
    names = {i.get("event_id") for i in items if isinstance(i, Mapping)}
    names = sorted(n for n in names if isinstance(n, str))
    if not names:
        return {}
    with uow_factory() as uow:
        return {row.event_id: row for row in uow.collections.get_many(names)}


def enqueue_mints(
    items: Sequence[Mapping],
    *,
    uow_factory: UnitOfWorkFactory,
    mint_secret: bytes,
    default_standard: str,
    notify: Callable[[list[str]], None],
    batch_size: int = DEFAULT_BATCH_SIZE,
    first_chunk: int = DEFAULT_FIRST_CHUNK,
    on_progress: Callable[[list[Enqueued]], None] | None = None,
) -> list[Enqueued]:
    """Record many intents; one result per item, in order (see :attr:`Enqueued.outcome`).
    ``on_progress`` gets each chunk's results as it is committed."""
    events = registered_events(uow_factory, items)
    requests = validate_all(items, default_standard=default_standard, events=events)
    results: list[Enqueued] = []
    seen: set[str] = set()  # tickets recorded by earlier items of this batch
    for start, end in _chunks(len(requests), first=min(first_chunk, batch_size), most=batch_size):
        chunk = [mint_row(r, mint_secret=mint_secret) for r in requests[start:end]]
        chunk_results = _record_chunk(chunk, seen, uow_factory=uow_factory)
        created_ids = [r.ticket_id for r in chunk_results if r.created]
        metrics.enqueued("mint", len(created_ids))
        _wake(notify, created_ids)
        results += chunk_results
        if on_progress:
            on_progress(chunk_results)
    return results


def _chunks(n: int, *, first: int, most: int) -> list[tuple[int, int]]:
    """(start, end) of the chunks of ``n`` items: ``first`` long, each next one twice the last,
    at most ``most``."""
    out, start, size = [], 0, max(1, first)
    while start < n:
        out.append((start, min(n, start + size)))
        start, size = start + size, min(most, size * 2)
    return out


def _record_chunk(
    rows: list[dict], seen: set[str], *, uow_factory: UnitOfWorkFactory
) -> list[Enqueued]:
    """Insert the chunk's first naming of each new ticket; compare every item with its row."""
    fresh: dict[str, dict] = {}
    for row in rows:
        if row["ticket_id"] not in seen:
            fresh.setdefault(row["ticket_id"], row)
    with uow_factory() as uow:
        _hold_seats(uow, list(fresh.values()))
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


def _hold_seats(uow: UnitOfWork, rows: list[dict]) -> None:
    """Refuse the chunk if its new tickets would take an event past its capacity.

    Each event's row is locked (in id order, so two intakes never wait on each other in a
    cycle) before its tickets are counted: concurrent intakes of one event take turns, and
    the count each sees includes every ticket committed before it."""
    wanted: dict[str, list[str]] = {}
    for row in rows:
        if row["event_id"] is not None:
            wanted.setdefault(row["event_id"], []).append(row["ticket_id"])
    for event_id in sorted(wanted):
        event = uow.collections.lock(event_id)
        if event is None or event.capacity is None:
            continue
        known = {r.ticket_id for r in uow.mints.get_many(wanted[event_id])}
        new = len([t for t in wanted[event_id] if t not in known])
        taken = uow.mints.count_for_event(event_id)
        if new and taken + new > event.capacity:
            left = max(0, event.capacity - taken)
            raise CapacityReached(
                "event_id",
                f"event {event_id} is full: {left} of {event.capacity} seats left, {new} asked for",
            )


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
