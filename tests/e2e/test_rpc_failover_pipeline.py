"""Workers over two RPC endpoints (SOLANA_RPC_URLS), proxies in front of one validator, one of
them dropping every response: every ticket completes exactly once, and the workers' metrics
show that endpoint demoted."""

from __future__ import annotations

import re
import time

import httpx

from devtools.stack import Stack
from tests.e2e.helpers import FAST, enqueue, requests_for
from tests.e2e.test_mint_pipeline import assert_minted_exactly_once, executed_ok
from tests.support.rpc_proxy import RpcProxy


def test_one_endpoint_dropping_every_response(postgres, redis_server, localnet):
    failing, good = RpcProxy(localnet.url).start(), RpcProxy(localnet.url).start()
    failing.set(drop_response=1.0)  # it runs every request and answers none
    env = {**FAST, "SOLANA_RPC_URLS": f"{failing.url},{good.url}", "SOLANA_RPC_TIMEOUT": "2"}
    try:
        with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
            items = requests_for(60, "FO")
            before = executed_ok(localnet)
            s.start_workers(processes=2, threads=4)
            results = enqueue(s, items)
            statuses = s.wait_until_resolved([i["ticket_id"] for i in items], timeout=240)
            assert set(statuses.values()) == {"completed"}, s.worker_logs()[-3000:]
            time.sleep(1)
            assert executed_ok(localnet) - before == 60  # each mint ran once, sent to both
            assert_minted_exactly_once(s, items, results)
            exposition = httpx.get(f"http://127.0.0.1:{s.metrics_port}/", timeout=10).text
    finally:
        failing.stop()
        good.stop()
    port = failing.url.rsplit(":", 1)[1]
    label = re.escape(f'solana_rpc_endpoint_healthy{{endpoint="0:127.0.0.1:{port}"}}')
    demoted = re.findall(label + r" (\S+)", exposition)
    assert demoted and float(demoted[0]) == 0.0, exposition[-2000:]
    assert sum(failing.counts.values()) > 0  # tried, found failing, demoted (probed since)
    assert good.counts["sendTransaction"] >= 60 and good.counts["getSignatureStatuses"] > 0
