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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from solders.signature import Signature

from actors.infra import metrics
from minter.rpc import ChainClient, SendOutcomeUnknown, TransactionRejected

DEFAULT_CONFIRM_BATCH = 256  # getSignatureStatuses takes at most 256 signatures


DEFAULT_PENDING_AGE = timedelta(seconds=30)


# signed transactions per ticket (or transfer); when the last has expired unseen, the row fails
DEFAULT_MAX_ATTEMPTS = 20


DEFAULT_CU_MARGIN = 1.15


DEFAULT_CU_FLOOR = 20_000


SIMULATION_CU_LIMIT = 1_400_000


_LEVELS = {"processed": 0, "confirmed": 1, "finalized": 2}


def sized_transaction(build: Callable, *, chain: ChainClient, margin: float = DEFAULT_CU_MARGIN):
    """``build(units)`` with the compute unit limit from a simulation plus ``margin``."""
    sim = chain.simulate(build(SIMULATION_CU_LIMIT))
    if sim.err is not None:
        raise TransactionRejected(sim.err, sim.logs)
    return build(max(DEFAULT_CU_FLOOR, int((sim.units or 0) * margin)))


def record_sent(uow_factory: Callable, signature: str, bound, *, unknown: str | None) -> str:
    """After a send that was not refused: ``sent_at``, one log line, ``submitted``.

    sent_at is written after the send, not in the persist commit: a crash in between must not
    claim a send that never happened (the confirmer's rebroadcast then records it). It is
    written on an unknown outcome too: a dropped response may still have landed.
    """
    with uow_factory() as uow:
        uow.attempts.mark_sent(signature)
        uow.commit()
    if unknown is not None:
        bound.info("send_outcome_unknown", error=unknown)
    else:
        bound.info("sent")
    return "submitted"


def persist_submitted(uow, kind: Kind, key: str, tx, last_valid: int) -> str:
    """Step 3: signature, signed bytes and last valid height committed before any send."""
    signature = str(tx.signatures[0])
    kind.repo(uow).mark_submitted(
        key,
        expected="pending",
        signature=signature,
        signed_tx=bytes(tx),
        last_valid_block_height=last_valid,
    )
    uow.attempts.record(kind.name, key, signature, last_valid)
    uow.commit()
    return signature


# The fee payer is missing or short of lamports (system program error 1 is "insufficient
# lamports" in CreateAccount): retry once it is funded, never fail the ticket for it.
_PAYER_PROBLEMS = ("InsufficientFunds", "AccountNotFound", "InstructionErrorCustom(1)")


def payer_problem(err: str) -> bool:
    if "InsufficientFundsForRent" in err:  # the payer's own balance, or another account's rent
        return re.search(r"account_index:\s*0\b", err) is not None
    return any(p in err for p in _PAYER_PROBLEMS)


def complete_from_history(uow, row, chain: ChainClient, *, expected: str, kind: Kind) -> None:
    """It happened on chain: find which recorded attempt landed, and complete with it."""
    key = getattr(row, kind.key)
    attempts = uow.attempts.list_for(kind.name, key)
    landed = None
    if attempts:
        statuses = chain.statuses([Signature.from_string(a.signature) for a in attempts])
        for attempt, status in zip(attempts, statuses, strict=True):
            if status is not None and status.err is None:
                landed = attempt.signature
                uow.attempts.set_outcome(attempt.signature, "landed")
            elif attempt.outcome is None:
                uow.attempts.set_outcome(attempt.signature, "superseded")
    kind.repo(uow).mark_completed(key, expected=expected, signature=landed)


@dataclass(frozen=True)
class Kind:
    """What the confirmer needs to know of one kind of intent (mint or transfer)."""

    name: str  # nft_attempts.kind
    repo: Callable  # uow -> its repository
    key: str  # the row's id attribute
    happened: Callable  # (uow, chain, rows) -> [bool]: did it take effect on chain?
    landed_with_error: Callable  # (uow, chain, row, err) -> "completed" | "failed" | "pending"


@dataclass
class ConfirmStats:
    completed: int = 0
    rebroadcast: int = 0
    rebuilt: int = 0
    failed: int = 0
    waiting: int = 0
    rebuild_ids: list[str] = field(default_factory=list)


def confirm_submitted(
    *,
    uow_factory: Callable,
    chain: ChainClient,
    kind: Kind,
    commitment: str = "confirmed",
    limit: int = DEFAULT_CONFIRM_BATCH,
    notify: Callable[[list[str]], None] | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> ConfirmStats:
    """Resolve up to ``limit`` ``submitted`` rows of ``kind`` with one statuses call."""
    stats = ConfirmStats()
    resend: dict[str, bytes] = {}  # signature -> the signed bytes
    need = _LEVELS[commitment]
    with uow_factory() as uow:
        repo = kind.repo(uow)
        rows = repo.claim_batch("submitted", limit=limit)
        if not rows:
            return stats
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
        for row, status in zip(rows, statuses, strict=True):
            key = getattr(row, kind.key)
            if status is not None and status.err is None:
                if _level(status) >= need:
                    repo.mark_completed(key, expected="submitted")
                    uow.attempts.set_outcome(row.signature, "landed")
                    stats.completed += 1
                else:
                    stats.waiting += 1
            elif status is not None:  # landed with an error (only with skip_preflight)
                uow.attempts.set_outcome(row.signature, "failed", str(status.err))
                outcome = kind.landed_with_error(uow, chain, row, str(status.err))
                stats.completed += outcome == "completed"
                stats.failed += outcome == "failed"
                if outcome == "pending":
                    stats.rebuild_ids.append(key)
            elif id(row) in happened:
                if happened[id(row)]:
                    complete_from_history(uow, row, chain, expected="submitted", kind=kind)
                    stats.completed += 1
                else:
                    uow.attempts.set_outcome(row.signature, "expired")
                    if expired_for_good(row, kind, max_attempts, repo):
                        stats.failed += 1  # not in rebuild_ids: nothing wakes a failed row
                    else:
                        repo.reset_to_pending(
                            key, expected="submitted", reason="blockhash expired unseen"
                        )
                        stats.rebuilt += 1
                        stats.rebuild_ids.append(key)
            else:
                resend[row.signature] = bytes(row.signed_tx)
        repo.mark_checked([getattr(r, kind.key) for r in rows])
        uow.commit()
    for raw in resend.values():  # the same bytes: at most one of them can ever land
        metrics.rebroadcast(kind.name)
        try:
            chain.send(raw)
        except (SendOutcomeUnknown, TransactionRejected):
            pass  # resolved on a later pass either way
        stats.rebroadcast += 1
    if notify and stats.rebuild_ids:
        notify(stats.rebuild_ids)
    if resend:  # only fills sent_at left NULL (a worker died between commit and send)
        with uow_factory() as uow:
            uow.attempts.mark_sent(list(resend))
            uow.commit()
    return stats


def expired_for_good(row, kind: Kind, max_attempts: int, repo) -> bool:
    """The row's latest attempt expired unseen and its effect is absent: fail it if that was
    its last allowed attempt (earlier ones expired before it was signed, so none can land)."""
    if row.attempts < max_attempts:
        return False
    reason = f"all {row.attempts} attempts expired unseen; the {kind.name} is not on chain"
    return repo.mark_failed(getattr(row, kind.key), expected="submitted", reason=reason)


def _level(status) -> int:
    cs = status.confirmation_status
    if cs is None:  # finalized statuses may omit the level and report confirmations null
        return 2
    return _LEVELS[str(cs).rsplit(".", 1)[-1].lower()]


def sweep(
    *,
    uow_factory: Callable,
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
