"""The ledger rows as the routes answer them."""

from typing import Any

from pydantic import BaseModel

from actors.workflows.views import mint_view


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
    return MintRow(**mint_view(row)).model_dump()
