"""Roles on the HTTP API (DESIGN.md, Interfaces: Roles) on real PostgreSQL and Redis: every
``/v1`` route against every role (403 and nothing recorded, or through), venue scoping (another
venue's ticket, event or transfer is a 404, as if it did not exist), and the admin's retry and
cancel of a mint."""

from __future__ import annotations

import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from solders.keypair import Keypair

from devtools.stack import Stack
from tests.support.tokens import JWT_SECRET, auth, token

OWNER = str(Keypair.from_seed(bytes([7]) * 32).pubkey())
EVENT = {"name": "Concert", "uri": "https://t.example/e.json", "venue_id": "V-3"}

# role label -> token claims (scanner and venue admin of venue V-3, the seeded rows' venue)
TOKENS = {
    "service": {"role": "service"},
    "scanner": {"role": "scanner", "venue_id": "V-3"},
    "venue_admin": {"role": "venue_admin", "venue_id": "V-3"},
    "admin": {"role": "admin"},
    "no role": {"role": None},
}
READERS = {"service", "scanner", "venue_admin", "admin"}  # tickets
RECORD_READERS = {"service", "venue_admin", "admin"}  # mints, transfers, events
WRITERS = {"service", "admin"}


def mint_body(ticket_id: str, venue_id: str = "V-3") -> dict:
    return {
        "ticket_id": ticket_id,
        "owner": OWNER,
        "standard": "token2022",
        "venue_id": venue_id,
        "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"},
    }


# label -> (method, path, json body or None, roles that may call it); {who} makes ids unique
ROUTES = {
    "POST /v1/mints": ("post", "/v1/mints", lambda who: mint_body(f"M-{who}"), WRITERS),
    "GET /v1/mints/{ticket_id}": ("get", "/v1/mints/T-V3", None, RECORD_READERS),
    "POST /v1/transfers": (
        "post",
        "/v1/transfers",
        lambda who: {"transfer_id": f"X-{who}", "ticket_id": "T-V3", "to": OWNER},
        WRITERS,
    ),
    "GET /v1/transfers/{transfer_id}": ("get", "/v1/transfers/X-V3", None, RECORD_READERS),
    "PUT /v1/events/{event_id}": ("put", "/v1/events/E-{who}", lambda who: EVENT, WRITERS),
    "GET /v1/events/{event_id}": ("get", "/v1/events/E-V3", None, RECORD_READERS),
    "POST /v1/mints/{ticket_id}/retry": ("post", "/v1/mints/T-FAILED/retry", None, {"admin"}),
    "POST /v1/mints/{ticket_id}/cancel": ("post", "/v1/mints/T-PENDING/cancel", None, {"admin"}),
    "POST /v1/tickets/{ticket_id}/check-in": (
        "post",
        "/v1/tickets/T-V3/check-in",
        lambda who: {"operation_id": f"C-{who}", "gate": "A"},
        {"scanner", "venue_admin", "admin"},
    ),
    "POST /v1/tickets/{ticket_id}/invalidate": (
        "post",
        "/v1/tickets/T-V3/invalidate",
        lambda who: {"operation_id": f"I-{who}", "reason": "refund"},
        {"venue_admin", "admin"},
    ),
    "POST /v1/tickets/{ticket_id}/reissue": (
        "post",
        "/v1/tickets/T-V3/reissue",
        lambda who: {"operation_id": f"R-{who}"},
        {"venue_admin", "admin"},
    ),
    "GET /v1/tickets/{ticket_id}": ("get", "/v1/tickets/T-V3", None, READERS),
    # through for an admin: a 422 (the address is private), a listing, 404s for no endpoint
    "POST /v1/webhooks": (
        "post",
        "/v1/webhooks",
        lambda who: {"url": "https://10.0.0.1/hooks"},
        {"admin"},
    ),
    "GET /v1/webhooks": ("get", "/v1/webhooks", None, {"admin"}),
    "DELETE /v1/webhooks/{endpoint_id}": ("delete", "/v1/webhooks/we_none", None, {"admin"}),
    "POST /v1/webhooks/{endpoint_id}/replay": (
        "post",
        "/v1/webhooks/we_none/replay?since=2026-01-01T00:00:00Z",
        None,
        {"admin"},
    ),
}


def sql(stack, statement: str, *args):
    with psycopg.connect(stack.database_url) as conn:
        cur = conn.execute(statement, args)
        return cur.fetchall() if cur.description else None


def ledger(stack) -> dict:
    """Everything a route could have recorded or moved."""
    return {
        "mints": sql(stack, "SELECT ticket_id, status, attempts, last_error FROM nft_mints"),
        "transfers": sql(stack, "SELECT transfer_id, status FROM nft_transfers"),
        "events": sql(stack, "SELECT event_id, status, name FROM nft_collections"),
        "operations": sql(stack, "SELECT * FROM ticket_operations"),
    }


def headers(who: str, **claims) -> dict:
    return auth(token(exp=time.time() + 600, **{**TOKENS.get(who, {}), **claims}))


@pytest.fixture(scope="module")
def stack(postgres, redis_server, _localnet_session):
    env = {"JWT_SECRET": JWT_SECRET, "MINT_SEND_RATE": "1000"}
    with Stack(
        postgres=postgres, redis=redis_server, rpc_url=_localnet_session.url, extra_env=env
    ) as s:
        yield s


@pytest.fixture(scope="module")
def api(stack):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as client:
        service = headers("service")
        assert client.put("/v1/events/E-V3", json=EVENT, headers=service).status_code == 200
        for ticket_id in ("T-V3", "T-FAILED", "T-PENDING"):
            res = client.post("/v1/mints", json=mint_body(ticket_id), headers=service)
            assert res.status_code == 202, res.text
        token_address = str(Keypair().pubkey())
        sql(
            stack,
            "INSERT INTO nft_transfers (transfer_id, ticket_id, token_address, from_address,"
            " to_address, payload, status) VALUES ('X-V3', 'T-V3', %s, %s, %s, '{}', 'pending')",
            token_address,
            str(stack.payer.pubkey()),
            OWNER,
        )
        yield client


@pytest.fixture
def seeded(api, stack):
    """Each test starts with T-FAILED failed (2 attempts) and T-PENDING pending."""
    sql(
        stack,
        "UPDATE nft_mints SET status = 'failed', attempts = 2, last_error = 'expired'"
        " WHERE ticket_id = 'T-FAILED'",
    )
    sql(
        stack,
        "UPDATE nft_mints SET status = 'pending', last_error = NULL WHERE ticket_id = 'T-PENDING'",
    )
    return api


def call(api, label: str, who: str, **claims):
    method, path, body, _ = ROUTES[label]
    kw = {"json": body(who.replace(" ", "-"))} if body else {}
    return getattr(api, method)(
        path.format(who=who.replace(" ", "-")), headers=headers(who, **claims), **kw
    )


def test_every_v1_route_is_in_the_matrix(api):
    paths = api.get("/openapi.json").json()["paths"]
    published = {
        f"{method.upper()} {path}"
        for path, ops in paths.items()
        if path.startswith("/v1/")
        for method in ops
    }
    assert published == set(ROUTES)  # a new /v1 route gets a row in ROUTES


def test_the_schema_documents_the_roles_and_the_403(api):
    paths = api.get("/openapi.json").json()["paths"]
    for label, (_, _, _, roles) in ROUTES.items():
        method, path = label.split(" ")
        op = paths[path][method.lower()]
        assert "403" in op["responses"], label
        said = op["description"]
        assert "Roles: " in said and all(role in said for role in roles), (label, said)


@pytest.mark.parametrize("who", TOKENS)
@pytest.mark.parametrize("label", ROUTES)
def test_role_matrix(seeded, stack, label, who):
    allowed = who in ROUTES[label][3]
    before = ledger(stack)
    res = call(seeded, label, who)
    if allowed:
        assert res.status_code not in (401, 403) and res.status_code < 500, res.text
    else:
        assert res.status_code == 403, res.text
        assert res.json()["field"] == "role"
        held = "has no role" if who == "no role" else f"has role {who}"
        assert res.json()["detail"].endswith(f"the token {held}"), res.json()
        assert ledger(stack) == before  # nothing recorded, nothing moved


@pytest.mark.parametrize("label", ROUTES)
def test_a_bad_token_is_401_before_any_role(seeded, stack, label):
    method, path, body, _ = ROUTES[label]
    kw = {"json": body("x")} if body else {}
    before = ledger(stack)
    forged = token("another secret entirely, 32 chars+", role="admin")
    res = getattr(seeded, method)(path.format(who="x"), headers=auth(forged), **kw)
    assert res.status_code == 401
    assert ledger(stack) == before


READS = {
    "GET /v1/mints/{ticket_id}": ("/v1/mints/T-V3", "/v1/mints/NOPE"),
    "GET /v1/tickets/{ticket_id}": ("/v1/tickets/T-V3", "/v1/tickets/NOPE"),
    "GET /v1/events/{event_id}": ("/v1/events/E-V3", "/v1/events/NOPE"),
    "GET /v1/transfers/{transfer_id}": ("/v1/transfers/X-V3", "/v1/transfers/NOPE"),
}


@pytest.mark.parametrize("label", READS)
@pytest.mark.parametrize(
    "who,claims,sees",
    [
        ("venue_admin", {"venue_id": "V-3"}, True),
        ("venue_admin", {"venue_id": "V-9"}, False),
        ("venue_admin", {"venue_id": None, "venueId": "V-3"}, True),  # the legacy claim
        ("venue_admin", {"venue_id": None, "venueId": "V-9"}, False),
        ("scanner", {"venue_id": "V-3"}, True),
        ("scanner", {"venue_id": "V-9"}, False),
        ("scanner", {"venue_id": None}, True),  # a scanner of no venue reads every venue
        ("service", {"venue_id": "V-9"}, True),  # only scanners and venue admins are scoped
        ("admin", {"venue_id": "V-9"}, True),
    ],
)
def test_another_venues_rows_do_not_exist_for_a_venue_scoped_caller(
    seeded, label, who, claims, sees
):
    path, unknown = READS[label]
    claims = {k: v for k, v in claims.items() if v is not None}
    tok = token(exp=time.time() + 600, role=who, **claims)
    res = seeded.get(path, headers=auth(tok))
    if who == "scanner" and "tickets" not in label:  # a scanner reads tickets only
        assert res.status_code == 403 and res.json()["field"] == "role"
    elif sees:
        assert res.status_code == 200, res.text
    else:
        missing = seeded.get(unknown, headers=auth(tok))
        assert res.status_code == missing.status_code == 404
        # the same answer as for a row that does not exist, but for the id it names
        assert res.json() == {"detail": missing.json()["detail"].replace("NOPE", path[-4:])}


def test_a_venue_admin_without_a_venue_is_403_naming_venue_id(seeded):
    res = seeded.get("/v1/mints/T-V3", headers=auth(token(role="venue_admin")))
    assert res.status_code == 403 and res.json()["field"] == "venue_id"


def test_admin_retries_a_failed_mint_and_cancels_a_pending_one(seeded, stack):
    admin = headers("admin")
    res = seeded.post("/v1/mints/T-FAILED/retry", headers=admin)
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "pending" and "expired" in res.json()["last_error"]
    assert sql(stack, "SELECT status, attempts FROM nft_mints WHERE ticket_id = 'T-FAILED'") == [
        ("pending", 2)  # attempts kept
    ]
    again = seeded.post("/v1/mints/T-FAILED/retry", headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "status"
    assert "pending" in again.json()["detail"]

    res = seeded.post("/v1/mints/T-PENDING/cancel", headers=admin)
    assert res.status_code == 200, res.text
    assert res.json()["status"] == "failed" and res.json()["last_error"] == "cancelled"
    assert sql(stack, "SELECT status, last_error FROM nft_mints WHERE ticket_id = 'T-PENDING'") == [
        ("failed", "cancelled")
    ]
    again = seeded.post("/v1/mints/T-PENDING/cancel", headers=admin)
    assert again.status_code == 409 and again.json()["field"] == "status"
    back = seeded.post("/v1/mints/T-PENDING/retry", headers=admin)  # a cancel can be undone
    assert back.status_code == 200 and back.json()["status"] == "pending"


@pytest.mark.parametrize(
    "status,action",
    [
        ("submitted", "cancel"),  # its transaction may still land
        ("completed", "cancel"),
        ("completed", "retry"),
        ("submitted", "retry"),
        ("pending", "retry"),
        ("failed", "cancel"),
    ],
)
def test_admin_actions_refuse_a_row_in_another_state(seeded, stack, status, action):
    sql(stack, "UPDATE nft_mints SET status = %s WHERE ticket_id = 'T-PENDING'", status)
    before = ledger(stack)
    res = seeded.post(f"/v1/mints/T-PENDING/{action}", headers=headers("admin"))
    assert res.status_code == 409, res.text
    assert res.json()["field"] == "status" and status in res.json()["detail"]
    assert ledger(stack) == before


@pytest.mark.parametrize("action", ["retry", "cancel"])
@pytest.mark.parametrize("ticket_id", ["NOPE", "bad%20id"])
def test_admin_actions_on_an_unknown_ticket_are_404(seeded, action, ticket_id):
    res = seeded.post(f"/v1/mints/{ticket_id}/{action}", headers=headers("admin"))
    assert res.status_code == 404
