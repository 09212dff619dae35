"""The HTTP service (``minter api``): handlers parse, call one workflow, map errors, return.

Every ``/v1`` route needs an HS256 bearer token (:mod:`actors.entrypoints.http.auth`, else 401)
whose role may call it (:mod:`actors.entrypoints.http.roles`, else 403). Bad
fields answer 422 naming the field, a repeat 200, another payload for the same ticket 409,
bodies over ``max_body`` 413 (counted while they stream; a malformed Content-Length 400).
"""

import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from actors.entrypoints.http.admin import add_admin_routes
from actors.entrypoints.http.auth import AuthError, TokenVerifier
from actors.entrypoints.http.body_limit import DEFAULT_MAX_BODY, BodyLimit
from actors.entrypoints.http.events import add_event_routes
from actors.entrypoints.http.roles import (
    ADMIN,
    FORBIDDEN_RESPONSE,
    RECORD_READERS,
    SERVICE,
    Caller,
    Forbidden,
    add_forbidden_handler,
    describe,
    require,
)
from actors.entrypoints.http.rows import MintRow, mint_json
from actors.entrypoints.http.tickets import add_ticket_routes
from actors.entrypoints.http.webhooks import add_webhook_routes
from actors.entrypoints.services import payer_pool, services_for
from actors.infra.config import Settings, reveal
from actors.infra.errors import IntentConflict
from actors.infra.metrics import registry
from actors.workflows.health import Health
from actors.workflows.intake import enqueue_mint
from actors.workflows.report import refresh_from_chain, refresh_from_ledger
from actors.workflows.transfers import TransferSigner, enqueue_transfer
from actors.workflows.views import transfer_view
from minter.errors import ValidationError
from minter.nft.request import MintBody, TransferBody, field_errors, is_identifier


class _SafeJSONResponse(JSONResponse):
    """A 422 that can always be sent: its echoed input may hold NaN or a lone surrogate."""

    def render(self, content: Any) -> bytes:
        return json.dumps(_finite(content), ensure_ascii=True, separators=(",", ":")).encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def create_app(services, *, max_body: int = DEFAULT_MAX_BODY, health=None) -> FastAPI:
    """The app over built services, which it closes on shutdown; ``health`` answers /ready and
    /balance (workflows.health)."""
    app = FastAPI(title="ticket-minter", version="1", lifespan=_closing(services))
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, max_body=max_body)  # counted while the body streams
    authorized = _bearer(services.settings.api)
    _add_mint_routes(app, services, authorized=authorized)
    _add_transfer_routes(app, services, authorized=authorized)
    add_event_routes(app, services, authorized=authorized)
    add_admin_routes(app, services, authorized=authorized)
    add_ticket_routes(app, services, authorized=authorized)
    add_webhook_routes(app, services, authorized=authorized)
    _add_ops_routes(app, services, health=health)
    return app


def _closing(services) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """A lifespan that releases the services (engine connections, the chain client's HTTP pool)
    when the server stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            services.close()

    return lifespan


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def unprocessable_request(request: Request, exc: RequestValidationError):
        # the intake's names and words, as the CLI and the CSV say them
        named = field_errors(
            [{**e, "loc": tuple(e.get("loc", ()))[1:] or ("body",)} for e in exc.errors()]
        )
        detail = [
            {**e, "field": n.field, "message": n.message}
            for e, n in zip(jsonable_encoder(exc.errors()), named, strict=True)
        ]
        first = named[0] if named else ValidationError("body", "is not a valid request")
        return _SafeJSONResponse(
            {"detail": detail, "field": first.field, "message": first.message}, status_code=422
        )

    add_forbidden_handler(app)

    @app.exception_handler(ValidationError)
    async def invalid_field(request: Request, exc: ValidationError):
        return _unprocessable(exc.field, exc.message)

    @app.exception_handler(IntentConflict)
    async def conflict(request: Request, exc: IntentConflict):
        return JSONResponse({"detail": str(exc), "field": exc.field}, status_code=409)


def _bearer(api) -> Callable[..., dict]:
    """The dependency that checks a ``/v1`` route's bearer token against the ``api`` settings."""
    verifier = TokenVerifier(
        secret=reveal(api.jwt_secret), issuer=api.jwt_issuer, audience=api.jwt_audience
    )

    def authorized(authorization: str | None = Header(default=None)) -> dict:
        try:
            return verifier.verify(authorization)
        except AuthError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None

    return authorized


def _add_mint_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    settings = services.settings
    Writer = Annotated[Caller, Depends(require(authorized, SERVICE))]
    Reader = Annotated[Caller, Depends(require(authorized, *RECORD_READERS))]

    @app.post(
        "/v1/mints",
        status_code=202,
        responses={200: {}, 409: {}, 422: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description=describe(SERVICE),
    )
    def post_mint(body: MintBody, caller: Writer):
        result = enqueue_mint(
            body.model_dump(exclude_unset=True),
            uow_factory=services.uow_factory,
            mint_secret=reveal(settings.signer.mint_key_secret),
            default_standard=settings.minting.standard,
            notify=services.notify,
        )
        payload = {
            "ticket_id": result.ticket_id,
            "mint_address": result.mint_address,
            "status": result.status,
        }
        return JSONResponse(payload, status_code=202 if result.created else 200)

    @app.get(
        "/v1/mints/{ticket_id}",
        response_model=MintRow,
        responses={404: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description=describe(*RECORD_READERS)
        + " A venue-scoped token sees only its venue's tickets.",
    )
    def get_mint(ticket_id: str, caller: Reader):
        if not is_identifier(ticket_id):  # never accepted, so never stored: no query needed
            raise HTTPException(404, f"no ticket {ticket_id}")
        with services.uow_factory() as uow:
            row = uow.mints.get(ticket_id)
            if row is None or not caller.sees_venue(row.venue_id):  # another venue's: unseen
                raise HTTPException(404, f"no ticket {ticket_id}")
            return mint_json(row)


def _add_transfer_routes(app: FastAPI, services, *, authorized: Callable[..., dict]) -> None:
    Writer = Annotated[Caller, Depends(require(authorized, SERVICE))]
    Reader = Annotated[Caller, Depends(require(authorized, *RECORD_READERS))]

    @app.post(
        "/v1/transfers",
        status_code=202,
        responses={200: {}, 409: {}, 422: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description=describe(SERVICE)
        + " `reason`: `claim` (out of custody), `resale` (a Core ticket from any holder, by the "
        "collection's permanent transfer delegate), `support` (the same, admin only; the only "
        "move a non_transferable event allows).",
    )
    def post_transfer(body: TransferBody, caller: Writer):
        if body.reason == "support" and caller.role != ADMIN:  # DESIGN.md: support is an admin's
            raise Forbidden("role", "reason support needs role admin")
        result = enqueue_transfer(
            body.model_dump(exclude_unset=True),
            uow_factory=services.uow_factory,
            signer=TransferSigner(payer=services.settings.signer.authority),
            notify=services.notify_transfers,
            mint_secret=reveal(services.settings.signer.mint_key_secret),
        )
        payload = {
            "transfer_id": result.transfer_id,
            "ticket_id": result.ticket_id,
            "status": result.status,
        }
        return JSONResponse(payload, status_code=202 if result.created else 200)

    @app.get(
        "/v1/transfers/{transfer_id}",
        responses={404: {}, 401: {}, **FORBIDDEN_RESPONSE},
        description=describe(*RECORD_READERS)
        + " A venue-scoped token sees only transfers of its venue's tickets.",
    )
    def get_transfer(transfer_id: str, caller: Reader):
        if not is_identifier(transfer_id):  # never accepted, so never stored
            raise HTTPException(404, f"no transfer {transfer_id}")
        with services.uow_factory() as uow:
            row = uow.transfers.get(transfer_id)
            if row is not None and caller.venue_scoped:  # a transfer's venue is its ticket's
                ticket = uow.mints.get(row.ticket_id)
                if not caller.sees_venue(ticket.venue_id if ticket is not None else None):
                    row = None
        if row is None:
            raise HTTPException(404, f"no transfer {transfer_id}")
        return transfer_view(row)


def _add_ops_routes(app: FastAPI, services, *, health) -> None:
    @app.get("/health")
    def live():
        return {"status": "ok"}

    @app.get("/ready", responses={503: {}})
    def ready():
        report = health.readiness()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.get("/balance")
    def balance():
        return health.balance()

    @app.get("/metrics", response_class=PlainTextResponse)
    def metrics():
        try:  # the ledger's and the chain's figures as of this scrape
            with services.uow_factory() as uow:
                refresh_from_ledger(uow, since=None)
            refresh_from_chain(services.chain, health.pool())
        except Exception:  # a scrape reports what it has; /ready names what is down
            pass
        return PlainTextResponse(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


def _unprocessable(field: str, message: str) -> JSONResponse:
    loc = ["body", *field.split(".")]
    return JSONResponse(
        {
            "detail": [{"loc": loc, "msg": message, "type": "value_error", "field": field}],
            "field": field,
            "message": message,
        },
        status_code=422,
    )


def build_app(settings: Settings) -> FastAPI:
    """The app over services built from ``settings`` (what ``minter api`` serves); it closes
    them on shutdown."""

    services = services_for(settings)
    health = Health(
        services,
        ping_redis=lambda: bool(services.broker.client.ping()),
        payers=payer_pool(services),
    )
    return create_app(services, health=health)
