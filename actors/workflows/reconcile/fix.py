"""``minter reconcile --fix``: repair what the chain proves, with guarded transitions only.

Each repair re-reads the row and the chain first; a row that moved meanwhile is left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from solders.signature import Signature

from actors.workflows.collections import COLLECTIONS
from actors.workflows.holders import current_holder
from actors.workflows.lifecycle import (
    DEFAULT_MAX_ATTEMPTS,
    Kind,
    complete_from_history,
    expired_for_good,
)
from actors.workflows.mints import MINTS
from actors.workflows.ports import Chain, MintRow, UnitOfWork, UnitOfWorkFactory
from actors.workflows.reconcile.check import ticket_holder
from actors.workflows.reconcile.model import LANDED, MISSING, OWNER_CHANGED, STUCK, Discrepancy
from actors.workflows.ticket_ops import OPERATIONS
from actors.workflows.transfers import TRANSFERS
from ledger.models import Outcome, Status

KINDS: dict[str, Kind] = {
    "nft_mints": MINTS,
    "nft_transfers": TRANSFERS,
    "nft_collections": COLLECTIONS,
    "ticket_operations": OPERATIONS,
}


def apply_fixes(
    found: Sequence[Discrepancy],
    *,
    uow_factory: UnitOfWorkFactory,
    chain: Chain,
    notify: Mapping[str, Callable[[list[str]], None] | None],
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> None:
    """Set ``fixed`` on each discrepancy the chain proved and this repaired; wake what it sent
    back to the workers."""
    wake: dict[str, list[str]] = {table: [] for table in KINDS}
    for d in _in_repair_order(found):
        fixed = _repair(d, uow_factory=uow_factory, chain=chain, max_attempts=max_attempts)
        if fixed is None:
            continue
        d.fixed = fixed
        if fixed.endswith("re-enqueued"):
            wake[d.table].append(d.key)
    for table, keys in wake.items():
        if keys and notify.get(table):
            notify[table](keys)


def _in_repair_order(found: Sequence[Discrepancy]) -> list[Discrepancy]:
    """``owner_changed`` last, the rest in the order found (a stable sort).

    A ticket's holder follows from its transfers, so transfers are repaired before any
    ``owner_changed`` is judged: a claim completed here (or sent back to pending) may be the
    very move the chain shows, and must not be recorded a second time as an outside move.
    """
    return sorted(found, key=lambda d: d.kind == OWNER_CHANGED)


def _repair(
    d: Discrepancy, *, uow_factory: UnitOfWorkFactory, chain: Chain, max_attempts: int
) -> str | None:
    """One discrepancy in its own unit of work, committed only when it repaired something."""
    kind = KINDS[d.table]
    with uow_factory() as uow:
        row = kind.repo(uow).get(d.key)
        if row is None or row.status != d.status:
            return None  # it moved since it was read: a worker is resolving it
        if d.kind == LANDED:
            fixed = _complete_landed(uow, chain, kind, row)
        elif d.kind == MISSING:
            fixed = _requeue_missing(uow, chain, kind, row)
        elif d.kind == STUCK:
            fixed = _unstick(uow, chain, kind, row, max_attempts)
        elif d.kind == OWNER_CHANGED:
            fixed = _record_outside_move(uow, chain, row)
        else:  # chain_differs: reported, never touched
            fixed = None
        if fixed is not None:
            uow.commit()
        return fixed


def _complete_landed(uow: UnitOfWork, chain: Chain, kind: Kind, row) -> str:
    complete_from_history(uow, row, chain, expected=row.status, kind=kind)
    return "completed with the attempt that landed"


def _requeue_missing(uow: UnitOfWork, chain: Chain, kind: Kind, row) -> str | None:
    """Completed, yet absent: back to pending only once no attempt can ever land."""
    if not _never_lands(uow, chain, kind, row):
        return None
    kind.repo(uow).reset_to_pending(
        kind.key_of(row), expected=Status.COMPLETED, reason="reconcile: not on chain; re-enqueued"
    )
    return "set back to pending and re-enqueued"


def _never_lands(uow: UnitOfWork, chain: Chain, kind: Kind, row) -> bool:
    """No recorded attempt landed and none can: every blockhash has expired, effect absent."""
    attempts = uow.attempts.list_for(kind.name, kind.key_of(row))
    sigs = {a.signature: a.last_valid_block_height for a in attempts}
    if row.signature:
        sigs.setdefault(row.signature, row.last_valid_block_height or 0)
    if sigs:
        statuses = chain.statuses([Signature.from_string(s) for s in sigs])
        if any(s is not None and s.err is None for s in statuses):
            return False
        if chain.block_height() <= max(sigs.values()):
            return False  # one may still land
    return not kind.happened(uow, chain, [row])[0]


def _unstick(uow: UnitOfWork, chain: Chain, kind: Kind, row, max_attempts: int) -> str | None:
    """Resolve a stuck row as the confirmer would; a stuck pending row only lost its wake-up."""
    repo, key = kind.repo(uow), kind.key_of(row)
    if row.status == Status.PENDING:
        repo.reset_to_pending(key, expected=Status.PENDING, reason="reconcile: stuck; re-enqueued")
        return "re-enqueued"
    (status,) = chain.statuses([Signature.from_string(row.signature)])
    if status is not None and status.err is None:
        complete_from_history(uow, row, chain, expected=Status.SUBMITTED, kind=kind)
        return "completed: its signature landed"
    if status is None and chain.block_height() > row.last_valid_block_height:
        if kind.happened(uow, chain, [row])[0]:
            complete_from_history(uow, row, chain, expected=Status.SUBMITTED, kind=kind)
            return "completed: it happened on chain"
        uow.attempts.set_outcome(row.signature, Outcome.EXPIRED)
        if expired_for_good(row, kind, max_attempts, repo):  # the workers' MINT_MAX_ATTEMPTS
            return f"failed: all {row.attempts} attempts expired unseen"  # not re-enqueued
        repo.reset_to_pending(key, expected=Status.SUBMITTED, reason="reconcile: expired unseen")
        return "blockhash expired unseen: re-enqueued"
    return None  # still valid or landed with an error: the confirmer's call


def observed_transfer_id(mint_address: str, n: int) -> str:
    """The id of the n-th move of a ticket seen on chain: named by its mint address (at most 44
    characters), not by the ticket id, so it fits ``transfer_id``'s 128 whatever the ticket's."""
    return f"observed:{mint_address}:{n}"


def _record_outside_move(uow: UnitOfWork, chain: Chain, row: MintRow) -> str | None:
    actual = ticket_holder(chain, row)
    if actual is None:
        return None
    _, holder = current_holder(uow, row.ticket_id)
    if holder == str(actual):  # a transfer repaired above already explains where it is
        return f"the ledger's holder is now {actual}, as on chain"
    n = len(uow.transfers.for_ticket(row.ticket_id))
    recorded = uow.transfers.record_observed(
        {
            "transfer_id": observed_transfer_id(row.mint_address, n + 1),
            "ticket_id": row.ticket_id,
            "token_address": row.mint_address,
            "from_address": holder,
            "to_address": str(actual),
            "payload": {"observed_by": "reconcile", "to": str(actual)},
        }
    )
    return f"recorded the move to {actual}" if recorded else None
