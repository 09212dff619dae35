"""Classification: ledger rows read in pages beside the chain's view; each discrepancy found is
one of the classes of :mod:`actors.workflows.reconcile.model`.

A Core ticket is one asset account, read in the page's one getMultipleAccounts: its owner is
the holder, so an outside move costs no extra read; its collection and, for an event whose
policy mints it frozen, its freeze flag are checked against the event's ledger row.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from solders.pubkey import Pubkey
from solders.signature import Signature

from actors.workflows.ports import Chain, MintRow, UnitOfWork
from actors.workflows.reconcile.model import (
    DIFFERS,
    LANDED,
    MISSING,
    OWNER_CHANGED,
    STUCK,
    Discrepancy,
)
from actors.workflows.ticket_ops import OPERATIONS
from actors.workflows.tickets import holder_from, on_chain
from ledger.models import Status
from minter.errors import ValidationError
from minter.nft import accounts_to_read, check_accounts, parse_mint_request
from minter.nft.decode import decode_mint, decode_token_account
from minter.nft.event import FROZEN_AT_MINT
from minter.nft.operation import CHECKED_IN
from minter.nft.verify import asset_owner, core_asset

_IN_FLIGHT = (Status.PENDING, Status.SUBMITTED)  # a worker or the confirmer still owns these
_NOT_DONE = (Status.PENDING, Status.FAILED)  # the ledger says it did not (yet) happen


def _found(kind, table, row, key, detail) -> Discrepancy:
    return Discrepancy(kind, table, key, row.status, detail, updated_at=row.updated_at)


def core_expectations(uow: UnitOfWork, event_ids) -> dict[str, dict]:
    """Per registered event: the ``collection`` its Core tickets are in and, when its policy
    mints them frozen, ``frozen=True`` (a transferable ticket freezes at check-in: unchecked)."""
    wanted = sorted({e for e in event_ids if e})
    rows = uow.collections.get_many(wanted) if wanted else []
    return {
        c.event_id: {
            "collection": Pubkey.from_string(c.collection_address),
            "frozen": True if c.transfer_policy in FROZEN_AT_MINT else None,
        }
        for c in rows
    }


def check_mints(
    uow: UnitOfWork, chain: Chain, rows, now: datetime, stuck_after: timedelta
) -> list[Discrepancy]:
    ids = [r.ticket_id for r in rows]
    moves = uow.transfers.for_tickets(ids)
    operations = uow.operations.for_tickets(ids)
    found: list[Discrepancy] = []
    plans = []
    for row in rows:
        try:
            req = parse_mint_request(row.payload, default_standard=row.standard)
        except ValidationError as exc:
            detail = f"payload unreadable: {exc}"
            found.append(_found(DIFFERS, "nft_mints", row, row.ticket_id, detail))
            continue
        ops, seen = operations[row.ticket_id], on_chain(row, operations[row.ticket_id])
        if any(op.status in _IN_FLIGHT for op in ops):
            continue  # its chain write may be landing now: the confirmer resolves it first
        holder = Pubkey.from_string(holder_from(row, ops, moves[row.ticket_id], landed_only=True))
        if seen.checked_in:  # a landed check-in added its attribute, the others kept
            req = replace(req, attributes=(*req.attributes, (CHECKED_IN, seen.checked_in)))
        keys = accounts_to_read(req, Pubkey.from_string(seen.address), holder)
        plans.append((row, req, holder, keys, seen))
    events = core_expectations(uow, [p[1].event_id for p in plans if _is_core(p[1])])
    fetched = iter(chain.accounts([k for *_, keys, _ in plans for k in keys]))
    moved: list[tuple] = []
    for row, req, holder, keys, seen in plans:
        t = row.ticket_id
        accounts = [next(fetched) for _ in keys]
        if seen.burned:  # invalidated, and the burn landed: the asset must be gone
            if _still_live(req, accounts[0]):
                detail = f"invalidated, but the asset {seen.address} is still live"
                found.append(_found(DIFFERS, "nft_mints", row, t, detail))
            continue
        expected = dict(events.get(req.event_id, {})) if _is_core(req) else {}
        if seen.frozen:
            expected["frozen"] = True
        view = check_accounts(req, Pubkey.from_string(seen.address), accounts, holder, **expected)
        age = now - row.updated_at
        if row.status == Status.COMPLETED and seen.address != row.mint_address and not view.exists:
            detail = f"version {row.version} ({seen.address}) is not on chain"
            found.append(_found(DIFFERS, "nft_mints", row, t, detail))
        elif row.status == Status.COMPLETED:
            if not view.exists:
                found.append(_found(MISSING, "nft_mints", row, t, view.reasons[0]))
            elif view.supply != 1 or not view.metadata_ok:
                found.append(_found(DIFFERS, "nft_mints", row, t, "; ".join(view.reasons)))
            elif not view.held:
                in_flight = [m for m in moves[t] if m.status in _IN_FLIGHT]
                # a Core asset already read names its owner: no second read for it
                actual = asset_owner(accounts[0]) if _is_core(req) else _UNREAD
                moved.append((row, holder, in_flight, actual))
        elif row.status in _NOT_DONE and view.exists:
            detail = "; ".join(["mint exists on chain", *view.reasons])
            found.append(_found(LANDED, "nft_mints", row, t, detail))
        elif row.status in _IN_FLIGHT and age > stuck_after:
            found.append(_found(STUCK, "nft_mints", row, t, f"{row.status} for {_age(age)}"))
    found += _outside_moves(chain, moved)
    return found


def _outside_moves(chain: Chain, moved) -> list[Discrepancy]:
    """Where did tokens the ledger's holder lacks go? Only these few token rows cost extra
    reads."""
    out = []
    for row, holder, in_flight, actual in moved:
        if actual is _UNREAD:
            actual = token_holder(chain, Pubkey.from_string(row.mint_address))
        if actual is not None and any(m.to_address == str(actual) for m in in_flight):
            continue  # a claim of ours has landed; the confirmer completes it
        where = f"held by {actual}" if actual else "held by no one"
        out.append(
            _found(OWNER_CHANGED, "nft_mints", row, row.ticket_id, f"{where}; ledger says {holder}")
        )
    return out


def _still_live(req, account) -> bool:
    """An invalidated ticket's current version still on chain: a Core asset, or a token with
    supply (the permanent delegate's burn leaves the mint, at supply 0)."""
    if _is_core(req):
        return core_asset(account) is not None
    return account is not None and decode_mint(bytes(account.data)).supply > 0


def _is_core(req) -> bool:
    return req.standard == "core"


_UNREAD = object()  # a token ticket's holder, not read yet


def ticket_holder(chain: Chain, row: MintRow) -> Pubkey | None:
    """Who holds the ticket on chain: a Core asset's owner, or the token's holder."""
    mint = Pubkey.from_string(row.mint_address)
    if row.standard == "core":
        (account,) = chain.accounts([mint])
        return asset_owner(account)
    return token_holder(chain, mint)


def token_holder(chain: Chain, mint: Pubkey) -> Pubkey | None:
    """The wallet whose token account holds the mint's one token, if any."""
    holding = [acc for acc, amount in chain.largest_token_accounts(mint) if amount > 0]
    if not holding:
        return None
    (account,) = chain.accounts(holding[:1])
    return None if account is None else decode_token_account(bytes(account.data)).owner


def check_transfers(chain: Chain, rows, now: datetime, stuck_after: timedelta) -> list[Discrepancy]:
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
        if row.status == Status.COMPLETED and row.signature and not landed:
            why = "signature unknown to the cluster" if status is None else f"failed: {status.err}"
            found.append(_found(MISSING, "nft_transfers", row, key, why))
        elif row.status in _NOT_DONE and landed:
            detail = f"signature {row.signature} landed"
            found.append(_found(LANDED, "nft_transfers", row, key, detail))
        elif row.status in _IN_FLIGHT and age > stuck_after:
            found.append(_found(STUCK, "nft_transfers", row, key, f"{row.status} for {_age(age)}"))
    return found


def check_collections(chain: Chain, rows, now: datetime, stuck_after: timedelta) -> list:
    """An event's collection: created exactly when the ledger says so."""
    accounts = chain.accounts([Pubkey.from_string(r.collection_address) for r in rows])
    found = []
    for row, account in zip(rows, accounts, strict=True):
        key, age = row.event_id, now - row.updated_at
        if row.status == Status.COMPLETED and account is None:
            why = f"collection {row.collection_address} is not on chain"
            found.append(_found(MISSING, "nft_collections", row, key, why))
        elif row.status in _NOT_DONE and account is not None:
            why = f"collection {row.collection_address} exists on chain"
            found.append(_found(LANDED, "nft_collections", row, key, why))
        elif row.status in _IN_FLIGHT and age > stuck_after:
            found.append(
                _found(STUCK, "nft_collections", row, key, f"{row.status} for {_age(age)}")
            )
    return found


def check_operations(uow: UnitOfWork, chain: Chain, rows, now: datetime, stuck_after) -> list:
    """Lifecycle operations: one that failed left the ticket's ledger state apart from the
    chain (reported for an operator); one the asset shows but the ledger does not record as
    done landed; one in flight too long is stuck. (A completed operation a later one undid,
    a check-in then burned, is not missing: the ticket's checks read its current version.)"""
    shown = OPERATIONS.happened(uow, chain, rows) if rows else []
    found = []
    for row, happened in zip(rows, shown, strict=True):
        key, age = row.operation_id, now - row.updated_at
        if row.status in _NOT_DONE and happened:
            why = f"the {row.kind} of ticket {row.ticket_id} shows on chain"
            found.append(_found(LANDED, "ticket_operations", row, key, why))
        elif row.status == Status.FAILED:
            why = f"the {row.kind} of ticket {row.ticket_id} failed: {row.last_error}"
            found.append(_found(DIFFERS, "ticket_operations", row, key, why))
        elif row.status in _IN_FLIGHT and age > stuck_after:
            found.append(
                _found(STUCK, "ticket_operations", row, key, f"{row.status} for {_age(age)}")
            )
    return found


def _age(age: timedelta) -> str:
    return f"{int(age.total_seconds())} s"
