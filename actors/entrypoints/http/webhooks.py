"""``/v1/webhooks``: endpoints registered, listed, deleted, and their events replayed; role
``admin`` only (DESIGN.md, Webhooks and Interfaces). A registration answers its secret once."""
# no `from __future__ import annotations`: FastAPI reads the local Admin alias at runtime

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from actors.entrypoints.http.roles import ADMIN, FORBIDDEN_RESPONSE, Caller, describe, require
from actors.entrypoints.services import vet
from actors.infra.config import reveal
from actors.workflows.webhooks import endpoints
from ledger.models import EVENT_TYPES

RESPONSES = {401: {}, **FORBIDDEN_RESPONSE}


class WebhookBody(BaseModel):
    """An endpoint to register; a field we do not know is refused."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(max_length=2048, description="https (loopback http only in development)")
    events: list[str] | None = Field(
        default=None, description=f"types to receive (default: all): {', '.join(EVENT_TYPES)}"
    )


def _refused(exc: endpoints.EndpointRefused) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc), "field": exc.field, "message": str(exc)}, status_code=422
    )


def add_webhook_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Admin = Annotated[Caller, Depends(require(authorized, ADMIN))]
    settings = services.settings

    @app.post(
        "/v1/webhooks",
        status_code=201,
        responses={422: {}, **RESPONSES},
        summary="Register a webhook endpoint",
        description="The answer carries the endpoint's secret (`whsec_…`), shown this once. "
        "The URL must be https and must not resolve to a private, link-local, metadata or "
        "loopback address (422 naming `url`). " + describe(ADMIN),
    )
    def register(body: WebhookBody, caller: Admin):
        try:
            created = endpoints.register(
                body.url,
                body.events,
                uow_factory=services.uow_factory,
                vet=vet(settings),
                master=reveal(settings.signer.mint_key_secret),
            )
        except endpoints.EndpointRefused as exc:
            return _refused(exc)
        return JSONResponse(created, status_code=201)

    @app.get(
        "/v1/webhooks",
        responses=RESPONSES,
        summary="List webhook endpoints",
        description="Every live endpoint, its status and its deliveries by outcome; never a "
        "secret. " + describe(ADMIN),
    )
    def listing(caller: Admin):
        return endpoints.list_endpoints(uow_factory=services.uow_factory)

    @app.delete(
        "/v1/webhooks/{endpoint_id}",
        status_code=204,
        responses={404: {}, **RESPONSES},
        summary="Delete a webhook endpoint",
        description="It receives nothing more; what it was still owed is marked failed. "
        + describe(ADMIN),
    )
    def delete(endpoint_id: str, caller: Admin):
        if not endpoints.delete(endpoint_id, uow_factory=services.uow_factory):
            raise HTTPException(404, f"no webhook endpoint {endpoint_id}")
        return Response(status_code=204)

    @app.post(
        "/v1/webhooks/{endpoint_id}/replay",
        status_code=202,
        responses={404: {}, 422: {}, **RESPONSES},
        summary="Replay events to one endpoint",
        description="Every event recorded since `since` (ISO 8601 with a zone) of the types the "
        "endpoint takes, sent again with their original ids, in each ticket's order. "
        + describe(ADMIN),
    )
    def replay(endpoint_id: str, caller: Admin, since: Annotated[str, Query()]):
        at = parse_since(since)
        if at is None:
            return _refused(
                endpoints.EndpointRefused(
                    "since", "since must be an ISO 8601 time with a zone, e.g. 2026-11-25T10:00:00Z"
                )
            )
        n = endpoints.replay(
            endpoint_id, at, uow_factory=services.uow_factory, wake=services.notify_webhooks
        )
        if n is None:
            raise HTTPException(404, f"no webhook endpoint {endpoint_id}")
        return JSONResponse({"id": endpoint_id, "replayed": n}, status_code=202)


def parse_since(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
