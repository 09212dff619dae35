"""The adaptive send rate against a provider that answers 429 (with Retry-After) beyond 30
sends a second: the workers' shared rate comes down from a start far above it and settles
below that point, and every ticket still completes exactly once; the same with one request in
five (of every method) refused with a 429 on top."""

from __future__ import annotations

import statistics
import threading
import time

import redis

from devtools.stack import Stack
from tests.e2e.helpers import FAST, enqueue, requests_for, row
from tests.e2e.test_mint_pipeline import assert_minted_exactly_once, executed_ok

LIMIT = 30  # sends per second the validator takes before it answers 429


def run_throttled(stack: Stack, localnet, prefix: str, tickets: int, **faults) -> dict:
    """Mint ``tickets`` under ``faults``; every ticket must complete exactly once. Returns the
    rates seen in Redis and the number of 429s the validator answered."""
    items = requests_for(tickets, prefix)
    before = executed_ok(localnet)
    refused = localnet.stats()["refused"].get("http_429", 0)
    localnet.set_faults(seed=7, **faults)
    client = redis.Redis.from_url(stack.redis.url())
    seen: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.25):
            raw = client.get("minter:send-rate:rate")
            if raw is not None:
                seen.append(float(raw))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        stack.start_workers(processes=2, threads=8)
        results = enqueue(stack, items)
        statuses = stack.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
    finally:
        done.set()
        localnet.clear_faults()
    bad = {t: st for t, st in statuses.items() if st != "completed"}
    assert bad == {}, [row(stack, t) for t in list(bad)[:3]]
    time.sleep(1)
    assert executed_ok(localnet) - before == tickets  # no ticket failed, none twice
    assert_minted_exactly_once(stack, items, results)
    throttled = localnet.stats()["refused"].get("http_429", 0) - refused
    later = seen[len(seen) // 2 :]
    print(
        f"\nadaptive rate under {faults}: {throttled} requests refused (429), rate first"
        f" {seen[:4]}, second half median {statistics.median(later):.1f},"
        f" max {max(later):.1f}/s"
    )
    return {"seen": seen, "later": later, "throttled": throttled}


def test_the_rate_settles_below_the_providers_limit(postgres, redis_server, localnet):
    env = {**FAST, "MINT_SEND_RATE": "150"}  # start five times too fast
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
        out = run_throttled(s, localnet, "AR", 300, send_rps=LIMIT)
    assert out["throttled"] > 0  # it did start above the limit
    assert out["seen"][0] > LIMIT and statistics.median(out["later"]) < LIMIT


def test_a_fifth_of_requests_refused_with_429_loses_no_ticket(postgres, redis_server, localnet):
    """The 429 fault at 20 %: one request in five of any method (reads included) is refused,
    and sends beyond the limit are too; the rate still settles below the limit, reads and
    sends are retried, and no ticket fails."""
    env = {**FAST, "MINT_SEND_RATE": "150"}
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
        out = run_throttled(s, localnet, "AF", 120, send_rps=LIMIT, http_429=0.2)
    assert out["throttled"] > 0
    assert statistics.median(out["later"]) < LIMIT
