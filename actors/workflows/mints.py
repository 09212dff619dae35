"""Mints: steps 2-5 of the exactly-once protocol (DESIGN.md), and what the shared lifecycle
(:mod:`actors.workflows.lifecycle`) needs to know of a mint (:data:`MINTS`).

:func:`process_mint` claims a ``pending`` row, derives the mint key, builds and signs, persists
signature, bytes and ``last_valid_block_height`` as ``submitted``, commits, then sends once.
Every workflow takes its collaborators as arguments; the worker's actors stay thin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import structlog
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from actors.infra import metrics
from actors.workflows.lifecycle import (
    DEFAULT_CU_MARGIN,
    SKIPPED,
    ComputeBudgets,
    budget_exceeded,
    complete_from_history,
    compute_units,
    payer_problem,
    persist_many,
    record_sent,
)
from actors.workflows.payers import NO_PAYER_FUNDED, PayerPool
from actors.workflows.ports import Chain, MintRepository, MintRow, UnitOfWork, UnitOfWorkFactory
from actors.workflows.pricing import priced
from actors.workflows.sent_marks import SentMarks
from ledger.models import Outcome, Status
from minter.errors import MinterError, TransientRpcError, ValidationError
from minter.fees import PriorityFeePolicy
from minter.keys import Payer, derive_mint_keypair
from minter.nft import MAX_TRANSACTION_BYTES, parse_mint_request
from minter.nft.event import FROZEN_AT_MINT
from minter.nft.transaction import (
    NO_EVENT,
    Placement,
    mint_message_builder,
    sign_mint_message,
    signed_size,
)
from minter.rpc import SendOutcomeUnknown, TransactionRejected

log = structlog.get_logger(__name__)
WAITING = "waiting"  # a ticket whose event's collection is not on chain yet
ALREADY_PROCESSED = "AlreadyProcessed"  # a send refused because the cluster has these bytes
UNFUNDED = "unfunded"  # no fee payer of the pool is funded: the ticket waits (pending)
COLLECTION_FAILED = Placement(collection=None, frozen=True)  # a marker: its event's failed


@dataclass(frozen=True)
class MintSigner:
    """What signing a mint needs: the authority, the fee payers, the mint-key secret and the
    fee policy.

    ``payer`` is the authority (the platform's key: it signs metadata, collections, delegates
    and lifecycle operations, and pays for collections and operations); ``payers``, when set,
    is the fee-payer pool that pays each mint (else the authority pays it too).
    """

    payer: Payer
    mint_secret: bytes = field(repr=False)
    compute_unit_price: int | None = None
    cu_margin: float = DEFAULT_CU_MARGIN
    # limits learned per transaction shape (one per worker process); None: simulate each one
    budgets: ComputeBudgets | None = field(default=None, compare=False)
    # SOLANA_COMPUTE_UNIT_PRICE=auto: priced from the recent fees of its writable accounts
    fees: PriorityFeePolicy | None = None
    # SOLANA_PAYER_KEYPAIRS: who pays each mint (least recently used among the funded ones)
    payers: PayerPool | None = field(default=None, compare=False)

    def fee_payer(self) -> Payer | None:
        """Who pays the next mint attempt: the pool's pick (None: none is funded), or the
        authority without a pool."""
        return self.payers.pick() if self.payers is not None else self.payer

    def drained(self, tx) -> None:
        """A transaction was refused for its fee payer's funds: skip that payer now."""
        if self.payers is not None:
            self.payers.drained(tx.message.account_keys[0])

    def unfunded_reason(self) -> str:
        least = self.payers.min_lamports if self.payers is not None else 0
        return (
            f"{NO_PAYER_FUNDED}: every payer holds less than MINT_PAYER_MIN_LAMPORTS "
            f"({least} lamports); waiting until one is topped up"
        )


class NoPayerFunded(Exception):
    """No payer of the pool is funded (the mint waits; it never fails for it)."""


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
    payer: Payer | None = None,
):
    """A signed mint transaction and its last valid block height (simulated for its compute
    budget only when its shape is new, or ``resize``: the last one ran out; with ``auto``
    priority fees, priced from the recent fees of its writable accounts, raised per rebuild).

    ``payer`` pays it (default: the signer's pick for this attempt); the signer's authority
    holds the ticket's authorities. The mint address is the same whoever pays."""
    payer = payer or signer.fee_payer()
    if payer is None:
        raise NoPayerFunded(signer.unfunded_reason())
    payer = fitting_payer(req, payer, signer.payer, mint, place)
    blockhash, last_valid = chain.latest_blockhash()

    # messages until the last step: the shape, the size and the writable accounts are read
    # from them, and only the transaction that is sent (or simulated) is signed
    message = mint_message_builder(
        req, payer=payer, authority=signer.payer, mint=mint, recent_blockhash=blockhash, place=place
    )

    def build(units: int, price: int | None = signer.compute_unit_price):
        return message(units, price)

    def sign(message):
        return sign_mint_message(message, payer=payer, mint=mint, authority=signer.payer)

    units = compute_units(
        build,
        chain=chain,
        margin=signer.cu_margin,
        budgets=signer.budgets,
        resize=resize,
        sign=sign,
    )
    tx = priced(
        build,
        chain=chain,
        units=units,
        fees=signer.fees,
        fixed_price=signer.compute_unit_price,
        rebuilds=rebuilds,
    )
    return sign(tx), last_valid


def fitting_payer(req, payer: Payer, authority: Payer, mint: Keypair, place) -> Payer:
    """``payer``, unless its transaction would not fit in a packet: a payer other than the
    authority adds a signature and a key (96 bytes), more than the longest tickets the intake
    accepts have room for; the authority then pays that ticket itself, as a pool of one would."""
    if payer.pubkey == authority.pubkey:
        return payer
    size = signed_size(req, payer=payer, mint=mint, authority=authority, place=place)
    return payer if size <= MAX_TRANSACTION_BYTES else authority


# ---------------------------------------------------------------------------------------------
# step 2–3: claim, sign, persist, send


def process_mint(
    ticket_id: str,
    *,
    uow_factory: UnitOfWorkFactory,
    chain: Chain,
    signer: MintSigner,
    sent: SentMarks | None = None,
) -> str:
    """:func:`process_mints` for one ticket; returns what happened to it."""
    return process_mints(
        [ticket_id], uow_factory=uow_factory, chain=chain, signer=signer, sent=sent
    )[ticket_id]


def process_mints(
    ticket_ids: Sequence[str],
    *,
    uow_factory: UnitOfWorkFactory,
    chain: Chain,
    signer: MintSigner,
    sent: SentMarks | None = None,
) -> dict[str, str]:
    """Move the ``pending`` tickets among ``ticket_ids`` to ``submitted`` and send each; returns
    what happened to each (``sent``: the process's buffer of ``sent_at`` marks, else each is
    its own commit).

    Each ticket is decided, signed and sent as if alone (its own mint key, payer, attempt and
    fate); what the batch shares are round trips: one claim, one UPDATE and one INSERT for the
    signed ones, one commit, all before the first send. A ticket whose chain call fails is
    left ``pending`` (its lock released by the commit) and the others go on; on a transient
    fault the batch stops there (the cluster is unwell) and the rest wait for the retry. The
    first such error is raised once every signed ticket has been sent.
    """
    outcomes = dict.fromkeys(ticket_ids, SKIPPED)
    signed = []  # (row, tx, last_valid, bound)
    places: dict = {}  # (standard, event_id) -> its placement, read once per batch
    error: MinterError | None = None
    with uow_factory() as uow:
        for row in uow.mints.claim_pending_many(list(outcomes)):
            bound = log.bind(ticket_id=row.ticket_id, mint_address=row.mint_address)
            try:
                outcome, built = _prepare(
                    uow, row, chain=chain, signer=signer, bound=bound, places=places
                )
            except MinterError as exc:
                error = error or exc
                outcomes[row.ticket_id] = Status.PENDING
                if isinstance(exc, TransientRpcError):
                    break
                continue
            if built is None:
                outcomes[row.ticket_id] = outcome
            else:
                signed.append((row, *built, bound))
        persist_many(uow, MINTS, [(row.ticket_id, tx, last) for row, tx, last, _ in signed])
    # one request for the batch: the node reads it once, runs each in turn, answers each
    answers = chain.send_many([bytes(tx) for _, tx, _, _ in signed]) if signed else []
    for (row, tx, _, bound), answer in zip(signed, answers, strict=True):
        try:
            outcomes[row.ticket_id] = settle_send(
                answer,
                tx,
                str(tx.signatures[0]),
                kind=MINTS,
                row=row,
                uow_factory=uow_factory,
                chain=chain,
                bound=bound,
                on_payer_problem=signer.drained,
                sent=sent,
            )
        except MinterError as exc:  # sent or not, it is submitted: the confirmer resolves it
            error = error or exc
            outcomes[row.ticket_id] = Status.SUBMITTED
    if error is not None:
        raise error
    return outcomes


def _prepare(uow: UnitOfWork, row, *, chain: Chain, signer: MintSigner, bound, places: dict):
    """One claimed row: ``(outcome, None)`` when it is decided without a send (failed, waiting,
    refused), else ``(None, (tx, last_valid))``, its signed transaction."""
    ticket_id = row.ticket_id
    mint = derive_mint_keypair(signer.mint_secret, ticket_id)
    if str(mint.pubkey()) != row.mint_address:
        uow.mints.mark_failed(
            ticket_id,
            expected=Status.PENDING,
            reason="derived mint key does not match the recorded mint address "
            "(MINT_KEY_SECRET changed); refusing to sign",
        )
        bound.error("mint_key_mismatch")
        return Status.FAILED, None
    try:
        req = parse_mint_request(row.payload, default_standard=row.standard)
    except ValidationError as exc:
        uow.mints.mark_failed(ticket_id, expected=Status.PENDING, reason=f"invalid request: {exc}")
        return Status.FAILED, None
    where = (req.standard, req.event_id)  # a batch's tickets of one event read it once
    if where not in places:
        places[where] = placement(uow, req)
    place = places[where]
    if place is COLLECTION_FAILED:  # never minted outside it: fail, saying why
        reason = f"the collection of event {req.event_id} failed; retry it, then this"
        uow.mints.mark_failed(ticket_id, expected=Status.PENDING, reason=reason)
        return Status.FAILED, None
    if place is None:  # its event's collection is not on chain yet: woken when it is
        uow.mints.note_error(ticket_id, f"waiting for the collection of event {req.event_id}")
        return WAITING, None
    payer = signer.fee_payer()  # this attempt's: any payer, the mint address is the same
    if payer is None:  # none is funded: it waits, it never fails for it
        uow.mints.note_error(ticket_id, signer.unfunded_reason())
        return UNFUNDED, None
    try:
        return None, build_signed(
            req,
            chain=chain,
            signer=signer,
            mint=mint,
            place=place,
            resize=budget_exceeded(row.last_error),
            rebuilds=row.attempts,  # signed before: each expired unseen
            payer=payer,
        )
    except TransactionRejected as exc:
        if payer_problem(exc.err) and signer.payers is not None:
            signer.payers.drained(payer)
        outcome = resolve_refusal(uow, MINTS, row, chain, exc.err, expected=Status.PENDING)
        bound.info("simulation_refused", err=exc.err, outcome=outcome, payer=str(payer.pubkey))
        return outcome, None


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


def send_persisted(tx, signature: str, *, chain: Chain, **settle) -> str:
    """Step 4: send once what step 3 committed; the answer is settled by :func:`settle_send`
    (``settle``: its keyword arguments but ``chain``)."""
    try:
        answer = chain.send(bytes(tx))
    except (SendOutcomeUnknown, TransactionRejected) as exc:
        answer = exc
    return settle_send(answer, tx, signature, chain=chain, **settle)


def settle_send(
    answer,
    tx,
    signature: str,
    *,
    kind,
    row,
    uow_factory,
    chain: Chain,
    bound,
    on_payer_problem=None,
    sent: SentMarks | None = None,
) -> str:
    """What the cluster answered one send (its signature, or the error sending raised): a
    refusal is resolved by what is on chain (``on_payer_problem(tx)``: told when it was
    refused for its fee payer's funds); any other error is raised."""
    bound = bound.bind(signature=signature)
    metrics.sent(kind.name)
    unknown = None
    if isinstance(answer, SendOutcomeUnknown):
        unknown = str(answer)
    elif isinstance(answer, TransactionRejected):
        if on_payer_problem is not None and payer_problem(answer.err):
            on_payer_problem(tx)
        with uow_factory() as uow:
            uow.attempts.mark_sent(signature)
            if ALREADY_PROCESSED in answer.err and not kind.happened(uow, chain, [row])[0]:
                # the cluster has these very bytes (the confirmer's rebroadcast of the committed
                # attempt got there first) and they did not take effect: they landed with an
                # error (e.g. a payer drained meanwhile). The confirmer resolves them by their
                # status (rebuilt, or failed for the transaction's own fault), not this refusal
                uow.commit()
                bound.info("sent", already_processed=True)
                return Status.SUBMITTED
            uow.attempts.set_outcome(signature, Outcome.REJECTED, answer.err)
            outcome = resolve_refusal(uow, kind, row, chain, answer.err, expected=Status.SUBMITTED)
            uow.commit()
        bound.info("send_rejected", err=answer.err, outcome=outcome)
        return outcome
    elif isinstance(answer, Exception):
        raise answer
    return record_sent(uow_factory, signature, bound, unknown=unknown, marks=sent)


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
    """Mints in the shared lifecycle (:class:`actors.workflows.lifecycle.Kind`).

    ``payers``: the worker's fee-payer pool, told at once when an attempt landed with an error
    that says its fee payer was short of lamports (the confirmer's path), so the rebuild goes
    to another payer rather than waiting for the pool's next balance read.
    """

    name = "mint"
    key = "ticket_id"

    def __init__(self, payers: PayerPool | None = None) -> None:
        self.payers = payers

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
        if self.payers is not None and payer_problem(err) and row.signed_tx:
            fee_payer = VersionedTransaction.from_bytes(bytes(row.signed_tx))
            self.payers.drained(fee_payer.message.account_keys[0])
        return resolve_refusal(uow, self, row, chain, err, expected=Status.SUBMITTED)


MINTS = MintKind()
