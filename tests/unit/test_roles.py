"""Roles on the HTTP API (DESIGN.md, Interfaces: Roles): ``Caller.sees_venue`` and ``require``
over a tiny FastAPI app, without services."""

# no `from __future__ import annotations`: FastAPI reads the local Annotated aliases at runtime

import time
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from actors.entrypoints.http.roles import (
    ADMIN,
    SCANNER,
    SERVICE,
    VENUE_ADMIN,
    Caller,
    add_forbidden_handler,
    require,
)

SECRET = "s" * 40


@pytest.mark.parametrize(
    "caller,venue,sees",
    [
        (Caller(SERVICE, None, "svc"), "V-3", True),
        (Caller(SERVICE, "V-9", "svc"), "V-3", True),  # a venue claim does not scope a service
        (Caller(ADMIN, "V-9", "root"), "V-3", True),
        (Caller(ADMIN, None, None), None, True),
        (Caller(SCANNER, None, "gate"), "V-3", True),  # no venue in its token: every venue
        (Caller(SCANNER, "V-3", "gate"), "V-3", True),
        (Caller(SCANNER, "V-3", "gate"), "V-4", False),
        (Caller(SCANNER, "V-3", "gate"), None, False),
        (Caller(VENUE_ADMIN, "V-3", "va"), "V-3", True),
        (Caller(VENUE_ADMIN, "V-3", "va"), "V-4", False),
        (Caller(VENUE_ADMIN, "V-3", "va"), None, False),  # a ticket of no venue is not its own
    ],
)
def test_sees_venue(caller, venue, sees):
    assert caller.sees_venue(venue) is sees


def test_caller_is_frozen():
    with pytest.raises(AttributeError):
        Caller(SCANNER, "V-3", "gate").role = ADMIN  # type: ignore[misc]


def test_unknown_roles_are_a_programming_error():
    with pytest.raises(ValueError, match="superuser"):
        require(lambda: {}, "superuser")


def _authorized(authorization: str | None = Header(default=None)) -> dict:
    """The app's bearer check, reduced: HS256 with SECRET, else 401."""
    try:
        return jwt.decode((authorization or "").removeprefix("Bearer "), SECRET, ["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token") from None


@pytest.fixture(scope="module")
def client():
    app = FastAPI()
    add_forbidden_handler(app)
    Scanning = Annotated[Caller, Depends(require(_authorized, SCANNER, VENUE_ADMIN))]
    Serving = Annotated[Caller, Depends(require(_authorized, SERVICE))]
    Admin = Annotated[Caller, Depends(require(_authorized, ADMIN))]

    @app.get("/scan")
    def scan(caller: Scanning):
        return {"role": caller.role, "venue_id": caller.venue_id, "subject": caller.subject}

    @app.get("/serve")
    def serve(caller: Serving):
        return {"role": caller.role}

    @app.get("/admin")
    def admin(caller: Admin):
        return {"role": caller.role}

    with TestClient(app) as c:
        yield c


def _get(client, path: str, **claims):
    claims.setdefault("exp", int(time.time()) + 60)
    headers = {"Authorization": f"Bearer {jwt.encode(claims, SECRET, algorithm='HS256')}"}
    return client.get(path, headers=headers)


@pytest.mark.parametrize(
    "path,role,status",
    [
        ("/scan", SCANNER, 200),
        ("/scan", VENUE_ADMIN, 200),
        ("/scan", ADMIN, 200),  # admin always
        ("/scan", SERVICE, 403),
        ("/serve", SERVICE, 200),
        ("/serve", ADMIN, 200),
        ("/serve", SCANNER, 403),
        ("/serve", VENUE_ADMIN, 403),
        ("/admin", ADMIN, 200),
        ("/admin", SERVICE, 403),
        ("/admin", SCANNER, 403),
        ("/admin", VENUE_ADMIN, 403),
    ],
)
def test_require_admits_the_roles_named_and_admin(client, path, role, status):
    res = _get(client, path, role=role, venue_id="V-3", sub="someone")
    assert res.status_code == status, res.text
    if status == 403:
        assert res.json()["field"] == "role"
        assert f"the token has role {role}" in res.json()["detail"]


def test_the_403_names_the_roles_needed_and_the_role_held(client):
    res = _get(client, "/scan", role=SERVICE)
    assert res.status_code == 403
    assert res.json() == {
        "detail": "this route needs role scanner or venue_admin or admin; "
        "the token has role service",
        "field": "role",
    }
    assert _get(client, "/serve", role=SCANNER).json() == {
        "detail": "this route needs role service or admin; the token has role scanner",
        "field": "role",
    }


@pytest.mark.parametrize("role", [None, "", 7, ["admin"], {"role": "admin"}, "ADMIN", "root"])
def test_no_role_or_another_role_is_403(client, role):
    claims = {} if role is None else {"role": role}
    res = _get(client, "/scan", **claims)
    assert res.status_code == 403, res.text
    assert res.json()["field"] == "role"
    assert "this route needs role scanner or venue_admin or admin" in res.json()["detail"]


def test_401_comes_before_the_role(client):
    assert client.get("/admin").status_code == 401
    forged = jwt.encode({"role": ADMIN, "exp": int(time.time()) + 60}, "x" * 40, "HS256")
    res = client.get("/admin", headers={"Authorization": f"Bearer {forged}"})
    assert res.status_code == 401


def test_the_caller_carries_venue_and_subject(client):
    res = _get(client, "/scan", role=SCANNER, venue_id="V-3", sub="gate-7")
    assert res.json() == {"role": SCANNER, "venue_id": "V-3", "subject": "gate-7"}
    unscoped = _get(client, "/scan", role=SCANNER)
    assert unscoped.json() == {"role": SCANNER, "venue_id": None, "subject": None}


def test_the_legacy_venue_claim_is_read_when_venue_id_is_absent(client):
    res = _get(client, "/scan", role=VENUE_ADMIN, venueId="V-3")
    assert res.status_code == 200 and res.json()["venue_id"] == "V-3"
    both = _get(client, "/scan", role=VENUE_ADMIN, venue_id="V-3", venueId="V-9")
    assert both.json()["venue_id"] == "V-3"  # venue_id wins
    numeric = _get(client, "/scan", role=VENUE_ADMIN, venue_id=3)
    assert numeric.json()["venue_id"] == "3"


def test_a_venue_admin_without_a_venue_is_403_naming_venue_id(client):
    res = _get(client, "/scan", role=VENUE_ADMIN)
    assert res.status_code == 403 and res.json()["field"] == "venue_id"


@pytest.mark.parametrize("venue", ["", True, ["V-3"], {"id": "V-3"}])
def test_a_malformed_venue_claim_is_403_not_unscoped(client, venue):
    res = _get(client, "/scan", role=SCANNER, venue_id=venue)
    assert res.status_code == 403 and res.json()["field"] == "venue_id", res.text
    legacy = _get(client, "/scan", role=SCANNER, venueId=venue)
    assert legacy.status_code == 403 and legacy.json()["field"] == "venue_id", legacy.text
