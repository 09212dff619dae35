"""The ticket lifecycle over HTTP, decided by the ledger (no program binary needed: nothing
here waits for the chain): the door's answer, duplicate scans, 50 concurrent scans of one
ticket against ``minter api``, invalidate and reissue, and the ticket's view."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
from solders.keypair import Keypair

from minter.keys import derive_version_keypair
from tests.support.tokens import auth, token

EVENT = {"name": "Concert", "uri": "https://t.example/e.json", "venue_id": "V-3"}


def core_ticket(ticket_id: str) -> dict:
    return {
        "ticket_id": ticket_id,
        "owner": str(Keypair().pubkey()),
        "standard": "core",
        "event_id": "E-1",
        "metadata": {"name": "Ticket", "uri": "https://t.example/1.json"},
    }


def operations(stack) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT operation_id, kind, status FROM ticket_operations ORDER BY id"
        ).fetchall()


def test_scan_decisions_invalidate_reissue_and_the_view(api, stack):
    service = auth(token(role="service"))
    scanner = auth(token(role="scanner", venue_id="V-3", sub="gate-scanner-1"))
    venue = auth(token(role="venue_admin", venue_id="V-3"))
    assert api.put("/v1/events/E-1", json=EVENT, headers=service).status_code == 200
    assert api.post("/v1/mints", json=core_ticket("T-1"), headers=service).status_code == 202

    first = api.post(
        "/v1/tickets/T-1/check-in", json={"operation_id": "s-1", "gate": "North"}, headers=scanner
    )
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["state"] == "checked_in" and body["gate"] == "North" and body["status"] == "pending"
    repeat = api.post(
        "/v1/tickets/T-1/check-in", json={"operation_id": "s-1", "gate": "North"}, headers=scanner
    )
    assert repeat.status_code == 200 and repeat.json() == body
    second = api.post(
        "/v1/tickets/T-1/check-in", json={"operation_id": "s-2", "gate": "South"}, headers=scanner
    )
    assert second.status_code == 409
    assert second.json()["gate"] == "North"
    assert second.json()["first_checked_in_at"] == body["checked_in_at"]
    reused = api.post(
        "/v1/tickets/T-1/check-in", json={"operation_id": "s-1", "gate": "West"}, headers=scanner
    )
    assert reused.status_code == 409 and reused.json()["field"] == "operation_id"

    void = api.post(
        "/v1/tickets/T-1/invalidate", json={"operation_id": "v-1", "reason": "fraud"}, headers=venue
    )
    assert void.status_code == 202 and void.json()["state"] == "invalidated"
    owner = str(Keypair().pubkey())
    again = api.post(
        "/v1/tickets/T-1/reissue", json={"operation_id": "r-1", "owner": owner}, headers=venue
    )
    assert again.status_code == 202 and again.json()["version"] == 2
    view = api.get("/v1/tickets/T-1", headers=scanner).json()
    secret = stack.mint_secret.encode()
    assert view["state"] == "reissued" and view["holder"] == owner
    assert view["versions"][1]["address"] == str(derive_version_keypair(secret, "T-1", 2).pubkey())
    assert [s["kind"] for s in view["history"]] == ["mint", "check_in", "invalidate", "reissue"]
    assert view["history"][1]["by"] == "gate-scanner-1" and view["history"][1]["gate"] == "North"
    row = api.get("/v1/mints/T-1", headers=service).json()
    assert (row["state"], row["version"], row["event_id"]) == ("reissued", 2, "E-1")
    assert operations(stack) == [
        ("s-1", "check_in", "pending"),
        ("v-1", "invalidate", "pending"),
        ("r-1", "reissue", "pending"),
    ]
    # bad bodies name the field; nothing recorded
    bad = api.post("/v1/tickets/T-1/check-in", json={"operation_id": "s-9"}, headers=scanner)
    assert bad.status_code == 422 and bad.json()["field"] == "gate"
    unknown = api.post(
        "/v1/tickets/NOPE/check-in", json={"operation_id": "s-9", "gate": "N"}, headers=scanner
    )
    assert unknown.status_code == 404
    assert len(operations(stack)) == 3


def test_a_metaplex_ticket_answers_409_not_supported(api, stack):
    service = auth(token(role="service"))
    item = {
        "ticket_id": "T-mpl",
        "owner": str(Keypair().pubkey()),
        "standard": "metaplex",
        "metadata": {"name": "T", "symbol": "TIX", "uri": "https://t.example/t"},
    }
    assert api.post("/v1/mints", json=item, headers=service).status_code == 202
    res = api.post(
        "/v1/tickets/T-mpl/check-in",
        json={"operation_id": "s-1", "gate": "North"},
        headers=auth(token(role="scanner")),
    )
    assert res.status_code == 409 and res.json()["field"] == "standard"
    assert "not supported for the metaplex standard; use core" in res.json()["detail"]
    assert operations(stack) == []


def test_50_concurrent_scans_admit_exactly_one(stack):
    url = stack.start_api()
    service = {"Authorization": f"Bearer {stack.token(role='service')}"}
    assert httpx.put(f"{url}/v1/events/E-1", json=EVENT, headers=service).status_code == 200
    res = httpx.post(f"{url}/v1/mints", json=core_ticket("T-door"), headers=service)
    assert res.status_code == 202
    scanner = {"Authorization": f"Bearer {stack.token(role='scanner')}"}

    def scan(i: int) -> httpx.Response:
        body = {"operation_id": f"scan-{i}", "gate": f"G{i}"}
        return httpx.post(
            f"{url}/v1/tickets/T-door/check-in", json=body, headers=scanner, timeout=30
        )

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(scan, range(50)))
    codes = [a.status_code for a in answers]
    assert codes.count(200) == 1 and codes.count(409) == 49, codes
    (admitted,) = [a.json() for a in answers if a.status_code == 200]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert all(r["gate"] == admitted["gate"] for r in refused)
    assert all(r["first_checked_in_at"] == admitted["checked_in_at"] for r in refused)
    assert len(operations(stack)) == 1
