"""The test webhook receiver: it verifies signatures, misbehaves on demand, and its queries
report what arrived. Real HTTP on 127.0.0.1, no other services."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.support.webhook_receiver import (
    Receiver,
    forged_request,
    new_secret,
    signed_headers,
)

SECRET = new_secret()


def event(eid: str, sequence: int = 1, *, ticket: str | None = "t-1", **data) -> dict:
    if ticket is not None:
        data["ticket_id"] = ticket
    return {
        "id": eid,
        "type": "ticket.minted",
        "created_at": datetime.now(UTC).isoformat(),
        "sequence": sequence,
        "data": data,
    }


def post(url: str, body: dict, *, timeout: float = 5.0, secret: str = SECRET) -> int:
    text = json.dumps(body)
    headers = signed_headers(secret, body["id"], text)
    return httpx.post(url, content=text, headers=headers, timeout=timeout).status_code


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(SECRET) as r:
        yield r


def test_valid_events_are_accepted_and_recorded(receiver: Receiver) -> None:
    assert receiver.url == f"http://127.0.0.1:{receiver.port}/hooks"
    assert post(receiver.url, event("e1", 1)) == 200
    assert post(receiver.url, event("e2", 1, ticket=None, event_id="ev-9")) == 200

    first, second = receiver.records
    assert (first.event_id, first.type, first.sequence) == ("e1", "ticket.minted", 1)
    assert (first.subject, first.answer, first.status) == ("t-1", "ok", 200)
    assert first.body is not None and first.body["id"] == "e1"
    assert second.subject == "event:ev-9"
    assert first.received_at <= second.received_at
    assert receiver.ok_ids() == {"e1", "e2"}
    assert receiver.bad_signatures() == 0
    assert receiver.wait_for({"e1", "e2", "e3"}, timeout=0.1) == {"e3"}


def test_forged_request_is_refused(receiver: Receiver) -> None:
    status = forged_request(receiver.url, SECRET, event("e1"), event_id="e1", wrong_secret=True)
    assert status == 401
    [record] = receiver.records
    assert (record.answer, record.status, record.event_id) == ("bad_signature", 401, "e1")
    assert receiver.bad_signatures() == 1
    assert receiver.ok_ids() == set()
    assert receiver.requests_by_id() == {}


def test_late_request_is_refused_and_a_fresh_one_accepted(receiver: Receiver) -> None:
    assert forged_request(receiver.url, SECRET, event("e1"), event_id="e1", age_seconds=600) == 401
    assert forged_request(receiver.url, SECRET, event("e2"), event_id="e2") == 200
    assert [r.answer for r in receiver.records] == ["bad_signature", "ok"]


def test_id_mismatch_and_garbled_signature_are_refused(receiver: Receiver) -> None:
    text = json.dumps(event("e1"))
    headers = signed_headers(SECRET, "other", text)  # signed fine, but body id != header id
    assert httpx.post(receiver.url, content=text, headers=headers).status_code == 400
    headers["webhook-signature"] = "garbage"
    assert httpx.post(receiver.url, content=text, headers=headers).status_code == 401
    assert [r.status for r in receiver.records] == [400, 401]
    assert receiver.bad_signatures() == 2


def test_fail_rate_one_answers_500(receiver: Receiver) -> None:
    receiver.set_faults(fail_rate=1.0)
    assert post(receiver.url, event("e1")) == 500
    [record] = receiver.records
    assert (record.answer, record.status) == ("fail500", 500)
    receiver.set_faults(fail_rate=0.0)
    assert post(receiver.url, event("e1")) == 200
    assert receiver.requests_by_id() == {"e1": 2}
    assert receiver.failures_by_id() == {"e1": 1}


def test_stall_outlasts_the_client_timeout() -> None:
    with Receiver(SECRET, timeout_rate=1.0, stall=0.5) as receiver:
        with pytest.raises(httpx.TimeoutException):
            post(receiver.url, event("e1"), timeout=0.2)
        [record] = receiver.records
        assert (record.answer, record.event_id) == ("stall", "e1")
        assert receiver.failures_by_id() == {"e1": 1}
        assert receiver.ok_ids() == set()


def test_go_down_refuses_and_come_up_reuses_the_port(receiver: Receiver) -> None:
    assert post(receiver.url, event("e1")) == 200
    port = receiver.port
    receiver.go_down()
    with pytest.raises(httpx.ConnectError):
        post(receiver.url, event("e2"))
    receiver.come_up()
    assert receiver.port == port
    assert post(receiver.url, event("e2")) == 200
    assert receiver.ok_ids() == {"e1", "e2"}
    assert len(receiver.records) == 2


def test_out_of_order_is_per_subject_and_counts_first_ok_only(receiver: Receiver) -> None:
    assert post(receiver.url, event("a1", 1, ticket="A")) == 200
    assert post(receiver.url, event("b2", 2, ticket="B")) == 200
    assert post(receiver.url, event("a2", 2, ticket="A")) == 200
    assert post(receiver.url, event("b1", 1, ticket="C")) == 200  # other subject: fine
    assert post(receiver.url, event("a1", 1, ticket="A")) == 200  # a duplicate ok: ignored
    assert receiver.out_of_order() == []

    assert post(receiver.url, event("b1x", 1, ticket="B")) == 200  # B: 2 then 1
    assert receiver.out_of_order() == [("B", 2, 1)]


def test_counts_per_event_id() -> None:
    with Receiver(SECRET, fail_rate=0.5, seed=7) as receiver:
        for _ in range(20):
            post(receiver.url, event("e1"))
        post(receiver.url, event("e2"))
        requests, failures = receiver.requests_by_id(), receiver.failures_by_id()
        oks = sum(1 for r in receiver.records if r.event_id == "e1" and r.answer == "ok")
        assert requests["e1"] == 20
        assert 0 < failures["e1"] < 20
        assert requests["e1"] == failures["e1"] + oks
        assert requests["e2"] == failures.get("e2", 0) + (1 if "e2" in receiver.ok_ids() else 0)


def test_same_seed_same_faults() -> None:
    def answers(seed: int) -> list[str]:
        with Receiver(SECRET, fail_rate=0.5, timeout_rate=0.0, seed=seed) as receiver:
            for i in range(10):
                post(receiver.url, event(f"e{i}"))
            return [r.answer for r in receiver.records]

    assert answers(3) == answers(3)
