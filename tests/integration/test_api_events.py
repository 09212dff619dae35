"""Events over HTTP on real PostgreSQL and Redis: registration, repeats, 409s and 422s, Core
tickets of an event, and capacity under 50 concurrent requests against ``minter api``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from solders.keypair import Keypair

from minter.keys import derive_collection_keypair
from tests.support.tokens import auth, token

EVENT = {
    "name": "Concert 2026-12-31",
    "symbol": "TIX",
    "uri": "https://t.example/event.json",
    "venue_id": "V-3",
    "seller_fee_basis_points": 250,
    "capacity": 5000,
    "transfer_policy": "transferable",
    "standard": "core",
}


def core_ticket(ticket_id: str, event_id: str, **over) -> dict:
    return {
        "ticket_id": ticket_id,
        "owner": str(Keypair().pubkey()),
        "standard": "core",
        "event_id": event_id,
        "seat": "B12",
        "metadata": {"name": "Ticket", "uri": "https://t.example/1.json"},
        **over,
    }


def rows(stack, sql: str, *args):
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(sql, args).fetchall()


def test_event_routes(api, stack):
    headers = auth(token())
    first = api.put("/v1/events/E-7", json=EVENT, headers=headers)
    assert first.status_code == 200, first.text
    body = first.json()
    secret = stack.mint_secret.encode()
    assert body["collection_address"] == str(derive_collection_keypair(secret, "E-7").pubkey())
    assert body["collection_status"] == "pending" and body["capacity"] == 5000
    assert body["tickets"] == {"pending": 0, "submitted": 0, "completed": 0, "failed": 0}
    again = api.put("/v1/events/E-7", json=EVENT, headers=headers)
    assert again.status_code == 200 and again.json() == body
    assert api.get("/v1/events/E-7", headers=headers).json() == body
    assert api.get("/v1/events/NOPE", headers=headers).status_code == 404
    assert rows(stack, "SELECT count(*) FROM nft_collections") == [(1,)]

    ticket = api.post("/v1/mints", json=core_ticket("T-1", "E-7"), headers=headers)
    assert ticket.status_code == 202, ticket.text
    (row,) = rows(stack, "SELECT standard, venue_id FROM nft_mints WHERE ticket_id = 'T-1'")
    assert row == ("core", "V-3")  # the event's standard and venue
    assert api.get("/v1/events/E-7", headers=headers).json()["tickets"]["pending"] == 1


def test_event_refusals_name_the_field(api, stack):
    headers = auth(token())
    cases = [
        ("transfer_policy", "E-1", {**EVENT, "transfer_policy": "sometimes"}),
        ("capacity", "E-1", {**EVENT, "capacity": 0}),
        ("standard", "E-1", {**EVENT, "standard": "token2022"}),
        ("colour", "E-1", {**EVENT, "colour": "red"}),
        ("event_id", "E" * 33, EVENT),
    ]
    for field, event_id, body in cases:
        res = api.put(f"/v1/events/{event_id}", json=body, headers=headers)
        assert res.status_code == 422, (field, res.text)
        assert res.json()["field"] == field
    assert rows(stack, "SELECT count(*) FROM nft_collections") == [(0,)]
    unregistered = api.post("/v1/mints", json=core_ticket("T-9", "E-404"), headers=headers)
    assert unregistered.status_code == 422 and unregistered.json()["field"] == "event_id"
    api.put("/v1/events/E-2", json=EVENT, headers=headers)
    other_venue = api.post(
        "/v1/mints", json=core_ticket("T-9", "E-2", venue_id="V-9"), headers=headers
    )
    assert other_venue.status_code == 422 and other_venue.json()["field"] == "venue_id"
    assert stack.statuses() == {}


def test_capacity_holds_under_50_concurrent_requests(stack):
    url = stack.start_api()
    headers = {"Authorization": f"Bearer {stack.token()}"}
    event = {**EVENT, "capacity": 25}
    assert httpx.put(f"{url}/v1/events/E-cap", json=event, headers=headers).status_code == 200
    for i in range(5):  # 5 seats taken: 20 left
        res = httpx.post(f"{url}/v1/mints", json=core_ticket(f"pre-{i}", "E-cap"), headers=headers)
        assert res.status_code == 202

    def ask(i: int) -> int:
        body = core_ticket(f"rush-{i}", "E-cap")
        return httpx.post(f"{url}/v1/mints", json=body, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(ask, range(50)))
    assert codes.count(202) == 20 and codes.count(409) == 30, codes
    taken = rows(stack, "SELECT count(*) FROM nft_mints WHERE event_id = 'E-cap'")
    assert taken == [(25,)]
    full = httpx.post(f"{url}/v1/mints", json=core_ticket("late", "E-cap"), headers=headers)
    assert full.status_code == 409 and full.json()["field"] == "event_id"
