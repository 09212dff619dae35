"""The door's answer: how fast `POST /v1/tickets/{id}/check-in` decides, from the ledger.

    .venv/bin/python -m scripts.bench_scan [--scans 1000] [--concurrency 1]

Starts the whole service on this machine (throwaway PostgreSQL and Redis, the embedded validator,
``minter api``; no workers, so nothing waits for the chain), registers an event, records that
many Core tickets, then scans each once (admitted) and once more (the duplicate's 409 naming the
first scan), timing each request at the client. Prints p50, p99 and max per kind and the
requests per second; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from solders.keypair import Keypair

from devtools.stack import Stack

EVENT = {"name": "Bench concert", "uri": "https://t.example/e.json", "venue_id": "V-3"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scans", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    with Stack(standard="core") as stack:
        url = stack.start_api()
        service = {"Authorization": f"Bearer {stack.token(role='service')}"}
        scanner = {"Authorization": f"Bearer {stack.token(role='scanner')}"}
        with httpx.Client(base_url=url, timeout=30) as api:
            api.put("/v1/events/E-bench", json=EVENT, headers=service).raise_for_status()
            for i in range(args.scans):
                body = {
                    "ticket_id": f"B-{i:05d}",
                    "owner": str(Keypair().pubkey()),
                    "event_id": "E-bench",
                    "metadata": {"name": f"Ticket {i}", "uri": f"https://t.example/{i}"},
                }
                api.post("/v1/mints", json=body, headers=service).raise_for_status()

        figures = {}
        with httpx.Client(base_url=url, timeout=30) as local:

            def scan(i: int, attempt: str) -> tuple[int, float]:
                body = {"operation_id": f"{attempt}-{i}", "gate": "North"}
                started = time.perf_counter()
                res = local.post(f"/v1/tickets/B-{i:05d}/check-in", json=body, headers=scanner)
                return res.status_code, time.perf_counter() - started

            for attempt in ("first", "again"):
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
                    done = list(pool.map(lambda i, a=attempt: scan(i, a), range(args.scans)))
                figures[attempt] = (done, time.perf_counter() - started)
    for attempt, (done, seconds) in figures.items():
        ms = [d * 1000 for _, d in done]
        codes = statistics.multimode([c for c, _ in done])
        print(
            f"{attempt} scans: {len(done)} (status {codes}), {len(done) / seconds:,.0f}/s, "
            f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"max {max(ms):.1f} ms (concurrency {args.concurrency})"
        )


if __name__ == "__main__":
    main()
