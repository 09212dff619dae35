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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from solders.pubkey import Pubkey
from solders.signature import Signature

from actors.transfers import ledger_holder
from minter.errors import ValidationError
from minter.nft import accounts_to_read, check_accounts, parse_mint_request
from minter.nft.decode import decode_token_account
from minter.rpc import ChainClient

DEFAULT_STUCK_AFTER = timedelta(minutes=10)
DEFAULT_PAGE = 1000  # ledger rows read per query; chain reads are chunked below that

MISSING = "missing_on_chain"
LANDED = "on_chain_not_completed"
OWNER_CHANGED = "owner_changed"
STUCK = "stuck"
DIFFERS = "chain_differs"
CLASSES = (MISSING, LANDED, OWNER_CHANGED, STUCK, DIFFERS)


@dataclass
class Discrepancy:
    kind: str
    table: str  # nft_mints or nft_transfers
    key: str  # ticket_id or transfer_id
    status: str  # the ledger's status when read
    detail: str
    fixed: str | None = None  # what --fix did, if anything

    # the row's identity when read: a row that moved since was being worked on, not wrong
    updated_at: datetime | None = field(default=None, repr=False)


@dataclass
class Report:
    mints: int = 0
    transfers: int = 0
    seconds: float = 0.0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def open(self) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.fixed is None]

    @property
    def agrees(self) -> bool:
        return not self.open

    def as_json(self) -> dict:
        rows = self.mints + self.transfers
        return {
            "agrees": self.agrees,
            "mints_checked": self.mints,
            "transfers_checked": self.transfers,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(rows / self.seconds, 1) if self.seconds else None,
            "counts": {c: sum(d.kind == c for d in self.discrepancies) for c in CLASSES},
            "fixed": sum(d.fixed is not None for d in self.discrepancies),
            "discrepancies": [
                {k: v for k, v in asdict(d).items() if k != "updated_at"}
                for d in self.discrepancies
            ],
        }


def _found(kind, table, row, key, detail) -> Discrepancy:
    return Discrepancy(kind, table, key, row.status, detail, updated_at=row.updated_at)


def _check_mints(uow, chain: ChainClient, rows, now: datetime, stuck_after) -> list[Discrepancy]:
    moves = uow.transfers.for_tickets([r.ticket_id for r in rows])
    found: list[Discrepancy] = []
    plans = []
    for row in rows:
        try:
            req = parse_mint_request(row.payload, default_standard=row.standard)
        except ValidationError as exc:
            detail = f"payload unreadable: {exc}"
            found.append(_found(DIFFERS, "nft_mints", row, row.ticket_id, detail))
            continue
        holder = Pubkey.from_string(ledger_holder(row, moves[row.ticket_id]))
        keys = accounts_to_read(req, Pubkey.from_string(row.mint_address), holder)
        plans.append((row, req, holder, keys))
    fetched = iter(chain.accounts([k for *_, keys in plans for k in keys]))
    moved: list[tuple] = []
    for row, req, holder, keys in plans:
        t = row.ticket_id
        view = check_accounts(
            req, Pubkey.from_string(row.mint_address), [next(fetched) for _ in keys], holder
        )
        age = now - row.updated_at
        if row.status == "completed":
            if not view.exists:
                found.append(_found(MISSING, "nft_mints", row, t, "mint account does not exist"))
            elif view.supply != 1 or not view.metadata_ok:
                found.append(_found(DIFFERS, "nft_mints", row, t, "; ".join(view.reasons)))
            elif not view.held:
                in_flight = [m for m in moves[t] if m.status in ("pending", "submitted")]
                moved.append((row, req, holder, in_flight))
        elif row.status in ("pending", "failed") and view.exists:
            detail = "; ".join(["mint exists on chain", *view.reasons])
            found.append(_found(LANDED, "nft_mints", row, t, detail))
        elif row.status in ("pending", "submitted") and age > stuck_after:
            found.append(_found(STUCK, "nft_mints", row, t, f"{row.status} for {_age(age)}"))
    found += _outside_moves(chain, moved)
    return found


def _outside_moves(chain: ChainClient, moved) -> list[Discrepancy]:
    """Where did tokens the ledger's holder lacks go? Only these few rows cost extra reads."""
    out = []
    for row, _req, holder, in_flight in moved:
        actual = token_holder(chain, Pubkey.from_string(row.mint_address))
        if actual is not None and any(m.to_address == str(actual) for m in in_flight):
            continue  # a claim of ours has landed; the confirmer completes it
        where = f"held by {actual}" if actual else "held by no one"
        out.append(
            _found(OWNER_CHANGED, "nft_mints", row, row.ticket_id, f"{where}; ledger says {holder}")
        )
    return out


def token_holder(chain: ChainClient, mint: Pubkey) -> Pubkey | None:
    """The wallet whose token account holds the mint's one token, if any."""
    holding = [acc for acc, amount in chain.largest_token_accounts(mint) if amount > 0]
    if not holding:
        return None
    (account,) = chain.accounts(holding[:1])
    return None if account is None else decode_token_account(bytes(account.data)).owner


def _check_transfers(chain: ChainClient, rows, now: datetime, stuck_after) -> list[Discrepancy]:
    signed = [r for r in rows if r.signature]
    statuses = dict(
        zip(
            [r.transfer_id for r in signed],
            chain.statuses([Signature.from_string(r.signature) for r in signed]),
            strict=True,
        )
    )
    found = []
    for row in rows:
        key, status = row.transfer_id, statuses.get(row.transfer_id)
        landed = status is not None and status.err is None
        age = now - row.updated_at
        if row.status == "completed" and row.signature and not landed:
            why = "signature unknown to the cluster" if status is None else f"failed: {status.err}"
            found.append(_found(MISSING, "nft_transfers", row, key, why))
        elif row.status in ("pending", "failed") and landed:
            detail = f"signature {row.signature} landed"
            found.append(_found(LANDED, "nft_transfers", row, key, detail))
        elif row.status in ("pending", "submitted") and age > stuck_after:
            found.append(_found(STUCK, "nft_transfers", row, key, f"{row.status} for {_age(age)}"))
    return found


def _age(age: timedelta) -> str:
    return f"{int(age.total_seconds())} s"


def reconcile(
    *,
    uow_factory: Callable,
    chain: ChainClient,
    fix: bool = False,
    notify: Callable[[list[str]], None] | None = None,
    notify_transfers: Callable[[list[str]], None] | None = None,
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
            report.discrepancies += _check_mints(uow, chain, rows, now, stuck_after)
            report.mints += len(rows)
            progress(len(rows))
        for rows in uow.transfers.iter_pages(page=page):
            report.discrepancies += _check_transfers(chain, rows, now, stuck_after)
            report.transfers += len(rows)
            progress(len(rows))
    report.discrepancies = _still_standing(uow_factory, report.discrepancies)
    if fix:
        from actors.reconcile_fix import apply_fixes

        apply_fixes(
            report.discrepancies,
            uow_factory=uow_factory,
            chain=chain,
            notify={"nft_mints": notify, "nft_transfers": notify_transfers},
            **({"max_attempts": max_attempts} if max_attempts is not None else {}),
        )
    report.seconds = time.perf_counter() - started
    return report


def _still_standing(uow_factory: Callable, found: Sequence[Discrepancy]) -> list[Discrepancy]:
    """Drop rows that moved since they were read: a worker was resolving them."""
    if not found:
        return []
    with uow_factory() as uow:
        now_rows = {}
        for table, repo in (("nft_mints", uow.mints), ("nft_transfers", uow.transfers)):
            keys = [d.key for d in found if d.table == table]
            for row in repo.get_many(keys) if keys else []:
                now_rows[(table, getattr(row, row.KEY))] = (row.status, row.updated_at)
    return [d for d in found if now_rows.get((d.table, d.key)) == (d.status, d.updated_at)]
