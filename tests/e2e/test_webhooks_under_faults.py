"""Webhooks under faults: 300 mints and 50 claims while the endpoint answers 500s and stalls past
the sender's timeout, goes down for 20 s, the workers are SIGKILLed twice and Redis is flushed.

Every event of the outbox reaches the endpoint at least once, signed; each id is sent once more
than it failed, plus at most one per attempt the ledger marks ``interrupted``; the ledger says
delivered exactly once; a ticket's events arrive in sequence order; and the endpoint's secret
never reaches a log or /metrics.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest
import redis
from solders.keypair import Keypair

from devtools.stack import Stack
from tests.e2e.helpers import FAST, claim, enqueue, requests_for, wait_transfers
from tests.support.webhook_receiver import Receiver, forged_request, new_secret

MINTS, TRANSFERS = 300, 50
TIMEOUT, STALL = 2, 4.0  # seconds: a stall is answered after the sender has given up
SCHEDULE = "0,1,2,3,5,8,13,21,21,21"  # 95 s of retries: a 20 s outage, kills and bad luck
DOWN_SECONDS = 20.0


def _secret_forms(secret: str) -> set[str]:
    """The secret as it could leak: whole, its base64 part, and its key bytes in common texts."""
    import based58

    encoded = secret.removeprefix("whsec_")
    key = base64.b64decode(encoded)
    return {
        secret,
        encoded,
        base64.urlsafe_b64encode(key).decode(),
        key.hex(),
        based58.b58encode(key).decode(),
        json.dumps(list(key)),
        json.dumps(list(key), separators=(",", ":")),
    }


def _ledger(stack: Stack):
    with psycopg.connect(stack.database_url) as conn:
        outbox = conn.execute(
            "SELECT event_id, type, subject, sequence FROM webhook_outbox"
        ).fetchall()
        dispatches = dict(
            conn.execute(
                "SELECT o.event_id, d.status FROM webhook_dispatches d"
                " JOIN webhook_outbox o ON o.id = d.outbox_id"
            ).fetchall()
        )
        outcomes = conn.execute(
            "SELECT event_id, coalesce(outcome, 'open'), count(*) FROM webhook_deliveries"
            " GROUP BY 1, 2"
        ).fetchall()
        attempts = conn.execute(
            "SELECT event_id, attempt, outcome, status_code, latency_ms, error"
            " FROM webhook_deliveries ORDER BY id"
        ).fetchall()
    by_outcome: dict[str, Counter] = {}
    for event_id, outcome, n in outcomes:
        by_outcome.setdefault(outcome, Counter())[event_id] = n
    return outbox, dispatches, by_outcome, attempts


def _why_missing(database_url: str, event_ids: list[str]) -> list[tuple]:
    """What the ledger says of events the endpoint never acknowledged: the dispatch's state (None
    if the event was owed to no endpoint) and every attempt (a failure in CI tells its story)."""
    with psycopg.connect(database_url) as conn:
        dispatches = conn.execute(
            "SELECT o.event_id, o.type, d.status, d.attempts, d.last_error,"
            " d.next_attempt_at - now(), d.lease_until - now(), now() - o.created_at"
            " FROM webhook_outbox o LEFT JOIN webhook_dispatches d ON d.outbox_id = o.id"
            " WHERE o.event_id = ANY(%s) ORDER BY o.event_id",
            (event_ids,),
        ).fetchall()
        attempts = conn.execute(
            "SELECT event_id, attempt, outcome, status_code, error, now() - started_at"
            " FROM webhook_deliveries WHERE event_id = ANY(%s) ORDER BY event_id, attempt",
            (event_ids,),
        ).fetchall()
    return [(d, [a[1:] for a in attempts if a[0] == d[0]]) for d in dispatches]


def _pending_dispatches(stack: Stack) -> int:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM webhook_dispatches WHERE status = 'pending'"
        ).fetchone()[0]


def _wait_all_delivered(stack: Stack, receiver: Receiver, *, expected: int, timeout: float):
    """Until the outbox holds ``expected`` events and the receiver has an "ok" for each."""
    deadline = time.monotonic() + timeout
    while True:
        outbox = _ledger(stack)[0]
        ids = {r[0] for r in outbox}
        missing = ids - receiver.ok_ids()
        if (len(ids) >= expected and not missing) or time.monotonic() > deadline:
            return ids, missing
        time.sleep(0.5)


@pytest.mark.slow
def test_every_event_delivered_through_outage_kills_and_flush(postgres, redis_server, localnet):
    started = time.monotonic()
    secret = new_secret()
    receiver = Receiver(secret, fail_rate=0.10, timeout_rate=0.05, stall=STALL, seed=17).start()
    env = {
        **FAST,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",  # the most a log could say, for the secret scan
        "WEBHOOK_URL": receiver.url,
        "WEBHOOK_SECRET": secret,
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
        "WEBHOOK_TIMEOUT": str(TIMEOUT),
        "WEBHOOK_RETRY_SCHEDULE": SCHEDULE,
    }
    chaos_log: list[str] = []
    chaos_errors: list[BaseException] = []
    try:
        with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
            s.start_workers(processes=2, threads=8)
            custody = str(s.payer.pubkey())
            items = requests_for(TRANSFERS, "WHC", owners=[custody] * TRANSFERS)
            items += requests_for(MINTS - TRANSFERS, "WHM")
            tickets = [i["ticket_id"] for i in items]

            def restart_workers(why: str) -> None:
                s.stop_workers(sig=signal.SIGKILL)
                s.start_workers(processes=2, threads=8)
                chaos_log.append(f"{time.monotonic() - started:6.1f}s SIGKILL workers ({why})")

            def chaos() -> None:
                try:
                    time.sleep(3.0)
                    restart_workers("receiver up: some requests are in flight")
                    time.sleep(2.0)
                    receiver.go_down()
                    chaos_log.append(f"{time.monotonic() - started:6.1f}s receiver down")
                    time.sleep(6.0)
                    owed = _pending_dispatches(s)
                    redis.Redis.from_url(s.redis.url()).flushall()
                    chaos_log.append(
                        f"{time.monotonic() - started:6.1f}s FLUSHALL with {owed} dispatches owed"
                    )
                    assert owed > 0, "the flush came when nothing was owed"
                    time.sleep(6.0)
                    restart_workers("receiver down")
                    time.sleep(DOWN_SECONDS - 12.0)
                    receiver.come_up()
                    chaos_log.append(f"{time.monotonic() - started:6.1f}s receiver up")
                except BaseException as exc:  # reported by the main thread
                    chaos_errors.append(exc)

            enqueue(s, items)
            thread = threading.Thread(target=chaos, name="webhook-chaos", daemon=True)
            thread.start()

            custody_tickets = tickets[:TRANSFERS]
            assert set(s.wait_until_resolved(custody_tickets, timeout=240).values()) == {
                "completed"
            }, s.worker_logs()[-3000:]
            transfers = [f"WHX-{t}" for t in custody_tickets]
            buyers = [str(Keypair().pubkey()) for _ in custody_tickets]
            claim(s, list(zip(transfers, custody_tickets, buyers, strict=True)))

            assert set(s.wait_until_resolved(tickets, timeout=240).values()) == {"completed"}
            assert set(wait_transfers(s, transfers, timeout=240).values()) == {"completed"}
            thread.join(timeout=120)
            assert not thread.is_alive() and not chaos_errors, chaos_errors

            ids, missing = _wait_all_delivered(s, receiver, expected=MINTS + TRANSFERS, timeout=150)
            why = _why_missing(s.database_url, sorted(missing)[:20]) if missing else []
            time.sleep(2.5)  # a late duplicate would show now; and two metric intervals pass
            exposition = httpx.get(f"http://127.0.0.1:{s.metrics_port}/", timeout=10).text
            outbox, dispatches, by_outcome, attempts = _ledger(s)
            s.stop_workers()
            logs = s.worker_logs()
            files = b"".join(p.read_bytes() for p in s.workdir.rglob("*") if p.is_file())

        # the headers machinery: forgeries refused, a correctly signed fresh request accepted
        receiver.set_faults(fail_rate=0.0, timeout_rate=0.0)
        probe = {"type": "test.probe", "created_at": "2024-01-01T00:00:00Z", "data": {}}
        assert (
            forged_request(receiver.url, secret, probe, event_id="evt_forged_1", wrong_secret=True)
            == 401
        )
        assert (
            forged_request(receiver.url, secret, probe, event_id="evt_forged_2", age_seconds=600)
            == 401
        )
        good = forged_request(receiver.url, secret, probe, event_id="evt_probe_ok")
        assert 200 <= good < 300
    finally:
        receiver.stop()

    elapsed = time.monotonic() - started
    requests = receiver.requests_by_id()
    failures = receiver.failures_by_id()
    interrupted = by_outcome.get("interrupted", Counter())
    delivered_rows = by_outcome.get("delivered", Counter())
    types = Counter(t for _, t, _, _ in outbox)
    print(
        f"\nwebhooks under faults: {len(outbox)} events, {sum(requests.values())} requests,"
        f" {sum(failures.values())} deliberate failures,"
        f" {sum(interrupted.values())} interrupted attempts,"
        f" {sum(by_outcome.get('failed', Counter()).values())} failed attempts in the ledger,"
        f" at most {max(sum((c for c in by_outcome.values()), Counter()).values())} attempts"
        " of one event,"
        f" wall {elapsed:.1f}s"
    )
    print("\n".join(chaos_log))

    # every event at least once: one mint.completed per ticket, one transfer.completed per claim
    assert missing == set(), (chaos_log, why)
    assert {r[0] for r in outbox} == ids
    assert types == {"mint.completed": MINTS, "transfer.completed": TRANSFERS}
    per_subject = Counter((t, subj) for _, t, subj, _ in outbox)
    assert {subj for (_, subj) in per_subject} == {f"ticket:{t}" for t in tickets}
    assert set(per_subject.values()) == {1}
    assert ids <= receiver.ok_ids()
    assert set(requests) == ids | {"evt_probe_ok"}  # nothing the outbox does not hold

    # sent once more than it failed, plus at most one per interrupted attempt
    too_few = {
        i: (requests.get(i, 0), failures.get(i, 0))
        for i in ids
        if requests.get(i, 0) < failures.get(i, 0) + 1
    }
    too_many = {
        i: (requests[i], failures.get(i, 0), interrupted[i])
        for i in ids
        if requests[i] > failures.get(i, 0) + 1 + interrupted[i]
    }
    explain = [a for a in attempts if a[0] in too_few or a[0] in too_many]
    assert too_few == {} and too_many == {}, (too_few, too_many, explain[:40])

    # the ledger agrees: delivered exactly once, nothing left open
    assert {i: delivered_rows[i] for i in ids if delivered_rows[i] != 1} == {}
    assert set(dispatches) == ids and set(dispatches.values()) == {"delivered"}
    assert "open" not in by_outcome, dict(by_outcome["open"])

    # a ticket's events in sequence order: the mint's before the claim's
    assert receiver.out_of_order() == []
    first_ok: dict[str, float] = {}
    for r in receiver.snapshot():
        if r.answer == "ok" and r.event_id and r.event_id not in first_ok:
            first_ok[r.event_id] = r.received_at
    seq = {(subj, t): (sq, eid) for eid, t, subj, sq in outbox}
    for ticket in custody_tickets:
        mint_seq, mint_id = seq[(f"ticket:{ticket}", "mint.completed")]
        move_seq, move_id = seq[(f"ticket:{ticket}", "transfer.completed")]
        assert mint_seq < move_seq and first_ok[mint_id] < first_ok[move_id], ticket

    # only the two forgeries failed verification: the service's own requests always verify
    # (a request cut short by a SIGKILL is incomplete, not unverified: its attempt is one the
    # ledger marks interrupted)
    assert receiver.bad_signatures() == 2
    assert receiver.incomplete() <= sum(interrupted.values())

    # the secret in no log, no file of the stack, no /metrics
    assert logs.count("\n") > 1000 and "webhook_attempt" in logs  # there is something to search
    assert "webhook" in exposition
    forms = _secret_forms(secret)
    leaked = [f[:10] for f in forms if f in logs or f in exposition or f.encode() in files]
    assert leaked == []
