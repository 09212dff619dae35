"""The broker on a real Redis and a real Dramatiq worker: a message sent after a quiet spell is
picked up within the idle poll, not after Dramatiq's backoff of up to a second."""

from __future__ import annotations

import statistics
import threading
import time

import dramatiq
from dramatiq import Worker

from actors.infra.broker import DEFAULT_IDLE_POLL, make_broker

QUIET = 2.5  # seconds: long enough for an idle consumer to back off to its longest sleep
QUEUES = [f"idle-probe-{i}" for i in range(5)]  # each consumer backs off on its own


def test_a_message_after_a_quiet_spell_is_picked_up_within_the_idle_poll(redis_url):
    broker = make_broker(redis_url)
    picked: list[float] = []
    lock = threading.Lock()

    def probe(sent_at: float) -> None:
        with lock:
            picked.append(time.time() - sent_at)

    actors = [
        dramatiq.actor(probe, broker=broker, actor_name=f"probe_{q}", queue_name=q, max_retries=0)
        for q in QUEUES
    ]
    worker = Worker(broker, queues=QUEUES, worker_threads=len(QUEUES))
    worker.start()
    try:
        for _ in range(2):
            time.sleep(QUIET)
            want = len(picked) + len(actors)
            for actor in actors:
                actor.send(time.time())
            deadline = time.monotonic() + 10
            while len(picked) < want and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        worker.stop()
        broker.close()
    assert len(picked) == 2 * len(QUEUES)
    # Dramatiq's own consumers sleep 0.5–1 s each by then: a pick-up 375 ms late on average
    print(f"\npick-up after {QUIET}s idle: {sorted(round(p * 1000) for p in picked)} ms")
    assert statistics.fmean(picked) < 2 * DEFAULT_IDLE_POLL / 1000, picked
