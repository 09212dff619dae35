"""Reconciliation: every ledger row against the chain's view, read in batches.

Discrepancy classes (``Discrepancy.kind``):

- ``missing_on_chain``: completed in the ledger, but the mint (or transfer) is not on chain;
- ``on_chain_not_completed``: on chain, but ``pending`` or ``failed`` in the ledger;
- ``owner_changed``: the token sits in a wallet the ledger does not name (moved outside it);
- ``stuck``: ``pending`` or ``submitted`` for longer than ``stuck_after``;
- ``chain_differs``: the mint exists but its supply or metadata is not what the ledger recorded.

``fix=True`` repairs only what the chain proves, each with a guarded transition: a landed
intent is completed with the attempt that landed; a mint absent from chain whose every attempt
has expired goes back to ``pending`` and is re-enqueued (the mint key is deterministic, so it
can never be minted twice); a stuck row is resolved as the confirmer would, or re-enqueued; an
outside move is recorded as a completed transfer. ``chain_differs`` is reported, never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from actors.workflows.ports import Chain, UnitOfWorkFactory
from actors.workflows.reconcile.check import (
    check_collections,
    check_mints,
    check_operations,
    check_transfers,
)
from actors.workflows.reconcile.fix import apply_fixes
from actors.workflows.reconcile.model import Discrepancy, Report

DEFAULT_STUCK_AFTER = timedelta(minutes=10)
DEFAULT_PAGE = 1000  # ledger rows read per query; chain reads are chunked below that


def reconcile(
    *,
    uow_factory: UnitOfWorkFactory,
    chain: Chain,
    fix: bool = False,
    notify: Callable[[list[str]], None] | None = None,
    notify_transfers: Callable[[list[str]], None] | None = None,
    notify_collections: Callable[[list[str]], None] | None = None,
    notify_operations: Callable[[list[str]], None] | None = None,
    stuck_after: timedelta = DEFAULT_STUCK_AFTER,
    page: int = DEFAULT_PAGE,
    on_progress: Callable[[int], None] | None = None,
    max_attempts: int | None = None,
) -> Report:
    """Compare every ledger row with the chain; with ``fix``, repair what the chain proves."""
    started = time.perf_counter()
    report = Report()
    progress = on_progress or (lambda n: None)
    with uow_factory() as uow:
        now = uow.mints.db_now()
        for rows in uow.mints.iter_pages(page=page):
            report.discrepancies += check_mints(uow, chain, rows, now, stuck_after)
            report.mints += len(rows)
            progress(len(rows))
        for rows in uow.transfers.iter_pages(page=page):
            report.discrepancies += check_transfers(chain, rows, now, stuck_after)
            report.transfers += len(rows)
            progress(len(rows))
        for rows in uow.collections.iter_pages(page=page):
            report.discrepancies += check_collections(chain, rows, now, stuck_after)
            report.collections += len(rows)
            progress(len(rows))
        for rows in uow.operations.iter_pages(page=page):
            report.discrepancies += check_operations(uow, chain, rows, now, stuck_after)
            report.operations += len(rows)
            progress(len(rows))
    report.discrepancies = _still_standing(uow_factory, report.discrepancies)
    if fix:
        apply_fixes(
            report.discrepancies,
            uow_factory=uow_factory,
            chain=chain,
            notify={
                "nft_mints": notify,
                "nft_transfers": notify_transfers,
                "nft_collections": notify_collections,
                "ticket_operations": notify_operations,
            },
            **({"max_attempts": max_attempts} if max_attempts is not None else {}),
        )
    report.seconds = time.perf_counter() - started
    return report


def _still_standing(
    uow_factory: UnitOfWorkFactory, found: Sequence[Discrepancy]
) -> list[Discrepancy]:
    """Drop rows that moved since they were read: a worker was resolving them."""
    if not found:
        return []
    with uow_factory() as uow:
        now_rows = {}
        tables = (
            ("nft_mints", uow.mints),
            ("nft_transfers", uow.transfers),
            ("nft_collections", uow.collections),
            ("ticket_operations", uow.operations),
        )
        for table, repo in tables:
            keys = [d.key for d in found if d.table == table]
            for row in repo.get_many(keys) if keys else []:
                now_rows[(table, getattr(row, row.KEY))] = (row.status, row.updated_at)
    return [d for d in found if now_rows.get((d.table, d.key)) == (d.status, d.updated_at)]
