"""Events and their collections (DESIGN.md, Events and collections).

:func:`put_event` registers an event (its ``nft_collections`` row, ``pending``), or answers a
repeat; :func:`process_collection` creates the collection on chain by the mint protocol's steps
(claim, sign, persist before send, send once), and the shared lifecycle confirms, rebroadcasts
and rebuilds it (:data:`COLLECTIONS`). The collection's address is derived from
``MINT_KEY_SECRET`` and the event id, so the chain itself refuses a second one. A collection
is paid and signed by the authority key (``MintSigner.payer``, ``SOLANA_AUTHORITY_KEYPAIR``),
never by the fee-payer pool: they are few, and its update authority must sign anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from solders.pubkey import Pubkey

from actors.infra.errors import IntentConflict
from actors.workflows.lifecycle import SKIPPED, compute_units, persist_submitted
from actors.workflows.mints import MintSigner, resolve_refusal, send_persisted
from actors.workflows.ports import (
    Chain,
    CollectionRepository,
    CollectionRow,
    UnitOfWork,
    UnitOfWorkFactory,
)
from actors.workflows.pricing import priced
from ledger.models import Status
from minter.errors import ValidationError
from minter.keys import derive_collection_keypair
from minter.nft.collection import build_collection_transaction
from minter.nft.event import EventRequest, parse_event_request
from minter.rpc import TransactionRejected

log = structlog.get_logger(__name__)

# what a registered event's fields are once its collection may be on chain
_ON_CHAIN = (
    "name",
    "symbol",
    "uri",
    "venue_id",
    "seller_fee_basis_points",
    "creators",
    "capacity",
    "transfer_policy",
    "standard",
)


@dataclass(frozen=True)
class EventPut:
    row: CollectionRow
    created: bool  # a new event (its collection is now queued)
    changed: bool = False  # a pending event took new fields


def collection_row(event: EventRequest, *, mint_secret: bytes) -> dict:
    """The ``nft_collections`` intent columns for a validated event."""
    payload = event.to_ledger_payload()
    return {
        "event_id": event.event_id,
        "collection_address": str(derive_collection_keypair(mint_secret, event.event_id).pubkey()),
        "standard": event.standard,
        "name": event.name,
        "symbol": event.symbol,
        "uri": event.uri,
        "venue_id": event.venue_id,
        "capacity": event.capacity,
        "transfer_policy": event.transfer_policy,
        "payload": payload,
    }


def put_event(
    event_id: str,
    body: Mapping,
    *,
    uow_factory: UnitOfWorkFactory,
    mint_secret: bytes,
    notify: Callable[[list[str]], None],
) -> EventPut:
    """Register ``event_id`` (200 for the same body again); raises :class:`ValidationError`
    for a bad field and :class:`IntentConflict` naming the first field that differs from an
    event whose collection may already be on chain."""
    event = parse_event_request(event_id, body)
    want = collection_row(event, mint_secret=mint_secret)
    with uow_factory() as uow:
        ((row, created),) = uow.collections.add_intents([want])
        changed = False
        if not created and row.payload != want["payload"]:
            tickets = uow.mints.count_for_event(event_id)
            changed = _take_change(uow.collections, row, want, tickets=tickets)
            row = uow.collections.get(event_id)
        uow.commit()
    if created or changed:
        _wake(notify, event_id)
    return EventPut(row, created, changed)


def _take_change(
    repo: CollectionRepository, row: CollectionRow, want: dict, *, tickets: int
) -> bool:
    """A different body: taken while nothing was sent and no ticket names the event (its
    venue, policy and capacity were checked against them), else 409 naming the first field."""
    fields = {k: v for k, v in want.items() if k not in ("event_id", "collection_address")}
    unsent = row.status == Status.PENDING and row.attempts == 0
    if unsent and tickets == 0 and repo.replace_pending(row.event_id, fields):
        return True
    diff = [k for k in _ON_CHAIN if row.payload.get(k) != want["payload"].get(k)]
    field = diff[0] if diff else "event_id"
    why = f"{tickets} tickets name it" if unsent else f"its collection is {row.status}"
    raise IntentConflict(
        field,
        f"event {row.event_id} is registered and {why}; "
        f"{', '.join(diff) or 'its fields'} cannot change now",
    )


def _wake(notify: Callable[[list[str]], None], event_id: str) -> None:
    try:
        notify([event_id])
    except Exception as exc:  # committed: the sweeper re-enqueues stale pending rows
        log.warning("wake_up_failed", event_id=event_id, error=type(exc).__name__)


def get_event(event_id: str, *, uow_factory: UnitOfWorkFactory) -> dict | None:
    """The event as ``GET /v1/events/{id}`` answers it, or None."""
    with uow_factory() as uow:
        row = uow.collections.get(event_id)
        if row is None:
            return None
        return render_event(uow, row)


def render_event(uow: UnitOfWork, row) -> dict:
    """The event as its route shows it, read in ``uow`` (also its webhook events' data)."""
    counts = uow.mints.count_by_status_for_event(row.event_id)
    fields = {k: v for k, v in row.payload.items()}
    return {
        **fields,
        "collection_address": row.collection_address,
        "collection_status": row.status,
        "collection_signature": row.signature,
        "last_error": row.last_error,
        "tickets": {s.value: counts.get(s.value, 0) for s in Status},
    }


# ---------------------------------------------------------------------------------------------
# the collection on chain


def signed_collection(
    event: EventRequest, *, chain: Chain, signer: MintSigner, keypair, rebuilds: int = 0
):
    """The signed CreateCollectionV2 transaction, sized by a simulation and priced (under
    ``auto``, raised per rebuild), and its last valid block height."""
    blockhash, last_valid = chain.latest_blockhash()

    def build(units: int, price: int | None = signer.compute_unit_price):
        return build_collection_transaction(
            event,
            payer=signer.payer,
            collection=keypair,
            recent_blockhash=blockhash,
            compute_unit_limit=units,
            compute_unit_price=price,
        )

    tx = priced(
        build,
        chain=chain,
        units=compute_units(build, chain=chain, margin=signer.cu_margin),
        fees=signer.fees,
        fixed_price=signer.compute_unit_price,
        rebuilds=rebuilds,
    )
    return tx, last_valid


def process_collection(
    event_id: str, *, uow_factory: UnitOfWorkFactory, chain: Chain, signer: MintSigner
) -> str:
    """Move one ``pending`` event's collection to ``submitted`` and send it."""
    bound = log.bind(event_id=event_id)
    with uow_factory() as uow:
        row = uow.collections.claim_pending(event_id)
        if row is None:
            return SKIPPED
        keypair = derive_collection_keypair(signer.mint_secret, event_id)
        if str(keypair.pubkey()) != row.collection_address:
            uow.collections.mark_failed(
                event_id,
                expected=Status.PENDING,
                reason="derived collection key does not match the recorded address "
                "(MINT_KEY_SECRET changed); refusing to sign",
            )
            uow.commit()
            return Status.FAILED
        try:
            event = parse_event_request(event_id, row.payload)
        except ValidationError as exc:
            uow.collections.mark_failed(
                event_id, expected=Status.PENDING, reason=f"invalid event: {exc}"
            )
            uow.commit()
            return Status.FAILED
        try:
            tx, last_valid = signed_collection(
                event,
                chain=chain,
                signer=signer,
                keypair=keypair,
                rebuilds=row.attempts,  # its earlier attempts, signed and not landed
            )
        except TransactionRejected as exc:
            outcome = resolve_refusal(
                uow, COLLECTIONS, row, chain, exc.err, expected=Status.PENDING
            )
            uow.commit()
            bound.info("simulation_refused", err=exc.err, outcome=outcome)
            return outcome
        signature = persist_submitted(uow, COLLECTIONS, event_id, tx, last_valid)
    return send_persisted(
        tx, signature, kind=COLLECTIONS, row=row, uow_factory=uow_factory, chain=chain, bound=bound
    )


class CollectionKind:
    """Collections in the shared lifecycle (:class:`actors.workflows.lifecycle.Kind`)."""

    name = "collection"
    key = "event_id"

    def repo(self, uow: UnitOfWork) -> CollectionRepository:
        return uow.collections

    def key_of(self, row: CollectionRow) -> str:
        return row.event_id

    def happened(self, uow: UnitOfWork, chain: Chain, rows) -> list[bool]:
        accounts = chain.accounts([Pubkey.from_string(r.collection_address) for r in rows])
        return [a is not None for a in accounts]

    def landed_with_error(self, uow: UnitOfWork, chain: Chain, row, err: str) -> Status:
        return resolve_refusal(uow, self, row, chain, err, expected=Status.SUBMITTED)


COLLECTIONS = CollectionKind()


def wake_tickets(
    event_ids: list[str], *, uow_factory: UnitOfWorkFactory, notify: Callable[[list[str]], None]
) -> int:
    """Wake the pending tickets of events whose collection just completed; returns how many."""
    woken = 0
    for event_id in event_ids:
        with uow_factory() as uow:
            ids = uow.mints.pending_for_event(event_id, limit=100_000)
        if ids:
            notify(ids)
            woken += len(ids)
    return woken
