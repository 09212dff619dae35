"""``POST /v1/mints/{ticket_id}/retry`` and ``…/cancel``: role ``admin`` only (DESIGN.md,
Interfaces). 404 for an unknown ticket, 409 naming ``status`` for a row in another state."""
# no `from __future__ import annotations`: FastAPI reads the local Admin alias at runtime

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException

from actors.entrypoints.http.roles import ADMIN, FORBIDDEN_RESPONSE, Caller, describe, require
from actors.entrypoints.http.rows import MintRow, mint_json
from actors.workflows.admin import cancel_mint, retry_mint
from minter.nft.request import is_identifier

RESPONSES = {404: {}, 409: {}, 401: {}, **FORBIDDEN_RESPONSE}


def add_admin_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Admin = Annotated[Caller, Depends(require(authorized, ADMIN))]

    @app.post(
        "/v1/mints/{ticket_id}/retry",
        response_model=MintRow,
        responses=RESPONSES,
        summary="Retry a failed mint",
        description="A `failed` row back to `pending` (attempts kept) and the workers woken. "
        + describe(ADMIN),
    )
    def retry(ticket_id: str, caller: Admin):
        row = None
        if is_identifier(ticket_id):  # never accepted, so never stored
            row = retry_mint(
                ticket_id,
                uow_factory=services.uow_factory,
                notify=services.notify,
                by=caller.subject,
            )
        if row is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return mint_json(row)

    @app.post(
        "/v1/mints/{ticket_id}/cancel",
        response_model=MintRow,
        responses=RESPONSES,
        summary="Cancel a pending mint",
        description="A `pending` row to `failed` with `last_error` `cancelled`; a submitted row "
        "is refused (its transaction may still land). " + describe(ADMIN),
    )
    def cancel(ticket_id: str, caller: Admin):
        row = None
        if is_identifier(ticket_id):
            row = cancel_mint(ticket_id, uow_factory=services.uow_factory, by=caller.subject)
        if row is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return mint_json(row)
