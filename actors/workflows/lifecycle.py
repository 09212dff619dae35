"""The submit / confirm / sweep lifecycle that mints and transfers share (DESIGN.md, steps 3-8).

* :func:`persist_submitted`: signature, bytes and last valid height committed before any send;
  :func:`record_sent` after it.
* :func:`confirm_submitted`: resolve many ``submitted`` rows with one getSignatureStatuses call;
  rebroadcast the same bytes while the blockhash is valid; after it expired, complete if it
  happened on chain, otherwise put the row back to ``pending`` for a rebuild, or fail it once
  ``max_attempts`` signed transactions have all expired unseen.
* :func:`sweep`: re-enqueue stale ``pending`` rows, so a lost message only delays the work.

A :class:`Kind` says what differs between mints and transfers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol, runtime_checkable

from solders.signature import Signature
from solders.transaction_status import TransactionStatus

from actors.infra import metrics
from actors.workflows.ports import Chain, IntentRepository, IntentRow, UnitOfWork, UnitOfWorkFactory
from actors.workflows.sent_marks import SentMarks
from ledger.models import Outcome, Status, Submission
from minter.rpc import SendOutcomeUnknown, TransactionRejected

DEFAULT_CONFIRM_BATCH = 256  # getSignatureStatuses takes at most 256 signatures


DEFAULT_PENDING_AGE = timedelta(seconds=30)


# an unseen transaction is sent again once it is this old (a node's own rebroadcast period):
# younger, its worker may still be about to send it, and a second copy only costs the cluster
DEFAULT_REBROADCAST_AFTER = timedelta(seconds=2)


# signed transactions per ticket (or transfer); when the last has expired unseen, the row fails
DEFAULT_MAX_ATTEMPTS = 20


DEFAULT_CU_MARGIN = 1.15


DEFAULT_CU_FLOOR = 20_000


SIMULATION_CU_LIMIT = 1_400_000


SKIPPED = "skipped"  # what a worker answers for a row that is not pending, or held elsewhere


_LEVELS = {"processed": 0, "confirmed": 1, "finalized": 2}


@runtime_checkable
class Kind(Protocol):
    """What the shared lifecycle needs to know of one kind of intent (mint or transfer)."""

    name: str  # nft_attempts.kind
    key: str  # the name of the row's id attribute

    def repo(self, uow: UnitOfWork) -> IntentRepository: ...

    def key_of(self, row) -> str: ...

    def happened(self, uow: UnitOfWork, chain: Chain, rows) -> list[bool]:
        """For each row: did it take effect on chain (whichever attempt did it)?"""
        ...

    def landed_with_error(self, uow: UnitOfWork, chain: Chain, row, err: str) -> Status:
        """A ``submitted`` row's transaction landed with ``err``: resolve it, say how."""
        ...


SHAPE_STEP = 64  # bytes of instruction data that count as one size in a transaction's shape
# Added to a learned limit: transactions of one shape still differ, above all by the bump
# search of a PDA (an associated token account: about 1,500 CU per failed bump, each one
# half as likely as the last); 20k covers 13 more bumps than the shape's largest simulation
# (a 1 in 8,192 chance), and one that still runs out is rebuilt and simulated.
CACHED_CU_HEADROOM = 20_000


# what a transaction that ran out of compute units says (landed with it: rebuilt, re-sized)
# (a BPF program that runs out says ProgramFailedToComplete: a rebuild's simulation tells)
_BUDGET_EXCEEDED = ("ComputationalBudgetExceeded", "exceeded CUs meter", "ProgramFailedToComplete")


def budget_exceeded(err: str | None) -> bool:
    return err is not None and any(p in err for p in _BUDGET_EXCEEDED)


class ComputeBudgets:
    """Compute unit limits learned from simulations, by transaction shape (each instruction's
    program, account count and data length), so a transaction of a shape already seen is
    signed without simulating it: the cluster then runs each mint once. The largest limit seen
    for a shape is kept; a transaction that still runs out lands with an error, and its rebuild
    simulates again (``resize``)."""

    def __init__(self) -> None:
        self._units: dict[tuple, int] = {}
        self._learning: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def learning(self, shape: tuple) -> threading.Lock:
        """The lock of one shape: while a thread simulates a shape not learned yet, the others
        that meet it wait for what it learns (a worker's 8 threads starting on one shape
        simulated it 8 times)."""
        with self._lock:
            return self._learning.setdefault(shape, threading.Lock())

    @staticmethod
    def shape(tx) -> tuple:
        """The shape of a transaction, or of its message."""
        message = getattr(tx, "message", tx)
        keys = message.account_keys
        # data lengths by 64-byte steps: names and uris of a sale differ by a few characters,
        # which the margin covers; a bigger change of size is another shape
        return tuple(
            (bytes(keys[ix.program_id_index]), len(ix.accounts), len(ix.data) // SHAPE_STEP)
            for ix in message.instructions
        )

    def get(self, shape: tuple) -> int | None:
        with self._lock:
            return self._units.get(shape)

    def learn(self, shape: tuple, units: int) -> None:
        with self._lock:
            self._units[shape] = max(units, self._units.get(shape, 0))


def compute_units(
    build: Callable,
    *,
    chain: Chain,
    margin: float = DEFAULT_CU_MARGIN,
    budgets: ComputeBudgets | None = None,
    resize: bool = False,
    sign: Callable | None = None,
) -> int:
    """The compute unit limit for ``build(units)``'s transaction: the limit learned for its
    shape when ``budgets`` knows it (and ``resize`` is not asked), else from a simulation plus
    ``margin``. With ``sign``, ``build`` gives unsigned messages and only a simulated one is
    signed (a shape the cache knows costs no signature)."""
    probe = build(SIMULATION_CU_LIMIT)
    shape = budgets.shape(probe) if budgets is not None else None
    simulate = dict(chain=chain, margin=margin, budgets=budgets, shape=shape, sign=sign)
    if shape is None or resize:
        return _simulated(probe, **simulate)
    with budgets.learning(shape):
        units = budgets.get(shape)
        if units is None:
            return _simulated(probe, **simulate)
    return min(SIMULATION_CU_LIMIT, units + CACHED_CU_HEADROOM)


def _simulated(probe, *, chain: Chain, margin: float, budgets, shape, sign) -> int:
    """The limit a simulation of ``probe`` asks for, plus ``margin``; learned for ``shape``."""
    sim = chain.simulate(sign(probe) if sign is not None else probe)
    if sim.err is not None:
        raise TransactionRejected(sim.err, sim.logs)
    units = max(DEFAULT_CU_FLOOR, int((sim.units or 0) * margin))
    if shape is not None:
        budgets.learn(shape, units)
    return units


def record_sent(
    uow_factory: UnitOfWorkFactory,
    signature: str,
    bound,
    *,
    unknown: str | None,
    marks: SentMarks | None = None,
) -> Status:
    """After a send that was not refused: ``sent_at``, one log line, ``submitted``.

    sent_at is written after the send, not in the persist commit: a crash in between must not
    claim a send that never happened (the confirmer's rebroadcast then records it). It is
    written on an unknown outcome too: a dropped response may still have landed.
    """
    if marks is not None:  # written with others of this process, an interval later at most
        marks.add(signature)
    else:
        with uow_factory() as uow:
            uow.attempts.mark_sent(signature)
            uow.commit()
    if unknown is not None:
        bound.info("send_outcome_unknown", error=unknown)
    else:
        bound.info("sent")
    return Status.SUBMITTED


def persist_submitted(uow: UnitOfWork, kind: Kind, key: str, tx, last_valid: int) -> str:
    """Step 3 for one row (see :func:`persist_many`); returns its signature."""
    return persist_many(uow, kind, [(key, tx, last_valid)])[0]


def persist_many(uow: UnitOfWork, kind: Kind, items) -> list[str]:
    """Step 3: signatures, signed bytes and last valid heights committed before any send, for
    ``(key, tx, last_valid)`` items, in one UPDATE, one INSERT and one commit. Each attempt
    records its fee payer (account key 0: a pool member for a mint, the authority for
    collections, lifecycle operations and transfers). Returns the signatures in item order."""
    rows = [
        Submission(
            key, str(tx.signatures[0]), bytes(tx), last_valid, str(tx.message.account_keys[0])
        )
        for key, tx, last_valid in items
    ]
    kind.repo(uow).mark_submitted_many(rows, expected=Status.PENDING)
    uow.attempts.record_many(kind.name, rows)
    uow.commit()
    return [r.signature for r in rows]


# The fee payer is missing or short of lamports (system program error 1 is "insufficient
# lamports" in CreateAccount): retry once it is funded, never fail the ticket for it.
_PAYER_PROBLEMS = ("InsufficientFunds", "AccountNotFound", "InstructionErrorCustom(1)")


def payer_problem(err: str) -> bool:
    if "InsufficientFundsForRent" in err:  # the payer's own balance, or another account's rent
        return re.search(r"account_index:\s*0\b", err) is not None
    return any(p in err for p in _PAYER_PROBLEMS)


def complete_from_history(uow: UnitOfWork, row, chain: Chain, *, expected: str, kind: Kind) -> None:
    """It happened on chain: find which recorded attempt landed, and complete with it."""
    key = kind.key_of(row)
    attempts = uow.attempts.list_for(kind.name, key)
    landed, slot = None, None
    if attempts:
        statuses = chain.statuses([Signature.from_string(a.signature) for a in attempts])
        for attempt, status in zip(attempts, statuses, strict=True):
            if status is not None and status.err is None:
                landed, slot = attempt.signature, status.slot
                uow.attempts.set_outcome(attempt.signature, Outcome.LANDED)
            elif attempt.outcome is None:
                uow.attempts.set_outcome(attempt.signature, Outcome.SUPERSEDED)
    kind.repo(uow).mark_completed(key, expected=expected, signature=landed, slot=slot)


@dataclass
class ConfirmStats:
    completed: int = 0
    rebroadcast: int = 0
    rebuilt: int = 0
    failed: int = 0
    waiting: int = 0
    rebuild_ids: list[str] = field(default_factory=list)
    completed_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Seen:
    """One claimed row beside the chain: its status, and for an expired unseen one whether
    its effect is on chain anyway (None while its blockhash is still valid)."""

    row: IntentRow
    status: TransactionStatus | None
    happened: bool | None = None


def confirm_submitted(
    *,
    uow_factory: UnitOfWorkFactory,
    chain: Chain,
    kind: Kind,
    commitment: str = "confirmed",
    limit: int = DEFAULT_CONFIRM_BATCH,
    notify: Callable[[list[str]], None] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    rebroadcast_after: timedelta = DEFAULT_REBROADCAST_AFTER,
) -> ConfirmStats:
    """Resolve up to ``limit`` ``submitted`` rows of ``kind`` with one statuses call (an unseen
    one is sent again once it was submitted ``rebroadcast_after`` ago)."""
    stats = ConfirmStats()
    resend: dict[str, bytes] = {}  # signature -> the signed bytes
    with uow_factory() as uow:
        rows = _claim(uow, kind, limit)
        if not rows:
            return stats
        landed: list[_Seen] = []
        fresh = _fresh(uow, kind, rows, rebroadcast_after)
        for seen in _classify(uow, chain, kind, rows):
            if seen.status is not None and seen.status.err is None:
                landed.append(seen)
            elif seen.status is not None:  # landed with an error (only with skip_preflight)
                _resolve_landed_with_error(uow, chain, kind, seen, stats)
            elif seen.happened is not None:
                _resolve_expired(uow, chain, kind, seen, stats, max_attempts=max_attempts)
            elif kind.key_of(seen.row) not in fresh:  # unseen, blockhash still valid
                resend[seen.row.signature] = bytes(seen.row.signed_tx)
        _resolve_landed(uow, kind, landed, stats, need=_LEVELS[commitment])
        kind.repo(uow).mark_checked([kind.key_of(r) for r in rows])
        uow.commit()
    _rebroadcast(chain, kind, resend, stats)
    if notify and stats.rebuild_ids:
        notify(stats.rebuild_ids)
    _record_resent(uow_factory, resend)
    return stats


def _fresh(uow: UnitOfWork, kind: Kind, rows, age: timedelta) -> set[str]:
    """Keys of rows submitted less than ``age`` ago: their worker may not have sent them yet
    (a batch sends one after another after its commit), so they are not sent again now."""
    if age <= timedelta(0):
        return set()
    now = kind.repo(uow).db_now()
    return {kind.key_of(r) for r in rows if now - r.updated_at < age}


def _claim(uow: UnitOfWork, kind: Kind, limit: int) -> list[IntentRow]:
    """Lock up to ``limit`` submitted rows no other confirmer holds, least recently checked."""
    return kind.repo(uow).claim_batch(Status.SUBMITTED, limit=limit)


def _classify(uow: UnitOfWork, chain: Chain, kind: Kind, rows) -> list[_Seen]:
    """One statuses call for all; the block height only if some are unseen, and the chain's
    effect only for those whose blockhash has expired."""
    statuses = chain.statuses([Signature.from_string(r.signature) for r in rows])
    unseen = [r for r, s in zip(rows, statuses, strict=True) if s is None]
    height = chain.block_height() if unseen else 0
    expired = [r for r in unseen if height > r.last_valid_block_height]
    happened = dict(
        zip(
            [id(r) for r in expired],
            kind.happened(uow, chain, expired) if expired else [],
            strict=True,
        )
    )
    return [_Seen(r, s, happened.get(id(r))) for r, s in zip(rows, statuses, strict=True)]


def _resolve_landed(
    uow: UnitOfWork, kind: Kind, landed: list[_Seen], stats: ConfirmStats, *, need: int
) -> None:
    """Landed OK: completed once at the asked commitment level (one UPDATE for all of them),
    else left to wait for it."""
    ready = {}
    for seen in landed:
        if _level(seen.status) < need:
            stats.waiting += 1
        else:
            ready[kind.key_of(seen.row)] = seen
    moved = kind.repo(uow).mark_completed_many(
        {key: seen.status.slot for key, seen in ready.items()}, expected=Status.SUBMITTED
    )
    uow.attempts.set_outcomes([ready[key].row.signature for key in moved], Outcome.LANDED)
    stats.completed += len(moved)
    stats.completed_ids.extend(moved)


def _resolve_landed_with_error(
    uow: UnitOfWork, chain: Chain, kind: Kind, seen: _Seen, stats: ConfirmStats
) -> None:
    """Landed with an error: the kind decides (e.g. a mint that exists was an earlier landing)."""
    err = str(seen.status.err)
    uow.attempts.set_outcome(seen.row.signature, Outcome.FAILED, err)
    outcome = kind.landed_with_error(uow, chain, seen.row, err)
    stats.completed += outcome == Status.COMPLETED
    if outcome == Status.COMPLETED:
        stats.completed_ids.append(kind.key_of(seen.row))
    stats.failed += outcome == Status.FAILED
    if outcome == Status.PENDING:
        stats.rebuild_ids.append(kind.key_of(seen.row))


def _resolve_expired(
    uow: UnitOfWork,
    chain: Chain,
    kind: Kind,
    seen: _Seen,
    stats: ConfirmStats,
    *,
    max_attempts: int,
) -> None:
    """Expired unseen: complete if it happened anyway, else rebuild, or fail at the cap."""
    row, key = seen.row, kind.key_of(seen.row)
    if seen.happened:
        complete_from_history(uow, row, chain, expected=Status.SUBMITTED, kind=kind)
        stats.completed += 1
        stats.completed_ids.append(key)
        return
    uow.attempts.set_outcome(row.signature, Outcome.EXPIRED)
    if expired_for_good(row, kind, max_attempts, kind.repo(uow)):
        stats.failed += 1  # not in rebuild_ids: nothing wakes a failed row
        return
    kind.repo(uow).reset_to_pending(
        key, expected=Status.SUBMITTED, reason="blockhash expired unseen"
    )
    stats.rebuilt += 1
    stats.rebuild_ids.append(key)


def _rebroadcast(chain: Chain, kind: Kind, resend: dict[str, bytes], stats: ConfirmStats) -> None:
    """The same bytes again: at most one of them can ever land."""
    for raw in resend.values():
        metrics.rebroadcast(kind.name)
        try:
            chain.send(raw)
        except (SendOutcomeUnknown, TransactionRejected):
            pass  # resolved on a later pass either way
        stats.rebroadcast += 1


def _record_resent(uow_factory: UnitOfWorkFactory, resend: dict[str, bytes]) -> None:
    """Only fills sent_at left NULL (a worker died between its commit and its send)."""
    if resend:
        with uow_factory() as uow:
            uow.attempts.mark_sent(list(resend))
            uow.commit()


def expired_for_good(row, kind: Kind, max_attempts: int, repo: IntentRepository) -> bool:
    """The row's latest attempt expired unseen and its effect is absent: fail it if that was
    its last allowed attempt (earlier ones expired before it was signed, so none can land)."""
    if row.attempts < max_attempts:
        return False
    reason = f"all {row.attempts} attempts expired unseen; the {kind.name} is not on chain"
    return repo.mark_failed(kind.key_of(row), expected=Status.SUBMITTED, reason=reason)


def _level(status) -> int:
    cs = status.confirmation_status
    if cs is None:  # finalized statuses may omit the level and report confirmations null
        return 2
    return _LEVELS[str(cs).rsplit(".", 1)[-1].lower()]


def sweep(
    *,
    uow_factory: UnitOfWorkFactory,
    notify: Callable[[list[str]], None],
    kind: Kind,
    pending_age: timedelta = DEFAULT_PENDING_AGE,
    limit: int = 1000,
) -> int:
    """Re-enqueue ``pending`` rows of ``kind`` untouched for ``pending_age``; returns how many."""
    with uow_factory() as uow:
        ids = kind.repo(uow).requeue_stale_pending(older_than=pending_age, limit=limit)
        uow.commit()
    if ids:
        notify(ids)
    return len(ids)
