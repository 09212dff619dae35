"""Who may call which ``/v1`` route (DESIGN.md, Interfaces: Roles), from the JWT's claims.

The role is the token's ``role`` claim; the venue its ``venue_id`` claim (or the legacy
platform's ``venueId`` when ``venue_id`` is absent). A route declares the roles it admits with
``Annotated[Caller, Depends(require(authorized, SERVICE, ADMIN))]``; ``admin`` is always
admitted. The bearer token is checked first (401), then the role (403 naming what is missing,
``{"detail": …, "field": "role"}``). A venue-scoped caller reading or acting on another venue's
ticket or event gets the route's 404, as if it did not exist: see :meth:`Caller.sees_venue`.
"""
# no `from __future__ import annotations`: FastAPI reads the dependency's signature at runtime

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

SERVICE = "service"
SCANNER = "scanner"
VENUE_ADMIN = "venue_admin"
ADMIN = "admin"
ROLES = (SERVICE, SCANNER, VENUE_ADMIN, ADMIN)

# who reads (admin is always admitted): a scanner reads tickets only (DESIGN.md, Roles)
READERS = (SERVICE, SCANNER, VENUE_ADMIN)  # GET /v1/tickets/{id}
RECORD_READERS = (SERVICE, VENUE_ADMIN)  # GET mints, transfers, events


@dataclass(frozen=True)
class Caller:
    """The token's holder as the routes see it."""

    role: str
    venue_id: str | None = None
    subject: str | None = None

    @property
    def venue_scoped(self) -> bool:
        """A venue admin always; a scanner when its token names a venue."""
        return self.role == VENUE_ADMIN or (self.role == SCANNER and self.venue_id is not None)

    def sees_venue(self, venue_id: str | None) -> bool:
        """Whether an object of ``venue_id`` exists for this caller (False: answer 404)."""
        return not self.venue_scoped or venue_id == self.venue_id


class Forbidden(HTTPException):
    """A 403 naming the claim that is missing or not enough; its body is ``{"detail", "field"}``."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(403, detail)
        self.field = field


def add_forbidden_handler(app: FastAPI) -> None:
    """Answer :class:`Forbidden` with ``{"detail", "field"}`` (without it, only ``detail``)."""

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden):
        return JSONResponse({"detail": exc.detail, "field": exc.field}, status_code=403)


def describe(*roles: str) -> str:
    """``"Roles: service, admin"``: what a route's OpenAPI description says of who may call it."""
    return "Roles: " + ", ".join(_admitted(roles)) + "."


FORBIDDEN_RESPONSE: dict[int | str, dict[str, Any]] = {
    403: {"description": "The token's role (or venue) may not call this route"}
}


def require(authorized: Callable[..., dict], *roles: str) -> Callable[..., Caller]:
    """The dependency that admits tokens of ``roles`` (and ``admin``) and yields their Caller.

    ``authorized`` is the app's bearer dependency (claims, or 401). A token without a role,
    with a role not admitted, or a venue admin without a venue gets :class:`Forbidden`.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    admitted = _admitted(roles)
    needs = f"this route needs role {' or '.join(admitted)}"

    def caller(claims: Annotated[dict, Depends(authorized)]) -> Caller:
        role = claims.get("role")
        if role is None or role == "":
            raise Forbidden("role", f"{needs}; the token has no role")
        if not isinstance(role, str):
            raise Forbidden("role", f"{needs}; the token's role is not a string")
        if role not in admitted:
            raise Forbidden("role", f"{needs}; the token has role {role[:64]}")
        venue_id = _venue(claims)
        if role == VENUE_ADMIN and venue_id is None:
            raise Forbidden(
                "venue_id", "role venue_admin needs a venue_id claim; the token has none"
            )
        subject = claims.get("sub")
        return Caller(
            role=role, venue_id=venue_id, subject=subject if isinstance(subject, str) else None
        )

    return caller


def _admitted(roles: tuple[str, ...]) -> list[str]:
    return [r for r in ROLES if r in roles and r != ADMIN] + [ADMIN]


def _venue(claims: dict) -> str | None:
    """``venue_id``, else the legacy ``venueId``; a number is read as its digits. A claim that
    is there but empty or of another type is refused rather than read as "no venue", which
    would widen a scanner's reach."""
    name = "venue_id" if claims.get("venue_id") is not None else "venueId"
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise Forbidden("venue_id", f"the token's {name} claim must be a non-empty string")
