"""The ticket lifecycle over HTTP (DESIGN.md, Ticket lifecycle and Interfaces).

The scan decision is the ledger's, answered at once (200 admitted, 409 naming the first scan);
invalidate and reissue answer 202 with the operation, 200 for a repeat. A venue-scoped caller
sees only its venue's tickets: any other is a 404, as an absent one.
"""
# no `from __future__ import annotations`: FastAPI reads the local aliases at runtime

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from actors.entrypoints.http.roles import (
    FORBIDDEN_RESPONSE,
    READERS,
    SCANNER,
    VENUE_ADMIN,
    Caller,
    describe,
    require,
)
from actors.infra.config import reveal
from actors.workflows.tickets import (
    AlreadyCheckedIn,
    Operated,
    TicketNotFound,
    operate,
    ticket_view,
)
from minter.nft.operation import (
    CHECK_IN,
    INVALIDATE,
    REISSUE,
    CheckInBody,
    InvalidateBody,
    ReissueBody,
)
from minter.nft.request import is_identifier

RESPONSES = {404: {}, 409: {}, 422: {}, 401: {}, **FORBIDDEN_RESPONSE}


def _answer(done: Operated, *, created_status: int) -> JSONResponse:
    op, ticket = done.operation, done.ticket
    body = {
        "operation_id": op.operation_id,
        "ticket_id": op.ticket_id,
        "kind": op.kind,
        "version": op.version,
        "status": op.status,
        "state": ticket.state,
    }
    if op.kind == CHECK_IN:
        body |= {
            "checked_in_at": op.payload["checked_in_at"],
            "gate": op.payload["request"]["gate"],
        }
    return JSONResponse(jsonable_encoder(body), status_code=created_status if done.created else 200)


def add_ticket_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Door = Annotated[Caller, Depends(require(authorized, SCANNER, VENUE_ADMIN))]
    Venue = Annotated[Caller, Depends(require(authorized, VENUE_ADMIN))]
    Reader = Annotated[Caller, Depends(require(authorized, *READERS))]

    def run(kind: str, ticket_id: str, body, caller: Caller) -> Operated:
        if not is_identifier(ticket_id):
            raise HTTPException(404, f"no ticket {ticket_id}")
        try:
            return operate(
                kind,
                ticket_id,
                body.model_dump(exclude_unset=True),
                uow_factory=services.uow_factory,
                mint_secret=reveal(services.settings.signer.mint_key_secret),
                notify=services.notify_operations,
                visible=lambda row: caller.sees_venue(row.venue_id),
                actor=caller.subject,
            )
        except TicketNotFound:
            raise HTTPException(404, f"no ticket {ticket_id}") from None

    @app.post(
        "/v1/tickets/{ticket_id}/check-in",
        responses=RESPONSES,
        summary="Scan a ticket at the door",
        description="200 admitted, decided by the ledger at once (the chain write follows); "
        "409 with the first scan's `first_checked_in_at` and `gate`. "
        + describe(SCANNER, VENUE_ADMIN),
    )
    def check_in(ticket_id: str, body: CheckInBody, caller: Door):
        try:
            done = run(CHECK_IN, ticket_id, body, caller)
        except AlreadyCheckedIn as exc:
            first = {
                "detail": str(exc),
                "field": "ticket_id",
                "first_checked_in_at": exc.first_checked_in_at,
                "gate": exc.gate,
            }
            return JSONResponse(jsonable_encoder(first), status_code=409)
        return _answer(done, created_status=200)

    @app.post(
        "/v1/tickets/{ticket_id}/invalidate",
        status_code=202,
        responses=RESPONSES,
        summary="Invalidate a ticket (refund, fraud, cancelled event)",
        description="Burned by the collection's permanent burn delegate. " + describe(VENUE_ADMIN),
    )
    def invalidate(ticket_id: str, body: InvalidateBody, caller: Venue):
        return _answer(run(INVALIDATE, ticket_id, body, caller), created_status=202)

    @app.post(
        "/v1/tickets/{ticket_id}/reissue",
        status_code=202,
        responses=RESPONSES,
        summary="Reissue an invalidated ticket as its next version",
        description="Mints version N+1 at its own deterministic address, to `owner` or the "
        "last holder. " + describe(VENUE_ADMIN),
    )
    def reissue(ticket_id: str, body: ReissueBody, caller: Venue):
        return _answer(run(REISSUE, ticket_id, body, caller), created_status=202)

    @app.get(
        "/v1/tickets/{ticket_id}",
        responses={404: {}, 401: {}, **FORBIDDEN_RESPONSE},
        summary="A ticket's lifecycle",
        description="State, versions, holder and history. " + describe(*READERS),
    )
    def get_ticket(ticket_id: str, caller: Reader):
        view = None
        if is_identifier(ticket_id):
            view = ticket_view(
                ticket_id,
                uow_factory=services.uow_factory,
                mint_secret=reveal(services.settings.signer.mint_key_secret),
                visible=lambda row: caller.sees_venue(row.venue_id),
            )
        if view is None:
            raise HTTPException(404, f"no ticket {ticket_id}")
        return jsonable_encoder(view)
