"""Core tickets through the whole pipeline: events registered, one collection each, tickets
minted into them by `minter worker` processes, exactly once, under faults and SIGKILL.

Needs the Metaplex Core program binary (``MPL_CORE_SO``); skipped without it.
"""

from __future__ import annotations

import os
import random
import time

import psycopg
import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from devtools.stack import Stack
from tests.e2e.helpers import enqueue, kill_workers_while_running, quiet_sends

pytestmark = pytest.mark.skipif(
    not os.environ.get("MPL_CORE_SO"),
    reason="MPL_CORE_SO not set: the Metaplex Core program binary is not on this machine",
)

POLICIES = ("transferable", "locked_until_checkin", "non_transferable")


def put_events(stack: Stack, prefix: str) -> list[str]:
    """Three events, one per transfer policy; the first through `minter event put`."""
    ids = [f"{prefix}-{i}" for i in range(3)]
    for event_id, policy in zip(ids, POLICIES, strict=True):
        stack.minter(
            "event", "put", event_id,
            "--name", f"Concert {event_id}",
            "--uri", f"https://t.example/{event_id}.json",
            "--venue-id", "V-3",
            "--seller-fee-basis-points", "250",
            "--capacity", "1000",
            "--transfer-policy", policy,
            "--standard", "core",
        )  # fmt: skip
    return ids


def tickets(prefix: str, events: list[str], n: int) -> list[dict]:
    return [
        {
            "ticket_id": f"{prefix}-{i:05d}",
            "owner": str(Keypair().pubkey()),
            "event_id": events[i % len(events)],
            "seat": f"R{i // 20}-S{i % 20}",
            "attributes": {"tier": "VIP" if i % 7 == 0 else "GA"},
            "metadata": {"name": f"Ticket {i}", "uri": f"https://t.example/{i}.json"},
        }
        for i in range(n)
    ]


def collections(stack: Stack) -> dict[str, tuple[str, str]]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT event_id, collection_address, status, transfer_policy FROM nft_collections"
        ).fetchall()
    return {e: (address, status, policy) for e, address, status, policy in rows}


def assert_core_tickets_exactly_once(stack: Stack, items: list[dict], results) -> None:
    """On chain: each asset owned by its buyer, in its event's collection, with its attributes
    and the policy's freeze; one landed attempt per ticket and per collection."""
    from minter.nft.core_plugins import PluginType
    from minter.nft.decode_core import decode_core_asset, decode_core_collection

    client = Client(stack.rpc_url)
    events = collections(stack)
    policies = {address: policy for address, _, policy in events.values()}
    keys = [Pubkey.from_string(r.mint_address) for r in results]
    accounts = []
    for i in range(0, len(keys), 100):
        accounts += client.get_multiple_accounts(keys[i : i + 100]).value
    bad = []
    for item, account in zip(items, accounts, strict=True):
        address, status, policy = events[item["event_id"]]
        asset = decode_core_asset(bytes(account.data))
        want = [
            ("event_id", item["event_id"]),
            ("venue_id", "V-3"),
            ("seat", item["seat"]),
            *item["attributes"].items(),
        ]
        got = (str(asset.owner), str(asset.collection), list(asset.attributes), asset.frozen)
        expected = (item["owner"], address, want, policy != "transferable")
        if got != expected:
            bad.append((item["ticket_id"], got, expected))
    assert bad == []
    for address, status, _ in events.values():
        assert status == "completed"
        state = decode_core_collection(
            bytes(client.get_account_info(Pubkey.from_string(address)).value.data)
        )
        per_event = sum(1 for i in items if events[i["event_id"]][0] == address)
        assert state.current_size == per_event and state.num_minted == per_event
        attributes = dict(state.plugin(PluginType.ATTRIBUTES).attributes)
        assert attributes == {
            "capacity": "1000",
            "transfer_policy": policies[address],
            "venue_id": "V-3",
        }
    with psycopg.connect(stack.database_url) as conn:
        landed = dict(
            conn.execute(
                "SELECT kind || ':' || ref_id, count(*) FROM nft_attempts"
                " WHERE outcome = 'landed' GROUP BY kind, ref_id"
            ).fetchall()
        )
        unexplained = conn.execute(
            "SELECT count(*) FROM nft_attempts WHERE outcome IS NULL"
        ).fetchone()[0]
    want = {f"mint:{i['ticket_id']}": 1 for i in items} | {f"collection:{e}": 1 for e in events}
    assert landed == want
    assert unexplained == 0
    # the webhook outbox: one event per collection and per ticket, each first of its subject
    with psycopg.connect(stack.database_url) as conn:
        outbox = conn.execute("SELECT type, subject, sequence, data FROM webhook_outbox").fetchall()
    told = {(t, subject, n) for t, subject, n, _ in outbox}
    assert told == {("collection.completed", f"event:{e}", 1) for e in events} | {
        ("mint.completed", f"ticket:{i['ticket_id']}", 1) for i in items
    }
    for t, _, _, data in outbox:
        if t == "collection.completed":
            assert data["collection_address"] == events[data["event_id"]][0]
            assert data["collection_status"] == "completed" and data["signature"]


def executed_ok(localnet) -> int:
    return localnet.stats()["executed_ok"]


@pytest.mark.slow
def test_300_core_tickets_over_3_events_then_repeat_sends_nothing(stack, localnet):
    events = put_events(stack, "EV")
    items = tickets("CORE", events, 300)
    before = executed_ok(localnet)
    stack.start_workers(processes=2, threads=8)
    results = enqueue(stack, items)
    assert all(r.created for r in results)
    statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    time.sleep(1)
    assert executed_ok(localnet) - before == 300 + 3  # one transaction per ticket and event
    assert_core_tickets_exactly_once(stack, items, results)

    sends = quiet_sends(localnet)
    again = enqueue(stack, items)
    put_events(stack, "EV")  # the events again: 200, nothing new
    time.sleep(3)
    assert localnet.stats()["send_requests"] == sends
    assert not any(r.created or r.conflict for r in again)


@pytest.mark.slow
def test_core_faults_and_sigkill_every_ticket_and_collection_once(stack, localnet):
    events = put_events(stack, "EVF")
    items = tickets("COREF", events, 150)
    before = executed_ok(localnet)
    rng = random.Random(5)
    localnet.set_faults(drop_response=0.3, blockhash_not_found=0.1, seed=3)
    try:
        stack.start_workers(processes=2, threads=8)
        results = enqueue(stack, items)
        ids = [i["ticket_id"] for i in items]
        outstanding = kill_workers_while_running(stack, ids, kills=2, rng=rng)
        assert outstanding[0] > 0, "the first kill came after the run had finished"
        statuses = stack.wait_until_resolved(ids, timeout=300)
    finally:
        localnet.clear_faults()
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert executed_ok(localnet) - before == 150 + 3
    assert_core_tickets_exactly_once(stack, items, results)
