"""``PUT /v1/events/{event_id}`` and ``GET /v1/events/{event_id}`` (DESIGN.md, Interfaces)."""
# no `from __future__ import annotations`: FastAPI reads the local Claims alias at runtime

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException

from actors.entrypoints.http.roles import (
    FORBIDDEN_RESPONSE,
    RECORD_READERS,
    SERVICE,
    Caller,
    describe,
    require,
)
from actors.infra.config import reveal
from actors.workflows.collections import get_event, put_event
from minter.errors import ValidationError
from minter.nft.event import EventBody
from minter.nft.request import MAX_EXTRA, id_rule, is_identifier


def add_event_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Writer = Annotated[Caller, Depends(require(authorized, SERVICE))]
    Reader = Annotated[Caller, Depends(require(authorized, *RECORD_READERS))]

    @app.put(
        "/v1/events/{event_id}",
        responses={409: {}, 422: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description="Register an event and queue its collection; the same body again answers "
        "200. " + describe(SERVICE),
    )
    def put(event_id: str, body: EventBody, caller: Writer):
        if not is_identifier(event_id, limit=MAX_EXTRA):
            raise ValidationError("event_id", f"must be {id_rule(MAX_EXTRA)}")
        put_event(
            event_id,
            body.model_dump(),
            uow_factory=services.uow_factory,
            mint_secret=reveal(services.settings.signer.mint_key_secret),
            notify=services.notify_collections,
        )
        return get_event(event_id, uow_factory=services.uow_factory)

    @app.get(
        "/v1/events/{event_id}",
        responses={404: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description="The event, its collection's address and status, and its tickets by "
        "status. "
        + describe(*RECORD_READERS)
        + " A venue-scoped token sees only its venue's events.",
    )
    def get(event_id: str, caller: Reader):
        found = None
        if is_identifier(event_id, limit=MAX_EXTRA):
            found = get_event(event_id, uow_factory=services.uow_factory)
        if found is None or not caller.sees_venue(found.get("venue_id")):  # another venue's: unseen
            raise HTTPException(404, f"no event {event_id}")
        return found
