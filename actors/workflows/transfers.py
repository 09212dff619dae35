"""Ticket transfers (claims from custody), with the mint protocol's guarantees.

Intent keyed by the caller's ``transfer_id``; persist signed bytes before sending; resolve by
signature in the same batched confirmer; swept by the same sweeper. Before building: if the
destination already holds the token, complete without sending; if the source does not hold it,
fail with that reason. The source must be a wallet whose keypair the worker holds (custody).
A Core ticket is one asset account naming its owner: it is read once, and the custody wallet
signs a TransferV1 as that owner. Transfers are paid and signed by the authority key
(``TransferSigner.payer``, ``SOLANA_AUTHORITY_KEYPAIR``: the custody wallet and the permanent
delegate), never by the fee-payer pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from actors.infra import metrics
from actors.infra.errors import IntentConflict
from actors.workflows.holders import current_holder
from actors.workflows.lifecycle import (
    SKIPPED,
    complete_from_history,
    compute_units,
    payer_problem,
    persist_submitted,
    record_sent,
)
from actors.workflows.ports import (
    Chain,
    TransferRepository,
    TransferRow,
    UnitOfWork,
    UnitOfWorkFactory,
)
from actors.workflows.pricing import priced
from actors.workflows.tickets import on_chain, version_address
from ledger.models import Outcome, Status
from minter.errors import ValidationError
from minter.fees import PriorityFeePolicy
from minter.keys import Payer
from minter.nft import parse_transfer_request
from minter.nft.decode import decode_token_account
from minter.nft.verify import asset_owner, core_asset
from minter.rpc import SendOutcomeUnknown, TransactionRejected
from minter.transfer import (
    TOKEN_PROGRAMS,
    CoreTicketTransfer,
    TicketTransfer,
    build_transfer_transaction,
)

log = structlog.get_logger(__name__)
_OPEN = (Status.PENDING, Status.SUBMITTED)
WAITING = "waiting"


@dataclass(frozen=True)
class TransferSigner:
    """The wallets the worker holds: the payer, and custody (the payer unless set apart);
    and the price, fixed or (``fees``, ``SOLANA_COMPUTE_UNIT_PRICE=auto``) from recent fees."""

    payer: Payer
    custody: Payer | None = None
    compute_unit_price: int | None = None
    fees: PriorityFeePolicy | None = None

    @property
    def custody_wallet(self) -> Payer:
        return self.custody or self.payer

    def holds(self, address: str) -> Keypair | None:
        for wallet in (self.custody_wallet, self.payer):
            if str(wallet.pubkey) == address:
                return wallet.keypair
        return None


@dataclass(frozen=True)
class TransferEnqueued:
    transfer_id: str
    ticket_id: str
    status: str
    created: bool


def enqueue_transfer(
    item: Mapping,
    *,
    uow_factory: UnitOfWorkFactory,
    signer: TransferSigner,
    notify: Callable[[list[str]], None],
    mint_secret: bytes = b"",
) -> TransferEnqueued:
    """Record a transfer intent; a repeat returns it, another payload is a conflict.

    ``claim`` moves a ticket out of custody; ``resale`` and ``support`` move a Core ticket
    from whoever holds it, by the collection's permanent transfer delegate (``mint_secret``
    names a reissued ticket's current version)."""
    req = parse_transfer_request(item)
    transfer_id, ticket_id, to = req.transfer_id, req.ticket_id, req.to
    payload = req.to_ledger_payload()
    with uow_factory() as uow:
        existing = uow.transfers.get(transfer_id)
        if existing is None:
            mint, holder = current_holder(uow, ticket_id)
            address = mint.mint_address
            if req.reason == "claim" and signer.holds(holder) is None:
                raise ValidationError(
                    "ticket_id", f"ticket {ticket_id} is held by {holder}, not by custody"
                )
            if req.reason != "claim":
                address = resale_address(uow, mint, req.reason, mint_secret=mint_secret)
            ((row, created),) = uow.transfers.add_intents(
                [
                    {
                        "transfer_id": transfer_id,
                        "ticket_id": ticket_id,
                        "token_address": address,
                        "from_address": holder,
                        "to_address": str(to),
                        "payload": payload,
                    }
                ]
            )
            uow.commit()
        else:
            row, created = existing, False
    if not created and row.payload != payload:
        raise IntentConflict("transfer_id", f"transfer {transfer_id} exists with another payload")
    if created:
        metrics.enqueued("transfer")
        try:
            notify([transfer_id])
        except Exception as exc:  # committed: the sweeper picks it up
            log.warning("wake_up_failed", transfer_id=transfer_id, error=type(exc).__name__)
    return TransferEnqueued(transfer_id, row.ticket_id, row.status, created)


def _waiting_for(uow: UnitOfWork, row) -> str | None:
    """An earlier transfer of the ticket, or an operation decided before this transfer, still
    open: it changes the holder or the freeze this one is built on."""
    moves = uow.transfers.for_ticket(row.ticket_id)
    if any(t.id < row.id and t.status in _OPEN for t in moves):
        return f"waiting for an earlier transfer of ticket {row.ticket_id}"
    operations = uow.operations.for_ticket(row.ticket_id)
    if any(op.created_at < row.created_at and op.status in _OPEN for op in operations):
        return f"waiting for an operation of ticket {row.ticket_id}"
    return None


def resale_address(uow: UnitOfWork, mint, reason: str, *, mint_secret: bytes) -> str:
    """The ticket's current version, for a platform-run move; refuses what the standard or
    the event's transfer policy does not allow."""
    if mint.standard not in ("core", "token2022"):
        raise IntentConflict(
            "reason", f"{reason} is not supported for the {mint.standard} standard; use core"
        )
    if mint.state == "invalidated":
        raise IntentConflict("ticket_id", f"ticket {mint.ticket_id} is invalidated")
    if mint.state == "checked_in" and reason != "support":  # a scanned ticket stays put
        raise IntentConflict("ticket_id", f"ticket {mint.ticket_id} is checked in")
    if any(t.status in _OPEN for t in uow.transfers.for_ticket(mint.ticket_id)):
        # the platform's delegate moves it from whoever holds it: one move at a time
        raise IntentConflict("ticket_id", f"ticket {mint.ticket_id} has a transfer in progress")
    event = uow.collections.get(mint.event_id) if mint.event_id else None
    if event is None and mint.standard == "core":
        raise IntentConflict(
            "reason", f"ticket {mint.ticket_id} has no event collection: no transfer delegate"
        )
    if event is not None and event.transfer_policy == "non_transferable" and reason != "support":
        raise IntentConflict(
            "reason", f"event {event.event_id} is non_transferable: only reason support"
        )
    return version_address(mint, mint.version, mint_secret=mint_secret)


def ticket_transfer(row, standard: str, payer: Pubkey, *, close_source: bool) -> TicketTransfer:
    return TicketTransfer(
        mint=Pubkey.from_string(row.token_address),
        source_owner=Pubkey.from_string(row.from_address),
        destination_owner=Pubkey.from_string(row.to_address),
        payer=payer,
        token_program=TOKEN_PROGRAMS[standard],
        close_source=close_source,
    )


def holdings(chain: Chain, t: TicketTransfer) -> tuple[int, int]:
    """(source amount, destination amount) of the ticket's token, one RPC call."""
    src, dst = chain.accounts([t.source_account, t.destination_account])

    def amount(acc) -> int:
        return decode_token_account(bytes(acc.data)).amount if acc is not None else 0

    return amount(src), amount(dst)


def planned_transfer(
    chain: Chain, row, standard: str, payer: Pubkey, *, close_source: bool
) -> tuple[TicketTransfer | CoreTicketTransfer, int, int]:
    """The transfer to build, and (source amount, destination amount): one RPC call."""
    if standard != "core":
        t = ticket_transfer(row, standard, payer, close_source=close_source)
        return (t, *holdings(chain, t))
    address = Pubkey.from_string(row.token_address)
    (account,) = chain.accounts([address])
    asset = core_asset(account)
    t = CoreTicketTransfer(
        asset=address,
        source_owner=Pubkey.from_string(row.from_address),
        destination_owner=Pubkey.from_string(row.to_address),
        payer=payer,
        # read from the asset, not derived: TransferV1 fails unless it names the real one
        collection=asset.collection if asset is not None else None,
    )
    owner = asset.owner if asset is not None else None
    return t, int(owner == t.source_owner), int(owner == t.destination_owner)


def process_transfer(
    transfer_id: str, *, uow_factory: UnitOfWorkFactory, chain: Chain, signer: TransferSigner
) -> str:
    bound = log.bind(transfer_id=transfer_id)
    with uow_factory() as uow:
        row = uow.transfers.claim_pending(transfer_id)
        if row is None:
            return SKIPPED
        bound = bound.bind(ticket_id=row.ticket_id, mint_address=row.token_address)
        mint_row = uow.mints.get(row.ticket_id)
        source = signer.holds(row.from_address)
        t, have, there = planned_transfer(
            chain, row, mint_row.standard, signer.payer.pubkey, close_source=source is not None
        )
        waiting = _waiting_for(uow, row)
        if waiting:  # one change of a ticket at a time, in the order they were asked
            uow.transfers.note_error(transfer_id, waiting)
            uow.commit()
            return WAITING
        if row.payload.get("reason", "claim") != "claim":  # by the permanent delegate
            source = signer.payer.keypair
            if mint_row.standard == "core":
                t = replace(t, authority=signer.payer.pubkey)
            else:  # Token-2022: a checked-in ticket's account is frozen
                frozen = on_chain(mint_row, uow.operations.for_ticket(row.ticket_id)).frozen
                t = replace(t, delegate=signer.payer.pubkey, frozen=frozen, close_source=False)
        if there >= 1:  # an earlier attempt (or someone else) delivered it: say which
            complete_from_history(uow, row, chain, expected=Status.PENDING, kind=TRANSFERS)
            uow.commit()
            bound.info("already_there")
            return Status.COMPLETED
        if have < 1 or source is None:
            reason = "source does not hold the token" if have < 1 else "source is not custody"
            uow.transfers.mark_failed(transfer_id, expected=Status.PENDING, reason=reason)
            uow.commit()
            bound.info("transfer_refused", reason=reason)
            return Status.FAILED
        blockhash, last_valid = chain.latest_blockhash()

        def build(units: int, price: int | None = signer.compute_unit_price):
            return build_transfer_transaction(
                t,
                payer=signer.payer.keypair,
                source=source,
                recent_blockhash=blockhash,
                compute_unit_limit=units,
                compute_unit_price=price,
            )

        try:
            tx = priced(
                build,
                chain=chain,
                units=compute_units(build, chain=chain),
                fees=signer.fees,
                fixed_price=signer.compute_unit_price,
                rebuilds=row.attempts,  # its earlier attempts, signed and not landed
            )
        except TransactionRejected as exc:
            if payer_problem(exc.err):
                uow.transfers.note_error(transfer_id, exc.err)
                outcome = Status.PENDING
            else:
                reason = f"refused by the cluster: {exc.err}"
                uow.transfers.mark_failed(transfer_id, expected=Status.PENDING, reason=reason)
                outcome = Status.FAILED
            uow.commit()
            bound.info("simulation_refused", err=exc.err, outcome=outcome)
            return outcome
        signature = persist_submitted(uow, TRANSFERS, transfer_id, tx, last_valid)
    bound = bound.bind(signature=signature)
    metrics.sent("transfer")
    unknown = None
    try:
        chain.send(bytes(tx))
    except SendOutcomeUnknown as exc:
        unknown = str(exc)
    except TransactionRejected as exc:  # e.g. AlreadyProcessed: a rebroadcast got there first
        with uow_factory() as uow:
            uow.attempts.mark_sent(signature)
            uow.attempts.set_outcome(signature, Outcome.REJECTED, exc.err)
            if TRANSFERS.happened(uow, chain, [row])[0]:
                complete_from_history(uow, row, chain, expected=Status.SUBMITTED, kind=TRANSFERS)
                outcome = Status.COMPLETED
            else:
                uow.transfers.reset_to_pending(
                    transfer_id, expected=Status.SUBMITTED, reason=exc.err
                )
                outcome = Status.PENDING
            uow.commit()
        bound.info("send_rejected", err=exc.err, outcome=outcome)
        return outcome
    return record_sent(uow_factory, signature, bound, unknown=unknown)


class TransferKind:
    """Transfers in the shared lifecycle (:class:`actors.workflows.lifecycle.Kind`)."""

    name = "transfer"
    key = "transfer_id"

    def repo(self, uow: UnitOfWork) -> TransferRepository:
        return uow.transfers

    def key_of(self, row: TransferRow) -> str:
        return row.transfer_id

    def happened(self, uow: UnitOfWork, chain: Chain, rows) -> list[bool]:
        """Does each destination hold the token? (Whoever moved it, the claim is fulfilled.)"""
        standards = {
            m.ticket_id: m.standard for m in uow.mints.get_many([r.ticket_id for r in rows])
        }
        keys = [
            Pubkey.from_string(r.token_address)  # a Core asset names its owner
            if standards[r.ticket_id] == "core"
            else ticket_transfer(
                r, standards[r.ticket_id], Pubkey.from_string(r.from_address), close_source=False
            ).destination_account
            for r in rows
        ]
        return [
            str(asset_owner(a)) == r.to_address
            if standards[r.ticket_id] == "core"
            else a is not None and decode_token_account(bytes(a.data)).amount >= 1
            for r, a in zip(rows, chain.accounts(keys), strict=True)
        ]

    def landed_with_error(
        self, uow: UnitOfWork, chain: Chain, row: TransferRow, err: str
    ) -> Status:
        """Nothing moved: rebuild it (the destination check runs again before signing)."""
        uow.transfers.reset_to_pending(row.transfer_id, expected=Status.SUBMITTED, reason=err)
        return Status.PENDING


TRANSFERS = TransferKind()
