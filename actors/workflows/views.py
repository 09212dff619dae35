"""Ledger rows as the routes show them: also the ``data`` of their webhook events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from actors.workflows.ports import MintRow, TransferRow


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def mint_view(row: MintRow) -> dict[str, Any]:
    """``GET /v1/mints/{ticket_id}``."""
    return {
        "ticket_id": row.ticket_id,
        "mint_address": row.mint_address,
        "status": row.status,
        "owner": row.owner_address,
        "standard": row.standard,
        "signature": row.signature,
        "last_error": row.last_error,
        "created_at": _iso(row.created_at),
        "completed_at": _iso(row.completed_at),
        "event_id": row.event_id,
        "venue_id": row.venue_id,
        "state": row.state,  # the lifecycle: minted, checked_in, invalidated, reissued
        "version": row.version,
    }


def transfer_view(row: TransferRow) -> dict[str, Any]:
    """``GET /v1/transfers/{transfer_id}``."""
    return {
        "transfer_id": row.transfer_id,
        "ticket_id": row.ticket_id,
        "token_address": row.token_address,
        "from": row.from_address,
        "to": row.to_address,
        "status": row.status,
        "signature": row.signature,
        "last_error": row.last_error,
    }


def plain(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 strings, ready for JSON (as the routes encode it)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
