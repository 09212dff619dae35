"""The chain write of each lifecycle operation, by the mint protocol's steps (claim, sign,
persist before send, send once; confirmed, rebroadcast and rebuilt by the shared lifecycle).

A ticket's operations are written one at a time, in the order they were decided: an operation
waits while an earlier one of its ticket is open, and while the ticket's mint has not landed;
the confirmer wakes the next when one completes. Whether an operation took effect is read from
the asset itself (``happened``), so a rebuilt operation never applies twice. Operations (a
reissue's new version too) are paid and signed by the authority key (``MintSigner.payer``,
``SOLANA_AUTHORITY_KEYPAIR``), the delegate they act as; the fee-payer pool pays mints only.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import structlog
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.workflows.lifecycle import SKIPPED, compute_units, persist_submitted
from actors.workflows.mints import (
    WAITING,
    MintSigner,
    placement,
    resolve_refusal,
    send_persisted,
)
from actors.workflows.ports import Chain, OperationRow, UnitOfWork, UnitOfWorkFactory
from actors.workflows.pricing import priced
from actors.workflows.tickets import holder_from, on_chain
from ledger.models import Status
from minter.budget import compute_budget
from minter.keys import derive_version_keypair
from minter.nft import parse_mint_request
from minter.nft import token2022_lifecycle as t22
from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.decode import decode_mint, decode_token_metadata
from minter.nft.operation import (
    CHECK_IN,
    CHECKED_IN,
    INVALIDATE,
    REISSUE,
    CoreTicket,
    check_in_instructions,
    invalidate_instructions,
    iso_utc,
)
from minter.nft.transaction import core_instruction, mint_instructions
from minter.nft.verify import core_asset
from minter.rpc import TransactionRejected

log = structlog.get_logger(__name__)
_OPEN = (Status.PENDING, Status.SUBMITTED)


def process_operation(
    operation_id: str, *, uow_factory: UnitOfWorkFactory, chain: Chain, signer: MintSigner
) -> str:
    """Move one ``pending`` operation to ``submitted`` and send it; returns what happened."""
    bound = log.bind(operation_id=operation_id)
    with uow_factory() as uow:
        op = uow.operations.claim_pending(operation_id)
        if op is None:
            return SKIPPED
        ticket = uow.mints.get(op.ticket_id)
        if ticket.status == Status.FAILED:  # nothing on chain to change, ever
            reason = f"the mint of ticket {op.ticket_id} failed: {ticket.last_error}"
            uow.operations.mark_failed(operation_id, expected=Status.PENDING, reason=reason)
            uow.commit()
            return Status.FAILED
        operations = uow.operations.for_ticket(op.ticket_id)
        earlier = [e for e in operations if e.id < op.id]
        failed = [e.operation_id for e in earlier if e.status == Status.FAILED]
        if failed:  # the chain is not where the ledger's decision put it: an operator decides
            reason = f"earlier operation {failed[-1]} of ticket {op.ticket_id} failed"
            uow.operations.mark_failed(operation_id, expected=Status.PENDING, reason=reason)
            uow.commit()
            return Status.FAILED
        waiting = _waiting_for(uow, op, ticket, earlier)
        if waiting:
            uow.operations.note_error(operation_id, waiting)
            uow.commit()
            return WAITING
        req = parse_mint_request(ticket.payload, default_standard=ticket.standard)
        place = placement(uow, req)
        blockhash, last_valid = chain.latest_blockhash()
        signers = [signer.payer.keypair]

        def build(units: int, price: int | None = signer.compute_unit_price):
            budget = compute_budget(units, price)
            message = MessageV0.try_compile(signer.payer.pubkey, budget + ixs, [], blockhash)
            return VersionedTransaction(message, signers)

        try:
            if ticket.standard == "token2022":
                ixs = _token2022_instructions(uow, op, ticket, req, signer, signers, operations)
            else:
                ixs = _instructions(op, req, place, signer, signers)
            tx = priced(
                build,
                chain=chain,
                units=compute_units(build, chain=chain, margin=signer.cu_margin),
                fees=signer.fees,
                fixed_price=signer.compute_unit_price,
                rebuilds=op.attempts,  # its earlier attempts, signed and not landed
            )
        except TransactionRejected as exc:
            outcome = resolve_refusal(uow, OPERATIONS, op, chain, exc.err, expected=Status.PENDING)
            uow.commit()
            bound.info("simulation_refused", err=exc.err, outcome=outcome)
            return outcome
        signature = persist_submitted(uow, OPERATIONS, operation_id, tx, last_valid)
    return send_persisted(
        tx, signature, kind=OPERATIONS, row=op, uow_factory=uow_factory, chain=chain, bound=bound
    )


def _waiting_for(uow: UnitOfWork, op: OperationRow, ticket, earlier) -> str | None:
    if ticket.status != Status.COMPLETED:
        return f"waiting for the mint of ticket {op.ticket_id}"
    if any(e.status in _OPEN for e in earlier):
        return f"waiting for an earlier operation of ticket {op.ticket_id}"
    moves = uow.transfers.for_ticket(op.ticket_id)
    if any(t.created_at < op.created_at and t.status in _OPEN for t in moves):
        return f"waiting for a transfer of ticket {op.ticket_id}"
    return None


def _instructions(op: OperationRow, req, place, signer: MintSigner, signers: list) -> list:
    payer = signer.payer
    if op.kind == REISSUE:
        version = _version_key(signer, op)
        signers.append(version)
        owner = Pubkey.from_string(op.payload["owner"])
        return [
            core_instruction(
                replace(req, owner=owner), payer=payer, asset=version.pubkey(), place=place
            )
        ]
    ticket = CoreTicket(
        Pubkey.from_string(op.address), payer.pubkey, payer.pubkey, place.collection
    )
    if op.kind == CHECK_IN:
        return check_in_instructions(ticket, req.core_attributes, _checked_in(op))
    return invalidate_instructions(ticket)


def _token2022_instructions(
    uow: UnitOfWork, op: OperationRow, ticket, req, signer, signers, operations
):
    """The same operations on a Token-2022 ticket: the platform's key is its metadata update
    authority, freeze authority and permanent delegate."""
    payer = signer.payer.pubkey
    if op.kind == REISSUE:
        version = _version_key(signer, op)
        signers.append(version)
        owner = Pubkey.from_string(op.payload["owner"])
        return mint_instructions(replace(req, owner=owner), payer=signer.payer, mint=version)
    holder = Pubkey.from_string(
        holder_from(ticket, operations, uow.transfers.for_ticket(op.ticket_id), landed_only=True)
    )
    mint = Pubkey.from_string(op.address)
    if op.kind == CHECK_IN:
        return t22.check_in_instructions(
            mint, holder, authority=payer, checked_in=_checked_in(op), freeze=True
        )
    frozen = on_chain(ticket, operations).frozen  # a landed check-in froze the holder's account
    return t22.burn_by_delegate_instructions(mint, holder, delegate=payer, frozen=frozen)


def _version_key(signer: MintSigner, op: OperationRow):
    version = derive_version_keypair(signer.mint_secret, op.ticket_id, op.version)
    if str(version.pubkey()) != op.address:
        raise TransactionRejected(
            "derived version key does not match the recorded address (MINT_KEY_SECRET "
            "changed); refusing to sign"
        )
    return version


def _checked_in(op: OperationRow) -> str:
    return iso_utc(datetime.fromisoformat(op.payload["checked_in_at"]))


class OperationKind:
    """Lifecycle operations in the shared lifecycle (:class:`actors.workflows.lifecycle.Kind`)."""

    name = "operation"
    key = "operation_id"

    def repo(self, uow: UnitOfWork):
        return uow.operations

    def key_of(self, row: OperationRow) -> str:
        return row.operation_id

    def happened(self, uow: UnitOfWork, chain: Chain, rows) -> list[bool]:
        """Read from each asset: check-in's attribute and freeze, the burn, the new version."""
        accounts = chain.accounts([Pubkey.from_string(r.address) for r in rows])
        return [_shows(row, account) for row, account in zip(rows, accounts, strict=True)]

    def landed_with_error(self, uow: UnitOfWork, chain: Chain, row, err: str) -> Status:
        return resolve_refusal(uow, self, row, chain, err, expected=Status.SUBMITTED)


def _shows(row: OperationRow, account) -> bool:
    if account is None:
        return False  # nothing there: not minted, not burned (a burn leaves a tombstone)
    if account.owner == TOKEN_2022_PROGRAM_ID:
        return _token2022_shows(row, bytes(account.data))
    if account.owner != CORE_PROGRAM_ID:
        return False
    asset = core_asset(account)
    if row.kind == REISSUE:
        return asset is not None
    if row.kind == INVALIDATE:  # Core's burn leaves a one-byte tombstone; outside a collection
        if asset is None:  # the asset is frozen for good instead
            return len(bytes(account.data)) <= 1
        return asset.collection is None and bool(asset.frozen)
    if asset is None:
        return False
    attributes = dict(asset.attributes or ())
    return attributes.get(CHECKED_IN) == _checked_in(row) and bool(asset.frozen)


def _token2022_shows(row: OperationRow, data: bytes) -> bool:
    if row.kind == REISSUE:
        return True  # the new version's mint exists
    if row.kind == INVALIDATE:
        return decode_mint(data).supply == 0
    metadata = decode_token_metadata(data)
    extra = dict(metadata.additional) if metadata is not None else {}
    return extra.get(CHECKED_IN) == _checked_in(row)


OPERATIONS = OperationKind()


def wake_next(kind, keys: list[str], *, uow_factory: UnitOfWorkFactory, notify) -> int:
    """After mints (ticket ids) or operations (operation ids) completed: wake the next pending
    operation of each of their tickets; returns how many were woken."""
    with uow_factory() as uow:
        if kind is OPERATIONS:
            keys = [r.ticket_id for r in uow.operations.get_many(keys)]
        ids = uow.operations.next_pending(keys) if keys else []
    if ids:
        notify(ids)
    return len(ids)
