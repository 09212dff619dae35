"""A ticket's ledger row beside what the chain says about it, and who holds it on chain (a Core
asset's owner is in the account read for the check; a token's holder costs a read only when the
ledger's holder lacks it)."""

from __future__ import annotations

import dataclasses

from solders.pubkey import Pubkey

from actors.workflows.holders import ticket_history
from actors.workflows.ports import Chain, UnitOfWorkFactory
from actors.workflows.reconcile.check import core_expectations, token_holder
from ledger.models import Status
from minter.nft import accounts_to_read, check_accounts, parse_mint_request
from minter.nft.verify import asset_owner


def ticket_status(ticket_id: str, *, uow_factory: UnitOfWorkFactory, chain: Chain) -> dict | None:
    """The row's fields, the chain's view, and whether the two agree; None if no such ticket."""
    with uow_factory() as uow:
        row = uow.mints.get(ticket_id)
        if row is None:
            return None
        attempts = uow.attempts.list_for("mint", ticket_id)
        req = parse_mint_request(row.payload, default_standard=row.standard)
        core = req.standard == "core"
        expected = core_expectations(uow, [req.event_id]).get(req.event_id, {}) if core else {}
    history = ticket_history(ticket_id, uow_factory=uow_factory)
    if history.holder and history.holder != row.owner_address:  # moved since: check the holder
        req = dataclasses.replace(req, owner=Pubkey.from_string(history.holder))
    mint = Pubkey.from_string(row.mint_address)
    # through ChainClient, so the read has the service's retry and metrics policy
    accounts = chain.accounts(accounts_to_read(req, mint))
    verification = check_accounts(req, mint, accounts, **expected)
    if core:
        on_chain_holder = asset_owner(accounts[0])
    elif verification.held or not verification.exists:  # no mint: no holder to ask about
        on_chain_holder = req.owner if verification.held else None
    else:
        on_chain_holder = token_holder(chain, mint)
    on_chain = verification.ok
    if row.status == Status.COMPLETED:
        agrees = on_chain
    else:
        agrees = not on_chain
    return {
        "ticket_id": row.ticket_id,
        "status": row.status,
        "standard": row.standard,
        "owner": row.owner_address,
        "mint_address": row.mint_address,
        "signature": row.signature,
        "attempts": len(attempts),
        "last_error": row.last_error,
        "chain": "minted as asked" if on_chain else "; ".join(verification.reasons),
        "holder": history.holder,
        "holder_on_chain": str(on_chain_holder) if on_chain_holder else None,
        "history": [
            " ".join(f"{k}={v}" for k, v in step.items() if v is not None) for step in history.steps
        ],
        "agrees": agrees,
    }
