"""Mints: steps 2-5 of the exactly-once protocol (DESIGN.md), and what the shared lifecycle
(:mod:`actors.workflows.lifecycle`) needs to know of a mint (:data:`MINTS`).

:func:`process_mint` claims a ``pending`` row, derives the mint key, builds and signs, persists
signature, bytes and ``last_valid_block_height`` as ``submitted``, commits, then sends once.
Every workflow takes its collaborators as arguments; the worker's actors stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from actors.infra import metrics
from actors.workflows.lifecycle import (
    DEFAULT_CU_MARGIN,
    SKIPPED,
    ComputeBudgets,
    budget_exceeded,
    complete_from_history,
    compute_units,
    payer_problem,
    persist_submitted,
    record_sent,
)
from actors.workflows.ports import Chain, MintRepository, MintRow, UnitOfWork, UnitOfWorkFactory
from ledger.models import Outcome, Status
from minter.errors import ValidationError
from minter.fees import PriorityFeePolicy, writable_keys
from minter.keys import Payer, derive_mint_keypair
from minter.nft import build_mint_transaction, parse_mint_request
from minter.nft.event import FROZEN_AT_MINT
from minter.nft.transaction import NO_EVENT, Placement
from minter.rpc import SendOutcomeUnknown, TransactionRejected

log = structlog.get_logger(__name__)
WAITING = "waiting"  # a ticket whose event's collection is not on chain yet
COLLECTION_FAILED = Placement(collection=None, frozen=True)  # a marker: its event's failed


@dataclass(frozen=True)
class MintSigner:
    """What signing a mint needs: the payer, the mint-key secret and the fee policy."""

    payer: Payer
    mint_secret: bytes = field(repr=False)
    compute_unit_price: int | None = None
    cu_margin: float = DEFAULT_CU_MARGIN
    # limits learned per transaction shape (one per worker process); None: simulate each one
    budgets: ComputeBudgets | None = field(default=None, compare=False)
    # SOLANA_COMPUTE_UNIT_PRICE=auto: priced from the recent fees of its writable accounts
    fees: PriorityFeePolicy | None = None


# ---------------------------------------------------------------------------------------------
# build


def build_signed(
    req,
    *,
    chain: Chain,
    signer: MintSigner,
    mint: Keypair,
    place=NO_EVENT,
    resize=False,
    rebuilds: int = 0,
):
    """A signed mint transaction and its last valid block height (simulated for its compute
    budget only when its shape is new, or ``resize``: the last one ran out; with ``auto``
    priority fees, priced from the recent fees of its writable accounts, raised per rebuild)."""
    blockhash, last_valid = chain.latest_blockhash()

    def build(units: int, price: int | None = signer.compute_unit_price):
        return build_mint_transaction(
            req,
            payer=signer.payer,
            mint=mint,
            recent_blockhash=blockhash,
            compute_unit_limit=units,
            compute_unit_price=price,
            place=place,
        )

    units = compute_units(
        build, chain=chain, margin=signer.cu_margin, budgets=signer.budgets, resize=resize
    )
    if signer.fees is None:
        return build(units), last_valid
    writable = writable_keys(build(units).message)
    price = signer.fees.price(chain.recent_fees(writable), units=units, rebuilds=rebuilds)
    return build(units, price or None), last_valid


# ---------------------------------------------------------------------------------------------
# step 2–3: claim, sign, persist, send


def process_mint(
    ticket_id: str, *, uow_factory: UnitOfWorkFactory, chain: Chain, signer: MintSigner
) -> str:
    """Move one ``pending`` ticket to ``submitted`` and send it; returns what happened."""
    bound = log.bind(ticket_id=ticket_id)
    with uow_factory() as uow:
        row = uow.mints.claim_pending(ticket_id)
        if row is None:
            return SKIPPED  # not pending any more, or another worker holds it
        bound = bound.bind(mint_address=row.mint_address)
        mint = derive_mint_keypair(signer.mint_secret, ticket_id)
        if str(mint.pubkey()) != row.mint_address:
            uow.mints.mark_failed(
                ticket_id,
                expected=Status.PENDING,
                reason="derived mint key does not match the recorded mint address "
                "(MINT_KEY_SECRET changed); refusing to sign",
            )
            uow.commit()
            bound.error("mint_key_mismatch")
            return Status.FAILED
        try:
            req = parse_mint_request(row.payload, default_standard=row.standard)
        except ValidationError as exc:
            reason = f"invalid request: {exc}"
            uow.mints.mark_failed(ticket_id, expected=Status.PENDING, reason=reason)
            uow.commit()
            return Status.FAILED
        place = placement(uow, req)
        if place is COLLECTION_FAILED:  # never minted outside it: fail, saying why
            reason = f"the collection of event {req.event_id} failed; retry it, then this"
            uow.mints.mark_failed(ticket_id, expected=Status.PENDING, reason=reason)
            uow.commit()
            return Status.FAILED
        if place is None:  # its event's collection is not on chain yet: woken when it is
            uow.mints.note_error(ticket_id, f"waiting for the collection of event {req.event_id}")
            uow.commit()
            return WAITING
        try:
            tx, last_valid = build_signed(
                req,
                chain=chain,
                signer=signer,
                mint=mint,
                place=place,
                resize=budget_exceeded(row.last_error),
                rebuilds=row.attempts,  # signed before: each expired unseen
            )
        except TransactionRejected as exc:
            outcome = resolve_refusal(uow, MINTS, row, chain, exc.err, expected=Status.PENDING)
            uow.commit()
            bound.info("simulation_refused", err=exc.err, outcome=outcome)
            return outcome
        signature = persist_submitted(uow, MINTS, ticket_id, tx, last_valid)
    return send_persisted(
        tx, signature, kind=MINTS, row=row, uow_factory=uow_factory, chain=chain, bound=bound
    )


def placement(uow: UnitOfWork, req) -> Placement | None:
    """A Core ticket of a registered event goes into its collection, frozen if the policy
    says so; None while that collection is not yet completed (never minted outside it)."""
    if req.standard != "core" or req.event_id is None:
        return NO_EVENT
    event = uow.collections.get(req.event_id)
    if event is not None and event.status == Status.FAILED:
        return COLLECTION_FAILED
    if event is None or event.status != Status.COMPLETED:
        return None
    frozen = event.transfer_policy in FROZEN_AT_MINT
    return Placement(Pubkey.from_string(event.collection_address), frozen)


def send_persisted(tx, signature: str, *, kind, row, uow_factory, chain: Chain, bound) -> str:
    """Step 4: send once what step 3 committed; a refusal is resolved by what is on chain."""
    bound = bound.bind(signature=signature)
    metrics.sent(kind.name)
    unknown = None
    try:
        chain.send(bytes(tx))
    except SendOutcomeUnknown as exc:
        unknown = str(exc)
    except TransactionRejected as exc:
        with uow_factory() as uow:
            uow.attempts.mark_sent(signature)
            uow.attempts.set_outcome(signature, Outcome.REJECTED, exc.err)
            outcome = resolve_refusal(uow, kind, row, chain, exc.err, expected=Status.SUBMITTED)
            uow.commit()
        bound.info("send_rejected", err=exc.err, outcome=outcome)
        return outcome
    return record_sent(uow_factory, signature, bound, unknown=unknown)


def resolve_refusal(uow: UnitOfWork, kind, row, chain: Chain, err: str, *, expected: str) -> Status:
    """The cluster refused it: if its effect is on chain (``kind.happened``: the created
    account exists, the asset shows the operation) an earlier attempt landed; else decide (a
    payer short of lamports is not the row's fault: it waits, it does not fail)."""
    key = kind.key_of(row)
    if kind.happened(uow, chain, [row])[0]:
        complete_from_history(uow, row, chain, expected=expected, kind=kind)
        return Status.COMPLETED
    # ran out of compute units on a limit from the cache: rebuilt once, sized by a simulation
    # (out of them again on a simulated limit, it is the transaction's own fault)
    resize = budget_exceeded(err) and not budget_exceeded(row.last_error)
    if payer_problem(err) or resize:  # not the row's fault: it waits, it does not fail
        if expected != Status.PENDING:
            kind.repo(uow).reset_to_pending(key, expected=expected, reason=err)
        else:
            kind.repo(uow).note_error(key, err)
        return Status.PENDING
    reason = f"refused by the cluster: {err}"
    kind.repo(uow).mark_failed(key, expected=expected, reason=reason)
    return Status.FAILED


class MintKind:
    """Mints in the shared lifecycle (:class:`actors.workflows.lifecycle.Kind`)."""

    name = "mint"
    key = "ticket_id"

    def repo(self, uow: UnitOfWork) -> MintRepository:
        return uow.mints

    def key_of(self, row: MintRow) -> str:
        return row.ticket_id

    def happened(self, uow: UnitOfWork, chain: Chain, rows) -> list[bool]:
        """The mint address is deterministic: its account exists only if one attempt landed."""
        accounts = chain.accounts([Pubkey.from_string(r.mint_address) for r in rows])
        return [a is not None for a in accounts]

    def landed_with_error(self, uow: UnitOfWork, chain: Chain, row: MintRow, err: str) -> Status:
        # parsed as the worker did before signing: a payload that no longer parses raises here
        parse_mint_request(row.payload, default_standard=row.standard)
        return resolve_refusal(uow, self, row, chain, err, expected=Status.SUBMITTED)


MINTS = MintKind()
