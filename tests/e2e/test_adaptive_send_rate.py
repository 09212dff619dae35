"""The adaptive send rate against a provider that answers 429 (with Retry-After) beyond 30
sends a second: the workers' shared rate comes down from a start far above it and settles
below that point, and every ticket still completes exactly once."""

from __future__ import annotations

import statistics
import threading
import time

import redis

from devtools.stack import Stack
from tests.e2e.helpers import FAST, enqueue, requests_for, row
from tests.e2e.test_mint_pipeline import assert_minted_exactly_once, executed_ok

LIMIT = 30  # sends per second the validator takes before it answers 429
TICKETS = 300


def test_the_rate_settles_below_the_providers_limit(postgres, redis_server, localnet):
    env = {**FAST, "MINT_SEND_RATE": "150"}  # start five times too fast
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
        items = requests_for(TICKETS, "AR")
        before = executed_ok(localnet)
        refused = localnet.stats()["refused"].get("http_429", 0)
        localnet.set_faults(send_rps=LIMIT)
        client = redis.Redis.from_url(s.redis.url())
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
            s.start_workers(processes=2, threads=8)
            results = enqueue(s, items)
            statuses = s.wait_until_resolved([i["ticket_id"] for i in items], timeout=300)
        finally:
            done.set()
            localnet.clear_faults()
        bad = {t: st for t, st in statuses.items() if st != "completed"}
        assert bad == {}, [row(s, t) for t in list(bad)[:3]]
        time.sleep(1)
        assert executed_ok(localnet) - before == TICKETS  # no ticket failed, none twice
        assert_minted_exactly_once(s, items, results)
        throttled = localnet.stats()["refused"].get("http_429", 0) - refused
    later = seen[len(seen) // 2 :]
    print(
        f"\nadaptive rate: {throttled} sends refused (429), rate first {seen[:4]},"
        f" second half median {statistics.median(later):.1f}, max {max(later):.1f}/s"
    )
    assert throttled > 0  # it did start above the limit
    assert seen[0] > LIMIT and statistics.median(later) < LIMIT  # came down, stays below
