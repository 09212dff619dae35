"""The confirmer's pass (DESIGN.md, steps 6-8): resolve many ``submitted`` rows with one
getSignatureStatuses call; rebroadcast the same bytes while the blockhash is valid; after it
expired, complete if it happened on chain, otherwise put the row back to ``pending`` for a
rebuild, or fail it once ``max_attempts`` signed transactions have all expired unseen.

A pass claims only what it compares with the chain (:class:`ledger.models.Watched`); the whole
row is read for the few that need more (landed with an error, expired), and the signed bytes
for the few sent again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from solders.signature import Signature
from solders.transaction_status import TransactionStatus

from actors.infra import metrics
from actors.workflows.lifecycle import (
    DEFAULT_MAX_ATTEMPTS,
    Kind,
    complete_from_history,
    expired_for_good,
)
from actors.workflows.ports import Chain, IntentRow, UnitOfWork, UnitOfWorkFactory
from ledger.models import Outcome, Status, Watched
from minter.rpc import SendOutcomeUnknown, TransactionRejected

DEFAULT_CONFIRM_BATCH = 256  # getSignatureStatuses takes at most 256 signatures


# an unseen transaction is sent again once it is this old (a node's own rebroadcast period):
# younger, its worker may still be about to send it, and a second copy only costs the cluster
DEFAULT_REBROADCAST_AFTER = timedelta(seconds=2)


_LEVELS = {"processed": 0, "confirmed": 1, "finalized": 2}


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
    """One claimed row beside the chain: its status; for a row that needs more than its
    claim, the whole row; for an expired unseen one, whether its effect is on chain anyway
    (None while its blockhash is still valid)."""

    watched: Watched
    status: TransactionStatus | None
    row: IntentRow | None = None
    happened: bool | None = None


def confirmable(uow_factory: UnitOfWorkFactory, kinds: Sequence[Kind]) -> list[Kind]:
    """The ``kinds`` that have ``submitted`` rows, looked up in one transaction (a pass over
    four kinds paid a transaction for each, though most of them were idle)."""
    with uow_factory() as uow:
        return [kind for kind in kinds if kind.repo(uow).has_status(Status.SUBMITTED)]


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
        repo = kind.repo(uow)
        watched = repo.claim_submitted(limit=limit)
        if not watched:
            return stats
        landed: list[_Seen] = []
        unseen: list[str] = []
        for seen in _classify(uow, chain, kind, watched):
            if seen.status is not None and seen.status.err is None:
                landed.append(seen)
            elif seen.status is not None:  # landed with an error (only with skip_preflight)
                _resolve_landed_with_error(uow, chain, kind, seen, stats)
            elif seen.happened is not None:
                _resolve_expired(uow, chain, kind, seen, stats, max_attempts=max_attempts)
            elif seen.watched.age >= rebroadcast_after:  # unseen, blockhash still valid
                # (younger, its worker may not have sent it yet: a batch sends after its commit)
                unseen.append(seen.watched.key)
        _resolve_landed(uow, kind, landed, stats, need=_LEVELS[commitment])
        resend = repo.signed_txs(unseen)
        if len(watched) >= limit:
            # the claim's order matters only when the submitted rows outnumber a pass: fewer,
            # and every one of them is in some pass now (the others' rows are locked by theirs)
            repo.mark_checked([w.key for w in watched])
        uow.commit()
    _rebroadcast(chain, kind, resend, stats)
    if notify and stats.rebuild_ids:
        notify(stats.rebuild_ids)
    _record_resent(uow_factory, resend)
    return stats


def _classify(uow: UnitOfWork, chain: Chain, kind: Kind, watched: list[Watched]) -> list[_Seen]:
    """One statuses call for all; the block height only if some are unseen, the whole row
    only of those landed with an error or expired, and the chain's effect only for those
    whose blockhash has expired."""
    statuses = chain.statuses([Signature.from_string(w.signature) for w in watched])
    pairs = list(zip(watched, statuses, strict=True))
    unseen = [w for w, s in pairs if s is None]
    height = chain.block_height() if unseen else 0
    expired = {w.key for w in unseen if height > w.last_valid_block_height}
    errors = [w.key for w, s in pairs if s is not None and s.err is not None]
    wanted = [*expired, *errors]
    rows = {kind.key_of(r): r for r in kind.repo(uow).get_many(wanted)} if wanted else {}
    expired_rows = [rows[key] for key in expired if key in rows]
    happened = dict(
        zip(
            [kind.key_of(r) for r in expired_rows],
            kind.happened(uow, chain, expired_rows) if expired_rows else [],
            strict=True,
        )
    )
    return [_Seen(w, s, rows.get(w.key), happened.get(w.key)) for w, s in pairs]


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
            ready[seen.watched.key] = seen
    moved = kind.repo(uow).mark_completed_many(
        {key: seen.status.slot for key, seen in ready.items()}, expected=Status.SUBMITTED
    )
    uow.attempts.set_outcomes([ready[key].watched.signature for key in moved], Outcome.LANDED)
    stats.completed += len(moved)
    stats.completed_ids.extend(moved)


def _resolve_landed_with_error(
    uow: UnitOfWork, chain: Chain, kind: Kind, seen: _Seen, stats: ConfirmStats
) -> None:
    """Landed with an error: the kind decides (e.g. a mint that exists was an earlier landing)."""
    err, key = str(seen.status.err), seen.watched.key
    uow.attempts.set_outcome(seen.watched.signature, Outcome.FAILED, err)
    outcome = kind.landed_with_error(uow, chain, seen.row, err)
    stats.completed += outcome == Status.COMPLETED
    if outcome == Status.COMPLETED:
        stats.completed_ids.append(key)
    stats.failed += outcome == Status.FAILED
    if outcome == Status.PENDING:
        stats.rebuild_ids.append(key)


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
    row, key = seen.row, seen.watched.key
    if seen.happened:
        complete_from_history(uow, row, chain, expected=Status.SUBMITTED, kind=kind)
        stats.completed += 1
        stats.completed_ids.append(key)
        return
    uow.attempts.set_outcome(seen.watched.signature, Outcome.EXPIRED)
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


def _level(status) -> int:
    cs = status.confirmation_status
    if cs is None:  # finalized statuses may omit the level and report confirmations null
        return 2
    return _LEVELS[str(cs).rsplit(".", 1)[-1].lower()]
