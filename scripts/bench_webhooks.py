"""Webhook delivery alone: events written through the ledger as the service writes them, delivered
by the workers to a local receiver that never fails. No transaction reaches the chain.

    .venv/bin/python scripts/bench_webhooks.py [--events 2000] [--batch 100] [--processes 2]
        [--threads 8] [--rate-limit 50] [--pace 0]

Throwaway PostgreSQL, Redis and the embedded validator (the workers want an RPC URL to start)
via devtools.stack.Stack; a :class:`tests.support.webhook_receiver.Receiver` on 127.0.0.1 as
``WEBHOOK_URL``. N ``nft_mints`` rows are added as pending intents and moved to completed with
the ledger's unit of work and the outbox publisher (one ``mint.completed`` each, its wake-up sent
after the commit), in batches, as fast as they go. Measured: events delivered per second (the
receiver's first to last "ok"), and the time from the change (``webhook_outbox.created_at``) to
the delivered attempt's end (``webhook_deliveries.finished_at``), both database clock.
``--rate-limit`` is WEBHOOK_RATE_LIMIT (requests per second to one endpoint; the service's
default is 50), the expected ceiling of the first figure. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a file: the project's packages come from its root
    sys.path.insert(0, str(ROOT))

from devtools.stack import Stack  # noqa: E402
from tests.support.webhook_receiver import Receiver, new_secret  # noqa: E402


def intent(i: int) -> dict:
    return {
        "ticket_id": f"WB-{i:06d}",
        "mint_address": f"Mint{i:06d}",
        "owner_address": f"Owner{i:06d}",
        "standard": "token2022",
        "metadata": {"name": f"Ticket {i}", "symbol": "TIX", "uri": f"https://t.example/{i}"},
        "event_id": "E-7",
        "venue_id": "V-3",
        "payload": {"ticket_id": f"WB-{i:06d}", "owner": f"Owner{i:06d}"},
    }


def write_events(stack: Stack, n: int, batch: int, pace: float = 0.0) -> float:
    """Add n intents, then complete them in batches through the unit of work with the outbox
    publisher (events in the same transaction, wake-ups after commit), at most ``pace`` events
    per second when given; seconds taken."""
    from actors.entrypoints.services import services_for
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    services = services_for(settings, chain=False)
    try:
        rows = [intent(i) for i in range(n)]
        for k in range(0, n, batch):
            with services.uow_factory() as uow:
                uow.mints.add_intents(rows[k : k + batch])
                uow.commit()
        started = time.monotonic()
        for k in range(0, n, batch):
            if pace:  # an even stream, as sales arrive, rather than all at once
                time.sleep(max(0.0, started + k / pace - time.monotonic()))
            with services.uow_factory() as uow:
                for i, row in enumerate(rows[k : k + batch], start=k):
                    moved = uow.mints.mark_completed(
                        row["ticket_id"], expected="pending", signature=f"sig{i}", slot=1000 + i
                    )
                    assert moved, row["ticket_id"]
                uow.commit()
        return time.monotonic() - started
    finally:
        services.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def ledger_figures(stack: Stack) -> dict:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        lag = [
            float(r[0])
            for r in conn.execute(
                "SELECT extract(epoch FROM d.finished_at - o.created_at)"
                " FROM webhook_deliveries d JOIN webhook_outbox o ON o.event_id = d.event_id"
                " WHERE d.outcome = 'delivered'"
            ).fetchall()
        ]
        http_ms = [
            float(r[0])
            for r in conn.execute(
                "SELECT latency_ms FROM webhook_deliveries WHERE outcome = 'delivered'"
            ).fetchall()
        ]
        span = conn.execute(
            "SELECT extract(epoch FROM max(finished_at) - min(finished_at)), count(*)"
            " FROM webhook_deliveries WHERE outcome = 'delivered'"
        ).fetchone()
        attempts = dict(
            conn.execute(
                "SELECT coalesce(outcome, 'open'), count(*) FROM webhook_deliveries GROUP BY 1"
            ).fetchall()
        )
    return {"lag": lag, "http_ms": http_ms, "span": float(span[0] or 0), "attempts": attempts}


def run(args) -> None:
    secret = new_secret()
    receiver = Receiver(secret).start()
    env = {
        "WEBHOOK_URL": receiver.url,
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
        "WEBHOOK_RATE_LIMIT": str(args.rate_limit),
        "LOG_LEVEL": "WARNING",  # one info line per attempt would cost more than the attempt
    }
    try:
        print("starting PostgreSQL, Redis, the validator and the workers ...", flush=True)
        with Stack(extra_env=env) as stack:
            stack.start_workers(processes=args.processes, threads=args.threads)
            time.sleep(3)  # the workers create the endpoint "default" as they start
            wall = time.monotonic()
            written = write_events(stack, args.events, args.batch, args.pace)
            deadline = time.monotonic() + args.timeout
            seen, progressed = 0, time.monotonic()
            while (done := len(receiver.ok_ids())) < args.events:
                now = time.monotonic()
                if done > seen:
                    seen, progressed = done, now
                if now > deadline or now - progressed > args.stalled:
                    print(
                        f"gave up: {done} of {args.events} delivered,"
                        f" none for {now - progressed:.0f}s"
                    )
                    break
                time.sleep(0.1)
            missing = args.events - len(receiver.ok_ids())
            drained = time.monotonic() - wall
            figures = ledger_figures(stack)
            stack.stop_workers()
    finally:
        receiver.stop()

    oks = [r for r in receiver.snapshot() if r.answer == "ok"]
    first, last = (oks[0].received_at, oks[-1].received_at) if oks else (0.0, 0.0)
    rate = (len(oks) - 1) / (last - first) if len(oks) > 1 and last > first else float("nan")
    lag, http_ms = figures["lag"], figures["http_ms"]
    rows = [
        ("events", f"{args.events}"),
        ("workers", f"{args.processes} processes x {args.threads} threads"),
        ("WEBHOOK_RATE_LIMIT", f"{args.rate_limit}/s"),
        ("written at", f"{args.pace:g}/s" if args.pace else "full speed"),
        ("events written (s)", f"{written:.2f} ({args.events / written:.0f}/s)"),
        (
            "all delivered after (s)",
            f"{drained:.2f}" + (f" ({missing} missing)" if missing else ""),
        ),
        ("requests received", f"{len(receiver.snapshot())} ({len(oks)} ok)"),
        ("delivered/s (receiver)", f"{rate:.1f}"),
        ("delivered/s (ledger)", f"{len(lag) / figures['span']:.1f}" if figures["span"] else "-"),
        ("change->delivered p50 (s)", f"{pct(lag, 50):.3f}" if lag else "-"),
        ("change->delivered p90 (s)", f"{pct(lag, 90):.3f}" if lag else "-"),
        ("change->delivered p99 (s)", f"{pct(lag, 99):.3f}" if lag else "-"),
        ("change->delivered max (s)", f"{max(lag):.3f}" if lag else "-"),
        ("HTTP attempt p50 (ms)", f"{statistics.median(http_ms):.1f}" if http_ms else "-"),
        ("HTTP attempt p99 (ms)", f"{pct(http_ms, 99):.1f}" if http_ms else "-"),
        (
            "attempts by outcome",
            ", ".join(f"{k} {v}" for k, v in sorted(figures["attempts"].items())),
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100, help="changes per transaction")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rate-limit", type=int, default=50, help="WEBHOOK_RATE_LIMIT")
    parser.add_argument(
        "--pace", type=float, default=0.0, help="events written per second (0: as fast as they go)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait")
    parser.add_argument(
        "--stalled", type=float, default=60.0, help="give up after this long with no delivery"
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
