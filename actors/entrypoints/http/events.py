"""``PUT /v1/events/{event_id}`` and ``GET /v1/events/{event_id}`` (DESIGN.md, Interfaces)."""
# no `from __future__ import annotations`: FastAPI reads the local Claims alias at runtime

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException

from actors.infra.config import reveal
from actors.workflows.collections import get_event, put_event
from minter.errors import ValidationError
from minter.nft.event import EventBody
from minter.nft.request import MAX_EXTRA, id_rule, is_identifier


def add_event_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Claims = Annotated[dict, Depends(authorized)]

    @app.put("/v1/events/{event_id}", responses={409: {}, 422: {}, 401: {}})
    def put(event_id: str, body: EventBody, claims: Claims):
        """Register an event and queue its collection; the same body again answers 200."""
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

    @app.get("/v1/events/{event_id}", responses={404: {}, 401: {}})
    def get(event_id: str, claims: Claims):
        """The event, its collection's address and status, and its tickets by status."""
        found = None
        if is_identifier(event_id, limit=MAX_EXTRA):
            found = get_event(event_id, uow_factory=services.uow_factory)
        if found is None:
            raise HTTPException(404, f"no event {event_id}")
        return found
