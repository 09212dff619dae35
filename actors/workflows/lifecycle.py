"""The submit / confirm / sweep lifecycle that mints and transfers share (DESIGN.md, steps 3-8).

* :func:`persist_submitted`: signature, bytes and last valid height committed before any send;
  :func:`record_sent` after it.
* the confirmer's pass (:mod:`actors.workflows.confirmer`) resolves ``submitted`` rows, with
  :func:`complete_from_history` and :func:`expired_for_good` from here (reconcile uses them too).
* :func:`sweep`: re-enqueue stale ``pending`` rows, so a lost message only delays the work.

A :class:`Kind` says what differs between mints and transfers.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Protocol, runtime_checkable

from solders.signature import Signature

from actors.workflows.ports import Chain, IntentRepository, UnitOfWork, UnitOfWorkFactory
from actors.workflows.sent_marks import SentMarks
from ledger.models import Outcome, Status, Submission
from minter.rpc import TransactionRejected

DEFAULT_PENDING_AGE = timedelta(seconds=30)


# signed transactions per ticket (or transfer); when the last has expired unseen, the row fails
DEFAULT_MAX_ATTEMPTS = 20


DEFAULT_CU_MARGIN = 1.15


DEFAULT_CU_FLOOR = 20_000


SIMULATION_CU_LIMIT = 1_400_000


SKIPPED = "skipped"  # what a worker answers for a row that is not pending, or held elsewhere


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


def expired_for_good(row, kind: Kind, max_attempts: int, repo: IntentRepository) -> bool:
    """The row's latest attempt expired unseen and its effect is absent: fail it if that was
    its last allowed attempt (earlier ones expired before it was signed, so none can land)."""
    if row.attempts < max_attempts:
        return False
    reason = f"all {row.attempts} attempts expired unseen; the {kind.name} is not on chain"
    return repo.mark_failed(kind.key_of(row), expected=Status.SUBMITTED, reason=reason)


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
