"""The HTTP API on real PostgreSQL, Redis and the validator: every route, every auth failure."""

from __future__ import annotations

import time

import jwt
import pytest
from fastapi.testclient import TestClient
from solders.keypair import Keypair

from tests.support.tokens import JWT_SECRET, auth, token


def mint_body(ticket_id: str = "API-1", **over) -> dict:
    body = {
        "ticket_id": ticket_id,
        "owner": str(Keypair().pubkey()),
        "standard": "token2022",
        "event_id": "E-7",
        "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"},
    }
    body.update(over)
    return body


def test_health_needs_no_token_and_touches_nothing(api):
    assert api.get("/health").json() == {"status": "ok"}


def test_openapi_schema_lists_every_route(api):
    paths = api.get("/openapi.json").json()["paths"]
    for route in (
        "/v1/mints",
        "/v1/mints/{ticket_id}",
        "/v1/transfers",
        "/v1/transfers/{transfer_id}",
        "/v1/events/{event_id}",
        "/v1/mints/{ticket_id}/retry",
        "/v1/mints/{ticket_id}/cancel",
        "/health",
        "/ready",
        "/balance",
        "/metrics",
    ):
        assert route in paths


BAD_TOKENS = {
    "missing": None,
    "not bearer": "Basic abc",
    "garbage": "Bearer not.a.jwt",
    "expired": f"Bearer {token(exp=time.time() - 3600)}",
    "forged": f"Bearer {token('another secret entirely, 32 chars+')}",
    "wrong algorithm": f"Bearer {token(alg='HS512')}",
    "none algorithm": "Bearer "
    + jwt.encode({"exp": int(time.time()) + 60}, None, algorithm="none"),
    "no exp": "Bearer " + jwt.encode({"sub": "x"}, JWT_SECRET, algorithm="HS256"),
}


@pytest.mark.parametrize("why", BAD_TOKENS)
@pytest.mark.parametrize(
    "method,path",
    [
        ("post", "/v1/mints"),
        ("get", "/v1/mints/X"),
        ("post", "/v1/transfers"),
        ("get", "/v1/transfers/X"),
        ("put", "/v1/events/X"),
        ("get", "/v1/events/X"),
        ("post", "/v1/mints/X/retry"),
        ("post", "/v1/mints/X/cancel"),
    ],
)
def test_every_v1_route_refuses_bad_tokens(api, stack, why, method, path):
    headers = {} if BAD_TOKENS[why] is None else {"Authorization": BAD_TOKENS[why]}
    body = (
        mint_body("AUTH")
        if path == "/v1/mints"
        else {"transfer_id": "t", "ticket_id": "x", "to": str(Keypair().pubkey())}
    )
    res = getattr(api, method)(
        path, headers=headers, **({"json": body} if method in ("post", "put") else {})
    )
    assert res.status_code == 401, res.text
    assert stack.statuses() == {}


def test_mint_routes(api, stack):
    headers = auth(token())
    body = mint_body("API-1")
    first = api.post("/v1/mints", json=body, headers=headers)
    assert first.status_code == 202
    assert first.json()["status"] == "pending" and first.json()["mint_address"]
    repeat = api.post("/v1/mints", json=body, headers=headers)
    assert repeat.status_code == 200 and repeat.json() == first.json()
    other = api.post("/v1/mints", json={**body, "owner": str(Keypair().pubkey())}, headers=headers)
    assert other.status_code == 409
    got = api.get("/v1/mints/API-1", headers=headers)
    assert got.status_code == 200 and got.json()["mint_address"] == first.json()["mint_address"]
    assert api.get("/v1/mints/NOPE", headers=headers).status_code == 404


@pytest.mark.parametrize(
    "field,body",
    [
        ("owner", mint_body(owner="nope")),
        ("name", mint_body(metadata={"name": "n" * 33, "symbol": "T", "uri": "u"})),
        (
            "seller_fee_basis_points",
            mint_body(
                metadata={"name": "n", "symbol": "T", "uri": "u", "seller_fee_basis_points": 20000}
            ),
        ),
        ("standard", mint_body(standard="erc721")),
        ("metadata", {k: v for k, v in mint_body().items() if k != "metadata"}),
    ],
)
def test_bad_fields_get_422_naming_the_field(api, stack, field, body):
    res = api.post("/v1/mints", json=body, headers=auth(token()))
    assert res.status_code == 422
    assert field in res.text
    assert stack.statuses() == {}


def test_oversized_body_gets_413(api, stack):
    body = mint_body(seat="s" * 100_000)
    res = api.post("/v1/mints", json=body, headers=auth(token()))
    assert res.status_code == 413 and stack.statuses() == {}


def test_transfer_routes_refuse_unknown_tickets(api):
    headers = auth(token())
    res = api.post(
        "/v1/transfers",
        headers=headers,
        json={"transfer_id": "T1", "ticket_id": "NOPE", "to": str(Keypair().pubkey())},
    )
    assert res.status_code == 422 and "ticket_id" in res.text
    bad_to = api.post(
        "/v1/transfers", headers=headers, json={"transfer_id": "T1", "ticket_id": "NOPE", "to": "x"}
    )
    assert bad_to.status_code == 422 and "to" in bad_to.json()["field"]
    assert api.get("/v1/transfers/T1", headers=headers).status_code == 404


def test_ready_and_balance(api, stack):
    ready = api.get("/ready")
    assert ready.status_code == 200, ready.json()
    assert ready.json()["ready"] is True
    bal = api.get("/balance").json()
    assert bal["payer"] == str(stack.payer.pubkey())
    assert bal["lamports"] > 0 and bal["sol"] == bal["lamports"] / 1e9
    assert bal["mints_left"] == bal["lamports"] // bal["cost_per_ticket_lamports"]


def test_ready_names_what_is_not_ready(stack):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg
    from devtools.local_services import free_port

    env = {**stack.env, "SOLANA_RPC_URL": f"http://127.0.0.1:{free_port()}"}
    settings = cfg.load_settings(env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as client:
        res = client.get("/ready")
    assert res.status_code == 503
    assert {"rpc", "metadata_program", "payer_funded"} <= set(res.json()["not_ready"])
    assert "postgres" not in res.json()["not_ready"] and "redis" not in res.json()["not_ready"]


def test_metrics_are_prometheus_text(api):
    text = api.get("/metrics").text
    assert "# TYPE minting_mints gauge" in text
    assert "solana_payer_balance_lamports" in text
