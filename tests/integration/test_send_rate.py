"""The adaptive send rate on a real Redis: slow start, then additive increase while sends
succeed, one halving per second of 429s whoever saw them, the server's Retry-After, the
bounds; and the rate gate holding the workers to it."""

from __future__ import annotations

import time

import pytest
import redis

from actors.infra.sendrate import AdaptiveRate


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    yield c
    c.close()


def fresh(client, **kw) -> AdaptiveRate:
    opts = {"start": 20.0, "minimum": 2.0, "maximum": 100.0, "step": 5.0, **kw}
    rate = AdaptiveRate(client, **opts)
    rate._cached = None
    return rate


def read(client) -> float:
    return float(client.get("minter:send-rate:rate") or "nan")


def test_slow_start_doubles_the_rate_each_second_until_a_throttle(client):
    rate = fresh(client)
    assert rate.current() == 20.0  # nothing recorded yet: the start
    for _ in range(20):  # a second's worth at 20/s
        rate.succeeded()
    assert read(client) == 40.0


def test_after_a_throttle_a_second_of_successes_adds_a_step(client):
    rate = fresh(client, start=40.0)
    rate.throttled()
    assert read(client) == 20.0
    for _ in range(20):  # a second's worth at 20/s
        rate.succeeded()
    assert 24.0 < read(client) <= 25.01


def test_a_burst_of_429s_halves_once_and_pauses(client):
    a, b = fresh(client), fresh(client)  # two workers sharing the rate
    a.throttled(retry_after=1.0)
    b.throttled(retry_after=1.0)  # the same burst, seen by another worker: no second halving
    assert read(client) == 10.0
    assert 0.5 < b.paused_for() <= 1.0
    time.sleep(1.1)
    assert b.paused_for() == 0.0
    b._cached = None
    b.throttled()  # a later 429, a second on: halved again
    assert read(client) == 5.0


def test_the_rate_stays_between_its_bounds(client):
    rate = fresh(client, start=3.0)
    rate.throttled()
    assert read(client) == 2.0  # the floor, not 1.5
    top = fresh(client, start=99.0)
    client.set("minter:send-rate:rate", 99.9)
    for _ in range(50):
        top._cached = None
        top.succeeded()
    assert read(client) == 100.0
    assert fresh(client, start=500.0).start == 100.0  # a start above the ceiling is the ceiling


def test_the_gate_grants_a_batch_what_the_second_has_left(redis_url, client):
    """One round trip grants a batch of mints as many slots as the bucket has left, never
    more than the rate; the rest of the batch waits for the next second's bucket."""
    from uuid import uuid4

    from actors.infra.broker import RateGate, make_broker

    broker = make_broker(redis_url)
    key = f"test-sends-{uuid4().hex}"
    gate = RateGate(broker, per_second=10, key=key)
    other = RateGate(broker, per_second=10, key=key)  # another worker, the same bucket
    time.sleep(1.02 - time.time() % 1)  # early in a second: the takes below share its bucket
    with other:
        pass
    with gate.up_to(16) as first:
        pass
    with gate.up_to(3) as second:  # the second is spent: granted from the next one
        pass
    buckets = sorted(client.keys(f"{key}@*"))
    assert (first, second) == (9, 3)
    assert [int(client.get(b)) for b in buckets] == [10, 3]
