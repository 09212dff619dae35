"""Webhooks on a real PostgreSQL and a real receiver: the outbox written in the change's own
transaction, delivery one attempt at a time (recorded, signed, retried, ordered per ticket),
replay with the original ids, endpoints disabled after failing, and registration over HTTP
refusing URLs that reach private addresses."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import psycopg
import pytest
from fastapi.testclient import TestClient

from actors.infra.webhook_http import WebhookSender
from actors.workflows.health import Health
from actors.workflows.webhooks import delivery, endpoints
from actors.workflows.webhooks.delivery import DeliveryPolicy
from actors.workflows.webhooks.outbox import publisher
from ledger.db import make_session_factory
from ledger.errors import UnpublishedChange
from ledger.repository import CHANGES
from ledger.unit_of_work import UnitOfWork
from tests.integration.test_ledger_repository import intent
from tests.support.tokens import auth, token
from tests.support.webhook_receiver import Receiver, new_secret

MASTER = b"webhook-tests-master-key-0123456789abcdef"
FAST = DeliveryPolicy(schedule=(0.0, 0.0, 0.0), timeout=1.0)


def vet_loopback(url):
    from actors.infra.webhook_http import check_url

    return check_url(url, allow_http_loopback=True)


def register(uow_factory, url: str, events=None) -> tuple[str, str]:
    created = endpoints.register(
        url, events, uow_factory=uow_factory, vet=vet_loopback, master=MASTER
    )
    return created["id"], created["secret"]


def complete(uow_factory, ticket_id: str, *, slot: int | None = 7) -> None:
    with uow_factory() as uow:
        uow.mints.mark_completed(
            ticket_id, expected="pending", signature=f"sig-{ticket_id}", slot=slot
        )
        uow.commit()


def owed(database_url) -> list[tuple[int, str, str, int, str]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT d.id, o.event_id, o.type, o.sequence, d.status FROM webhook_dispatches d "
            "JOIN webhook_outbox o ON o.id = d.outbox_id ORDER BY d.id"
        ).fetchall()


def deliver(uow_factory, dispatch_id: int, *, policy=FAST, slot=lambda endpoint_id: True):
    sender = WebhookSender(timeout=policy.timeout, allow_http_loopback=True)
    try:
        return delivery.deliver(
            dispatch_id,
            uow_factory=uow_factory,
            sender=sender,
            secret_for=endpoints.secret_source(master=MASTER, default_secret=None),
            policy=policy,
            slot=slot,
        )
    finally:
        sender.close()


def add_ticket(uow_factory, i: int) -> str:
    with uow_factory() as uow:
        uow.mints.add_intents([intent(i)])
        uow.commit()
    return f"T-{i}"


def test_the_event_is_written_with_the_change_and_only_with_it(uow_factory, migrated_db):
    register(uow_factory, "http://127.0.0.1:9/hooks")
    ticket = add_ticket(uow_factory, 1)
    with uow_factory() as uow:  # moved, then rolled back: no change, so no event
        assert uow.mints.mark_completed(ticket, expected="pending", signature="s")
    assert owed(migrated_db) == []
    complete(uow_factory, ticket)
    ((_, event_id, type_, sequence, status),) = owed(migrated_db)
    assert (type_, sequence, status) == ("mint.completed", 1, "pending")
    with psycopg.connect(migrated_db) as conn:
        (data,) = conn.execute(
            "SELECT data FROM webhook_outbox WHERE event_id = %s", (event_id,)
        ).fetchone()
    assert data["ticket_id"] == ticket and data["status"] == "completed"
    assert (data["signature"], data["slot"], data["state"]) == (f"sig-{ticket}", 7, "minted")


def test_a_terminal_change_without_a_publisher_is_refused(ledger_engine):
    factory = make_session_factory(ledger_engine)
    with UnitOfWork(factory) as uow:
        uow.mints.add_intents([intent(2)])
        uow.commit()  # not terminal: nothing to publish
    with UnitOfWork(factory) as uow:
        uow.mints.mark_failed("T-2", expected="pending", reason="x")
        with pytest.raises(UnpublishedChange):
            uow.commit()
    with UnitOfWork(factory) as uow:
        assert uow.mints.get("T-2").status == "pending"


def test_delivery_is_signed_recorded_and_in_sequence_order(uow_factory, migrated_db):
    with Receiver(new_secret()) as r:
        endpoint_id, secret = register(uow_factory, r.url)
        r.use_secret(secret)  # the receiver verifies with the endpoint's own secret
        ticket = add_ticket(uow_factory, 3)
        complete(uow_factory, ticket)
        with uow_factory() as uow:  # a second event of the same ticket
            uow.transfers.add_intents(
                [
                    {
                        "transfer_id": "X-1",
                        "ticket_id": ticket,
                        "token_address": "M-3",
                        "from_address": "O-3",
                        "to_address": "O-4",
                        "payload": {"transfer_id": "X-1"},
                    }
                ]
            )
            uow.commit()
        with uow_factory() as uow:
            uow.transfers.mark_completed("X-1", expected="pending", signature="sig-X-1")
            uow.commit()
        (first, _, _, _, _), (second, _, type2, seq2, _) = owed(migrated_db)
        assert (type2, seq2) == ("transfer.completed", 2)
        r.set_faults(fail_rate=1.0)
        assert deliver(uow_factory, first).result == delivery.RETRY
        # the ticket's second event waits while its first is owed
        assert deliver(uow_factory, second).result == delivery.SKIPPED
        r.set_faults(fail_rate=0.0)
        done = deliver(uow_factory, first)
        assert done.result == delivery.DELIVERED and [d for d, _ in done.wake] == [second]
        assert deliver(uow_factory, second).result == delivery.DELIVERED
        assert deliver(uow_factory, second).result == delivery.SKIPPED  # delivered: never again
        assert [rec.answer for rec in r.records] == ["fail500", "ok", "ok"]
        assert [rec.sequence for rec in r.records if rec.answer == "ok"] == [1, 2]
        assert r.bad_signatures() == 0
        body = r.records[1].body
        assert set(body) == {"id", "type", "created_at", "sequence", "data"}
        with uow_factory() as uow:
            attempts = uow.webhooks.deliveries_for(body["id"])
        assert [(a.attempt, a.status_code, a.outcome) for a in attempts] == [
            (1, 500, "failed"),
            (2, 200, "delivered"),
        ]
        assert attempts[0].error.startswith("HTTP 500") and attempts[1].latency_ms > 0


def test_the_last_failure_fails_the_dispatch_and_releases_the_next(uow_factory, migrated_db):
    with Receiver(new_secret(), fail_rate=1.0) as r:
        r.use_secret(register(uow_factory, r.url)[1])
        ticket = add_ticket(uow_factory, 5)
        complete(uow_factory, ticket)
        ((dispatch, *_),) = owed(migrated_db)
        results = [deliver(uow_factory, dispatch).result for _ in range(4)]
    assert results == [delivery.RETRY, delivery.RETRY, delivery.FAILED, delivery.SKIPPED]
    assert owed(migrated_db)[0][4] == "failed"


def test_an_endpoint_failing_too_long_is_disabled(uow_factory, migrated_db):
    policy = DeliveryPolicy(schedule=(0.0, 0.0), timeout=1.0, disable_after=timedelta(0))
    register(uow_factory, "http://127.0.0.1:9/hooks")  # nothing listens there
    complete(uow_factory, add_ticket(uow_factory, 6))
    ((dispatch, *_),) = owed(migrated_db)
    deliver(uow_factory, dispatch, policy=policy)  # the first failure starts the clock
    deliver(uow_factory, dispatch, policy=policy)
    (listed,) = endpoints.list_endpoints(uow_factory=uow_factory)
    assert listed["status"] == "disabled" and listed["disabled_at"]
    ready = Health(SimpleNamespace(uow_factory=uow_factory))._webhooks()
    assert ready["disabled"] == [listed["id"]]
    assert deliver(uow_factory, dispatch, policy=policy).result == delivery.SKIPPED
    with uow_factory() as uow:
        assert uow.webhooks.oldest_undelivered() == 0.0  # disabled endpoints owe nothing


def test_replay_sends_the_same_ids_again(uow_factory, migrated_db):
    with Receiver(new_secret()) as r:
        endpoint_id, secret = register(uow_factory, r.url)
        r.use_secret(secret)
        complete(uow_factory, add_ticket(uow_factory, 7))
        ((dispatch, event_id, *_),) = owed(migrated_db)
        deliver(uow_factory, dispatch)
        since = datetime.now(UTC) - timedelta(minutes=1)
        woken = []
        n = endpoints.replay(endpoint_id, since, uow_factory=uow_factory, wake=woken.extend)
        assert n == 1 and len(woken) == 1
        assert deliver(uow_factory, woken[0][0]).result == delivery.DELIVERED
        assert [rec.event_id for rec in r.records] == [event_id, event_id]
        assert r.records[0].body == r.records[1].body  # the same event, byte for byte
        future = datetime.now(UTC) + timedelta(minutes=1)
        assert endpoints.replay(endpoint_id, future, uow_factory=uow_factory, wake=None) == 0
        assert endpoints.replay("we_nope", since, uow_factory=uow_factory, wake=None) is None


# -------------------------------------------------------------------------------------------
# over HTTP


@pytest.fixture
def admin_api(stack):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as client:
        client.headers.update(auth(token(role="admin")))
        yield client


def endpoint_rows(stack) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute("SELECT url, secret_nonce FROM webhook_endpoints").fetchall()


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.1/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://localhost/hooks",  # a name resolving to loopback, loopback not allowed
        "https://[::ffff:192.168.1.1]/hooks",
        "http://127.0.0.1:8080/hooks",  # http, loopback not allowed
    ],
)
def test_registration_refuses_private_and_loopback_addresses(admin_api, stack, url):
    answer = admin_api.post("/v1/webhooks", json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "url"
    assert endpoint_rows(stack) == []


def test_registration_refuses_what_it_does_not_know(admin_api, stack):
    answer = admin_api.post("/v1/webhooks", json={"url": "https://h.example/x", "events": ["x"]})
    assert (answer.status_code, answer.json()["field"]) == (422, "events")
    answer = admin_api.post("/v1/webhooks", json={"url": "https://h.example/x", "secret": "s"})
    assert answer.status_code == 422 and "secret" in answer.text
    assert endpoint_rows(stack) == []


def test_only_an_admin_manages_webhooks(admin_api):
    for role in ("service", "venue_admin", "scanner"):
        headers = auth(token(role=role))
        assert admin_api.get("/v1/webhooks", headers=headers).status_code == 403
        answer = admin_api.post("/v1/webhooks", json={"url": "https://x.example"}, headers=headers)
        assert answer.status_code == 403


def test_the_secret_is_shown_once_and_never_stored(stack, monkeypatch):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    env = {**stack.env, "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1"}
    settings = cfg.load_settings(env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as api:
        api.headers.update(auth(token(role="admin")))
        answer = api.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["mint.failed"]}
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["secret"].startswith("whsec_") and created["events"] == ["mint.failed"]
        listing = api.get("/v1/webhooks").json()
        assert [e["id"] for e in listing] == [created["id"]]
        assert created["secret"] not in json.dumps(listing) and "secret" not in listing[0]
        ((url, nonce),) = endpoint_rows(stack)
        assert created["secret"][6:].encode() not in bytes(nonce)
        with psycopg.connect(stack.database_url) as conn:
            dump = str(conn.execute("SELECT * FROM webhook_endpoints").fetchall())
        assert created["secret"] not in dump and created["secret"][6:] not in dump
        replay = api.post(f"/v1/webhooks/{created['id']}/replay", params={"since": "yesterday"})
        assert (replay.status_code, replay.json()["field"]) == (422, "since")
        replay = api.post(
            f"/v1/webhooks/{created['id']}/replay", params={"since": "2026-01-01T00:00:00Z"}
        )
        assert replay.status_code == 202 and replay.json()["replayed"] == 0
        assert api.delete(f"/v1/webhooks/{created['id']}").status_code == 204
        assert api.delete(f"/v1/webhooks/{created['id']}").status_code == 404
        assert api.get("/v1/webhooks").json() == []


def test_a_subjects_numbers_follow_commit_order(uow_factory):
    """The second writer of a subject waits for the first one's commit, then takes the next
    number: no gap, no duplicate, and never a later number committed first."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    first_holds = threading.Event()
    release = threading.Event()

    def first():
        with uow_factory() as uow:
            n = uow.webhooks.add_event("mint.failed", "ticket:S", {"n": 1})
            first_holds.set()
            release.wait(10)
            uow.commit()
        return n

    def second():
        first_holds.wait(10)
        with uow_factory() as uow:
            uow.webhooks.add_event("mint.failed", "ticket:S", {"n": 2})
            uow.commit()

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.submit(first), pool.submit(second)
        first_holds.wait(10)
        time.sleep(0.5)  # time enough for the second to finish, were it not held
        assert not b.done()  # waiting on the subject's counter
        release.set()
        a.result(10), b.result(10)
    with uow_factory() as uow:
        events = uow.webhooks.events_for("ticket:S")
    assert [(e.sequence, e.data["n"]) for e in events] == [(1, 1), (2, 2)]


def test_many_events_in_one_statement_are_numbered_per_subject_in_order(uow_factory):
    """A confirmer pass writes its events in one statement: each subject's numbers go on from
    its last one, consecutive, in the order given; each event is owed once to each endpoint
    subscribed to its type, and to no other."""
    minted = register(uow_factory, "http://127.0.0.1:9/a", events=["mint.completed"])[0]
    every = register(uow_factory, "http://127.0.0.1:9/b")[0]
    with uow_factory() as uow:
        uow.webhooks.add_event("mint.failed", "ticket:B", {"n": 0})
        uow.commit()
    batch = [
        ("mint.completed", "ticket:B", {"n": 1}),
        ("mint.completed", "ticket:A", {"n": 2}),
        ("transfer.completed", "ticket:B", {"n": 3}),
        ("mint.completed", "ticket:B", {"n": 4}),
    ]
    with uow_factory() as uow:
        owed = uow.webhooks.add_events(batch)
        uow.commit()
    with uow_factory() as uow:
        a, b = uow.webhooks.events_for("ticket:A"), uow.webhooks.events_for("ticket:B")
    assert [(e.sequence, e.data["n"]) for e in a] == [(1, 2)]
    assert [(e.sequence, e.type, e.data["n"]) for e in b] == [
        (1, "mint.failed", 0),
        (2, "mint.completed", 1),
        (3, "transfer.completed", 3),
        (4, "mint.completed", 4),
    ]
    with uow_factory() as uow:
        public = {e.id: e.endpoint_id for e in uow.webhooks.endpoints()}
    owed_to = sorted(public[endpoint] for _, endpoint in owed)
    assert owed_to == sorted([minted] * 3 + [every] * 4)  # 3 mint.completed, 4 events in all


def test_no_rate_slot_sends_nothing_and_spends_no_attempt(uow_factory, migrated_db):
    with Receiver(new_secret()) as r:
        r.use_secret(register(uow_factory, r.url)[1])
        complete(uow_factory, add_ticket(uow_factory, 8))
        ((dispatch, event_id, *_),) = owed(migrated_db)
        busy = deliver(uow_factory, dispatch, slot=lambda endpoint_id: False)
        assert busy.result == delivery.BUSY and r.records == []
        with uow_factory() as uow:
            assert uow.webhooks.deliveries_for(event_id) == []
        assert deliver(uow_factory, dispatch).result == delivery.DELIVERED
        with uow_factory() as uow:
            assert [a.attempt for a in uow.webhooks.deliveries_for(event_id)] == [1]


def test_an_attempt_that_outlived_its_lease_cannot_settle_the_dispatch(uow_factory, migrated_db):
    register(uow_factory, "http://127.0.0.1:9/hooks")
    complete(uow_factory, add_ticket(uow_factory, 9))
    ((dispatch, event_id, *_),) = owed(migrated_db)
    with uow_factory() as uow:  # a worker whose lease runs out at once (it hangs, say)
        first = uow.webhooks.claim(dispatch, lease=timedelta(0), max_attempts=5)
        uow.commit()
    with uow_factory() as uow:  # the sweep's wake-up: a second claim takes it over
        second = uow.webhooks.claim(dispatch, lease=timedelta(minutes=1), max_attempts=5)
        uow.commit()
    assert (first.attempt, second.attempt) == (1, 2)
    with uow_factory() as uow:
        assert [a.outcome for a in uow.webhooks.deliveries_for(event_id)] == ["interrupted", None]
        # the first worker comes back: its answer is recorded, the dispatch is not its to move
        uow.webhooks.record_attempt(
            first.delivery_id, delivered=False, status_code=500, latency=1.0, error="HTTP 500"
        )
        stale = dict(error="HTTP 500", retry_in=None, disable_after=timedelta(days=5))
        assert uow.webhooks.failed(dispatch, first.endpoint.id, attempt=1, **stale) is None
        assert not uow.webhooks.delivered(dispatch, first.endpoint.id, attempt=1)
        assert uow.webhooks.delivered(dispatch, second.endpoint.id, attempt=2)
        uow.commit()
    assert owed(migrated_db)[0][4] == "delivered"


def test_the_first_events_are_owed_to_webhook_url_before_any_sweep(ledger_engine, migrated_db):
    """A process's first terminal change writes WEBHOOK_URL's endpoint in its own transaction:
    a mint confirmed before the workers' first webhook sweep is still announced."""
    factory = make_session_factory(ledger_engine)
    url = "http://127.0.0.1:9/default"
    publish = publisher(
        mint_secret=b"m" * 40, endpoint=endpoints.default_writer(url, vet=vet_loopback)
    )
    uow_factory = lambda: UnitOfWork(factory, publish=publish)  # noqa: E731
    first, second = add_ticket(uow_factory, 41), add_ticket(uow_factory, 42)
    with uow_factory() as uow:  # rolled back: the endpoint goes with it, and is written again
        uow.mints.mark_completed(first, expected="pending", signature="s")
        publish(uow, uow.session.info.pop(CHANGES))
    complete(uow_factory, first)
    complete(uow_factory, second)
    with psycopg.connect(migrated_db) as conn:
        rows = conn.execute(
            "SELECT e.name, e.url, o.type, d.status FROM webhook_dispatches d"
            " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
            " JOIN webhook_outbox o ON o.id = d.outbox_id ORDER BY d.id"
        ).fetchall()
    assert rows == [(endpoints.DEFAULT_NAME, url, "mint.completed", "pending")] * 2


def test_a_refused_webhook_url_writes_no_endpoint(ledger_engine, migrated_db):
    factory = make_session_factory(ledger_engine)
    publish = publisher(
        mint_secret=b"m" * 40,
        endpoint=endpoints.default_writer("http://10.0.0.1/x", vet=vet_loopback),
    )
    uow_factory = lambda: UnitOfWork(factory, publish=publish)  # noqa: E731
    complete(uow_factory, add_ticket(uow_factory, 43))
    assert owed(migrated_db) == []
    with psycopg.connect(migrated_db) as conn:
        assert conn.execute("SELECT count(*) FROM webhook_endpoints").fetchone() == (0,)
