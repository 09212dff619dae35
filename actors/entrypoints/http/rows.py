"""The ledger rows as the routes answer them."""

from typing import Any

from pydantic import BaseModel


class MintRow(BaseModel):
    ticket_id: str
    mint_address: str
    status: str
    owner: str | None = None
    standard: str | None = None
    signature: str | None = None
    last_error: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    event_id: str | None = None
    venue_id: str | None = None
    state: str | None = None  # the lifecycle: minted, checked_in, invalidated, reissued
    version: int | None = None


def mint_json(row) -> dict[str, Any]:
    return MintRow(
        ticket_id=row.ticket_id,
        mint_address=row.mint_address,
        status=row.status,
        owner=row.owner_address,
        standard=row.standard,
        signature=row.signature,
        last_error=row.last_error,
        created_at=row.created_at.isoformat() if row.created_at else None,
        completed_at=row.completed_at.isoformat() if row.completed_at else None,
        event_id=row.event_id,
        venue_id=row.venue_id,
        state=row.state,
        version=row.version,
    ).model_dump()
