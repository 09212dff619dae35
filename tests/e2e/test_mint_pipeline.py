"""The exactly-once mint pipeline as it runs: enqueue API → Redis → worker processes → validator.

Real PostgreSQL, Redis and the embedded validator; workers are `minter worker` processes.
Each test counts what the validator executed, so "exactly once" is measured, not assumed.
"""

from __future__ import annotations

import random
import time

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from devtools.stack import Stack
from tests.e2e.helpers import FAST, enqueue, kill_workers_while_running, quiet_sends, requests_for


def executed_ok(localnet) -> int:
    return localnet.stats()["executed_ok"]


def assert_minted_exactly_once(stack: Stack, items: list[dict], results) -> None:
    """On chain: every owner holds 1 of its mint, supply 1, metadata as asked; ledger agrees."""
    from solana.rpc.api import Client

    from minter.nft import parse_mint_request, verify_minted

    client = Client(stack.rpc_url)
    bad = []
    for item, res in zip(items, results, strict=True):
        req = parse_mint_request(item, default_standard="token2022")
        v = verify_minted(client, req, Pubkey.from_string(res.mint_address))
        if not v.ok:
            bad.append((item["ticket_id"], v.reasons))
    assert bad == []
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        landed = conn.execute(
            "SELECT ref_id, count(*) FROM nft_attempts WHERE kind = 'mint' AND outcome = 'landed'"
            " GROUP BY ref_id"
        ).fetchall()
        unexplained = conn.execute(
            "SELECT count(*) FROM nft_attempts WHERE kind = 'mint' AND outcome IS NULL"
        ).fetchone()[0]
        mismatched = conn.execute(
            "SELECT count(*) FROM nft_mints m WHERE m.status = 'completed' AND NOT EXISTS ("
            " SELECT 1 FROM nft_attempts a WHERE a.signature = m.signature"
            " AND a.outcome = 'landed')"
        ).fetchone()[0]
    assert dict(landed) == {i["ticket_id"]: 1 for i in items}
    assert unexplained == 0
    assert mismatched == 0


@pytest.mark.slow
def test_500_tickets_then_repeat_sends_nothing(stack, localnet):
    items = requests_for(500, "P500")
    before = executed_ok(localnet)
    simulated = localnet.stats()["requests"].get("simulateTransaction", 0)
    stack.start_workers(processes=2, threads=8)
    results = enqueue(stack, items)
    assert all(r.created for r in results)
    statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    time.sleep(1)
    assert executed_ok(localnet) - before == 500  # each mint ran once
    # simulated once per transaction shape and worker process (threads may race to the first
    # of a shape), never once per mint
    simulations = localnet.stats()["requests"].get("simulateTransaction", 0) - simulated
    assert simulations <= 2 * 8 * 2, simulations
    assert_minted_exactly_once(stack, items, results)

    sends_before = quiet_sends(localnet)
    again = enqueue(stack, items)
    time.sleep(3)  # give workers the chance to (wrongly) send anything
    assert localnet.stats()["send_requests"] == sends_before
    assert [r.mint_address for r in again] == [r.mint_address for r in results]
    assert not any(r.created for r in again) and not any(r.conflict for r in again)

    changed = dict(items[0], owner=str(Keypair().pubkey()))
    (conflict,) = enqueue(stack, [changed])
    assert conflict.conflict and conflict.status == "completed"


@pytest.mark.slow
def test_faults_every_ticket_once(stack, localnet):
    items = requests_for(150, "FLT")
    localnet.set_faults(drop_response=0.3, blockhash_not_found=0.1, http_429=0.05, seed=7)
    before = executed_ok(localnet)
    try:
        stack.start_workers(processes=2, threads=8)
        results = enqueue(stack, items)
        statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    finally:
        localnet.clear_faults()
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert executed_ok(localnet) - before == 150
    assert_minted_exactly_once(stack, items, results)


@pytest.mark.slow
def test_sigkill_workers_at_random_moments(stack, localnet):
    items = requests_for(300, "KILL")
    before = executed_ok(localnet)
    rng = random.Random(11)
    stack.start_workers(processes=2, threads=8)
    results = enqueue(stack, items)
    ids = [i["ticket_id"] for i in items]
    outstanding = kill_workers_while_running(stack, ids, kills=3, rng=rng)
    assert outstanding[0] > 0, "the first kill came after the run had finished"
    statuses = stack.wait_until_resolved(ids, timeout=300)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert executed_ok(localnet) - before == 300
    assert_minted_exactly_once(stack, items, results)


@pytest.mark.slow
def test_redis_flushed_mid_run(stack, localnet):
    import redis

    items = requests_for(150, "FLUSH")
    stack.start_workers(processes=1, threads=8)
    results = enqueue(stack, items)
    time.sleep(0.5)
    redis.Redis.from_url(stack.redis.url()).flushall()
    assert "pending" in stack.statuses().values(), "the flush came after the run had finished"
    statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert_minted_exactly_once(stack, items, results)


@pytest.mark.slow
def test_postgres_restarted_mid_run(stack, localnet):
    items = requests_for(150, "PGR")
    stack.start_workers(processes=1, threads=8)
    results = enqueue(stack, items)
    time.sleep(0.5)
    unfinished = [v for v in stack.statuses().values() if v != "completed"]
    assert unfinished, "the restart came after the run had finished"
    stack.postgres.restart(down_seconds=2)
    statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert_minted_exactly_once(stack, items, results)


VALID = {
    "ticket_id": "BAD-0",
    "owner": str(Keypair().pubkey()),
    "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/0"},
}
INVALID = [
    ("owner", {"owner": "not-base58!"}),
    ("owner", {"owner": "3yZe7d"}),
    ("name", {"metadata": {**VALID["metadata"], "name": "é" * 17}}),
    ("symbol", {"metadata": {**VALID["metadata"], "symbol": "S" * 11}}),
    ("uri", {"metadata": {**VALID["metadata"], "uri": "u" * 201}}),
    (
        "seller_fee_basis_points",
        {"metadata": {**VALID["metadata"], "seller_fee_basis_points": 10001}},
    ),
    ("ticket_id", {"ticket_id": ""}),
    ("ticket_id", {"ticket_id": "T" * 129}),
    ("standard", {"standard": "erc721"}),
]


@pytest.mark.parametrize(
    "field,change", INVALID, ids=[f"{f}-{i}" for i, (f, _) in enumerate(INVALID)]
)
def test_invalid_input_is_refused_before_anything(stack, localnet, field, change):
    from minter.errors import ValidationError

    sends = localnet.stats()["send_requests"]
    with pytest.raises(ValidationError) as err:
        enqueue(stack, [{**VALID, **change}])
    assert field in err.value.field
    assert stack.statuses() == {}
    assert localnet.stats()["send_requests"] == sends


def test_enqueue_command_names_the_field(stack):
    res = stack.minter(
        "enqueue",
        "--ticket-id",
        "C-1",
        "--owner",
        "nope",
        "--name",
        "N",
        "--symbol",
        "S",
        "--uri",
        "https://t.example/1",
        check=False,
    )
    assert res.returncode == 2
    assert "owner" in res.stderr and res.stderr.count("\n") == 1
    assert stack.statuses() == {}


@pytest.mark.slow
def test_rpc_unreachable_leaves_rows_pending_then_finishes(postgres, redis_url, redis_server):
    from devtools.local_services import free_port
    from minter.localnet.process import LocalnetProcess

    port = free_port()
    dead_url = f"http://127.0.0.1:{port}"
    stack = Stack(postgres=postgres, redis=redis_server, rpc_url=dead_url, extra_env=FAST)
    stack.start(fund=False)
    try:
        items = requests_for(20, "DOWN")
        stack.start_workers(processes=1, threads=4)
        results = enqueue(stack, items)
        time.sleep(8)
        assert set(stack.statuses().values()) <= {"pending", "submitted"}
        # its own ws port: port + 1 may be a client's ephemeral port by now
        with LocalnetProcess(port=port, ws_port=free_port()):
            stack.fund(stack.payer.pubkey(), 100 * 10**9)
            statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=180)
            assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
            assert_minted_exactly_once(stack, items, results)
    finally:
        stack.stop()
