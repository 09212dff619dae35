"""The repository on a real PostgreSQL, with real concurrent connections where it matters."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import psycopg

BARRIER_TIMEOUT = 30  # a thread that dies before the barrier must not hang the others


def intent(i: int, **over) -> dict:
    row = {
        "ticket_id": f"T-{i}",
        "mint_address": f"M-{i}",
        "owner_address": f"O-{i}",
        "standard": "token2022",
        "metadata": {"name": f"Ticket {i}", "symbol": "TIX", "uri": f"https://x/{i}"},
        "event_id": "E-1",
        "venue_id": "V-1",
        "payload": {"ticket_id": f"T-{i}", "owner": f"O-{i}"},
    }
    row.update(over)
    return row


def in_threads(fn: Callable, *args) -> list[tuple[str, object]]:
    """Run fn(arg) in one thread per arg; each thread's outcome, ("returned", value) or
    ("raised", exception), for the test body to assert: an exception (or a failed assert) left
    inside a thread only makes pytest warn."""
    with ThreadPoolExecutor(len(args)) as pool:
        futures = [pool.submit(fn, a) for a in args]
    return [
        ("raised", f.exception()) if f.exception() else ("returned", f.result()) for f in futures
    ]


def returned(outcomes: list[tuple[str, object]]) -> list:
    assert [kind for kind, _ in outcomes] == ["returned"] * len(outcomes), outcomes
    return [value for _, value in outcomes]


def add(uow_factory, rows):
    with uow_factory() as uow:
        out = uow.mints.add_intents(rows)
        uow.commit()
        return [(r.ticket_id, r.owner_address, created) for r, created in out]


def test_inserting_the_same_ticket_twice_returns_the_first_row_unchanged(uow_factory):
    assert add(uow_factory, [intent(1)]) == [("T-1", "O-1", True)]
    again = add(uow_factory, [intent(1, owner_address="O-other", payload={"x": 1})])
    assert again == [("T-1", "O-1", False)]
    with uow_factory() as uow:
        row = uow.mints.get("T-1")
        assert (row.owner_address, row.payload, row.status) == (
            "O-1",
            intent(1)["payload"],
            "pending",
        )


def test_batch_of_1000_intents_in_one_call_keeps_order(uow_factory):
    add(uow_factory, [intent(i) for i in range(0, 1000, 2)])  # half exist already
    out = add(uow_factory, [intent(i) for i in range(1000)])
    assert [t for t, _, _ in out] == [f"T-{i}" for i in range(1000)]
    assert [c for _, _, c in out] == [i % 2 == 1 for i in range(1000)]
    with uow_factory() as uow:
        assert uow.mints.count_by_status() == {"pending": 1000}


def test_concurrent_inserts_of_one_ticket_make_one_row(uow_factory, migrated_db):
    barrier = threading.Barrier(2)

    def insert(owner):
        with uow_factory() as uow:
            barrier.wait(BARRIER_TIMEOUT)
            ((row, created),) = uow.mints.add_intents([intent(7, owner_address=owner)])
            uow.commit()
            return created

    created = returned(in_threads(insert, "A", "B"))
    assert sorted(created) == [False, True]
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("SELECT count(*) FROM nft_mints").fetchone()[0] == 1


def test_transition_from_the_wrong_status_changes_nothing(uow_factory):
    add(uow_factory, [intent(1)])
    with uow_factory() as uow:
        moved = uow.mints.mark_completed("T-1", expected="submitted", signature="sig")
        uow.commit()
    assert moved is False
    with uow_factory() as uow:
        row = uow.mints.get("T-1")
        assert (row.status, row.signature, row.completed_at) == ("pending", None, None)
        assert uow.mints.mark_submitted(
            "T-1", expected="pending", signature="s1", signed_tx=b"tx", last_valid_block_height=9
        )
        uow.commit()
    with uow_factory() as uow:
        row = uow.mints.get("T-1")
        assert (row.status, row.signature, row.attempts) == ("submitted", "s1", 1)
        assert not uow.mints.mark_submitted(
            "T-1", expected="pending", signature="s2", signed_tx=b"tx", last_valid_block_height=9
        )


def test_two_concurrent_claimers_never_get_the_same_row(uow_factory):
    add(uow_factory, [intent(i) for i in range(200)])
    barrier = threading.Barrier(2)

    def claimer(name):
        claimed = []
        barrier.wait(BARRIER_TIMEOUT)
        keys = [f"T-{i}" for i in range(200)]
        for start in range(0, len(keys), 7):  # both claimers walk the same keys, 7 at a time
            with uow_factory() as uow:
                rows = uow.mints.claim_pending_many(keys[start : start + 7])
                for r in rows:
                    assert uow.mints.mark_submitted(
                        r.ticket_id,
                        expected="pending",
                        signature=f"s-{r.ticket_id}",
                        signed_tx=b"x",
                        last_valid_block_height=1,
                    ), (name, r.ticket_id)
                claimed.extend(r.ticket_id for r in rows)
                uow.commit()
        return claimed

    claimed_a, claimed_b = returned(in_threads(claimer, "a", "b"))
    a, b = set(claimed_a), set(claimed_b)
    assert a.isdisjoint(b)
    assert a | b == {f"T-{i}" for i in range(200)}
    assert len(claimed_a) + len(claimed_b) == 200
    assert a and b  # both really took part


def test_claim_pending_skips_a_row_another_connection_holds(uow_factory):
    add(uow_factory, [intent(1)])
    with uow_factory() as first:
        assert first.mints.claim_pending("T-1") is not None
        with uow_factory() as second:
            assert second.mints.claim_pending("T-1") is None


def test_requeue_stale_pending_touches_only_old_rows(uow_factory, migrated_db):
    add(uow_factory, [intent(1), intent(2)])
    with psycopg.connect(migrated_db) as conn:
        conn.execute(
            "UPDATE nft_mints SET updated_at = now() - interval '1 hour' WHERE ticket_id = 'T-1'"
        )
    with uow_factory() as uow:
        ids = uow.mints.requeue_stale_pending(older_than=timedelta(minutes=5), limit=10)
        uow.commit()
    assert ids == ["T-1"]
    with uow_factory() as uow:  # touched: not stale any more
        assert uow.mints.requeue_stale_pending(older_than=timedelta(minutes=5), limit=10) == []


def test_attempts_are_recorded_once_per_signature(uow_factory):
    with uow_factory() as uow:
        uow.attempts.record("mint", "T-1", "sigA", 100)
        uow.attempts.record("mint", "T-1", "sigA", 100)
        uow.attempts.record("mint", "T-1", "sigB", 250, payer="PayerB")
        uow.attempts.set_outcome("sigA", "expired")
        uow.commit()
    with uow_factory() as uow:
        got = [(a.signature, a.outcome, a.payer) for a in uow.attempts.list_for("mint", "T-1")]
    assert got == [("sigA", "expired", None), ("sigB", None, "PayerB")]


def test_metrics_batch_is_one_insert_with_legacy_columns(uow_factory, migrated_db):
    rows = [
        {
            "metric_name": f"m{i}",
            "service_name": "minting-worker",
            "value": float(i),
            "metric_type": "gauge",
            "labels": {"standard": "token2022"},
        }
        for i in range(50)
    ]
    with uow_factory() as uow:
        assert uow.metrics.insert_batch(rows) == 50
        uow.commit()
    with psycopg.connect(migrated_db) as conn:
        got = conn.execute(
            "SELECT count(*), min(service_name), max(labels->>'standard') FROM metrics"
        ).fetchone()
    assert got == (50, "minting-worker", "token2022")


def test_pages_cover_every_row_once(uow_factory):
    add(uow_factory, [intent(i) for i in range(25)])
    with uow_factory() as uow:
        pages = list(uow.mints.iter_pages(page=10))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert len({r.ticket_id for p in pages for r in p}) == 25


def test_confirmers_claim_submitted_rows_apart_and_light(uow_factory):
    """Two confirmer passes at once never hold the same submitted row; a claim carries the
    signature, the last valid height and the age, and the signed bytes are read on demand."""
    add(uow_factory, [intent(i) for i in range(40)])
    with uow_factory() as uow:
        for i in range(30):  # ten stay pending: never claimed by a confirmer
            uow.mints.mark_submitted(
                f"T-{i}",
                expected="pending",
                signature=f"s-{i}",
                signed_tx=bytes([i]) * 3,
                last_valid_block_height=100 + i,
            )
        uow.commit()
    barrier = threading.Barrier(2)

    def confirmer(_):
        with uow_factory() as uow:
            watched = uow.mints.claim_submitted(limit=20)
            barrier.wait(BARRIER_TIMEOUT)  # both hold their locks at once
            return watched, uow.mints.signed_txs([w.key for w in watched])

    (a, a_txs), (b, b_txs) = returned(in_threads(confirmer, "a", "b"))
    keys_a, keys_b = {w.key for w in a}, {w.key for w in b}
    assert keys_a.isdisjoint(keys_b) and keys_a | keys_b == {f"T-{i}" for i in range(30)}
    for w in [*a, *b]:
        i = int(w.key.split("-")[1])
        assert (w.signature, w.last_valid_block_height) == (f"s-{i}", 100 + i)
        assert timedelta(0) <= w.age < timedelta(minutes=1)
    assert {**a_txs, **b_txs} == {f"s-{i}": bytes([i]) * 3 for i in range(30)}


def test_has_status_says_whether_any_row_is_in_it(uow_factory):
    add(uow_factory, [intent(1)])
    with uow_factory() as uow:
        assert uow.mints.has_status("pending") and not uow.mints.has_status("submitted")
        assert not uow.transfers.has_status("pending")
