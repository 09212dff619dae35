"""The Redis broker and what rides on it: queues, the wake-up notifier, the send-rate gate shared by
every worker, and the ticker that sends the confirmer and sweeper messages on an interval."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import dramatiq
import structlog
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.rate_limits import BucketRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from actors.infra.sendrate import AdaptiveRate

log = structlog.get_logger(__name__)

DEFAULT_HEARTBEAT_TIMEOUT = 15_000  # ms before Redis hands a dead worker's messages to others


DEFAULT_RATE_WAIT = 30.0  # seconds a mint waits for a send slot before its message is retried


MINT_QUEUE = "mints"


TRANSFER_QUEUE = "transfers"


CONTROL_QUEUE = "control"


COLLECTION_QUEUE = "collections"


OPERATION_QUEUE = "operations"


WEBHOOK_QUEUE = "webhooks"


# every queue an actor is declared on: what `minter worker` consumes (a queue left out here is
# silently never served)
WORKER_QUEUES = (
    MINT_QUEUE,
    TRANSFER_QUEUE,
    CONTROL_QUEUE,
    COLLECTION_QUEUE,
    OPERATION_QUEUE,
    WEBHOOK_QUEUE,
)


DEFAULT_ENDPOINT_WAIT = 10.0  # seconds a delivery waits for its endpoint's rate slot


DEFAULT_IDLE_POLL = 100  # ms: the longest an idle consumer sleeps before it looks again


class Broker(RedisBroker):
    """Dramatiq's Redis broker whose idle consumers look at their queue at least every
    ``idle_poll`` ms. An idle consumer backs off up to the worker's timeout (1 s by default)
    before it polls again, so the first tickets after a quiet spell waited up to a second;
    delay queues keep Dramatiq's pace (what they hold is late by design)."""

    def __init__(self, *, idle_poll: int = DEFAULT_IDLE_POLL, **options) -> None:
        super().__init__(**options)
        self.idle_poll = idle_poll

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000):
        if queue_name != dq_name(queue_name):
            timeout = min(timeout, self.idle_poll)
        return super().consume(queue_name, prefetch, timeout)


def make_broker(redis_url: str, *, heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT):
    middleware = [
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(),
    ]
    return Broker(url=redis_url, middleware=middleware, heartbeat_timeout=heartbeat_timeout)


DEFAULT_MINT_BATCH = 16  # tickets one mint message carries at most (one claim, one commit)


def notifier(broker, *, queue: str = MINT_QUEUE, actor: str = "mint_ticket", batch: int = 1):
    """Wakes ``actor`` for ids by name: producers need not declare the actors. With ``batch``
    above 1, one message carries up to that many ids (a list; a lone id stays a string), so a
    bulk intake costs one message, one claim and one commit per ``batch`` tickets."""
    broker.declare_queue(queue)

    def notify(ids):
        ids = list(ids)
        for i in range(0, len(ids), batch):
            chunk = ids[i : i + batch]
            broker.enqueue(
                dramatiq.Message(
                    queue_name=queue,
                    actor_name=actor,
                    args=(chunk[0] if len(chunk) == 1 else chunk,),
                    kwargs={},
                    options={},
                )
            )

    return notify


def webhook_notifier(broker):
    """Wakes ``deliver_webhook`` for (dispatch id, endpoint id) pairs, at once or after
    ``delay`` seconds (a retry's wait; Redis keeps it, the sweep covers its loss)."""
    broker.declare_queue(WEBHOOK_QUEUE)

    def notify(owed, *, delay: float | None = None):
        for dispatch_id, endpoint_id in owed:
            message = dramatiq.Message(
                queue_name=WEBHOOK_QUEUE,
                actor_name="deliver_webhook",
                args=(dispatch_id, endpoint_id),
                kwargs={},
                options={},
            )
            broker.enqueue(message, delay=int(delay * 1000) if delay else None)

    return notify


class EndpointGates:
    """One Redis bucket limiter per webhook endpoint: each endpoint gets its own rate, shared by
    every worker."""

    def __init__(
        self, broker: RedisBroker, *, per_second: int, wait: float = DEFAULT_ENDPOINT_WAIT
    ):
        self.backend = RedisBackend(client=broker.client)
        self.per_second = per_second
        self.wait = wait
        self._limiters: dict[int, BucketRateLimiter] = {}
        self._lock = threading.Lock()

    def acquire(self, endpoint_id: int) -> bool:
        """Wait up to ``wait`` seconds for one request's slot; False when none came."""
        with self._lock:
            limiter = self._limiters.get(endpoint_id)
            if limiter is None:
                limiter = BucketRateLimiter(
                    self.backend,
                    f"webhook-endpoint-{endpoint_id}",
                    limit=self.per_second,
                    bucket=1000,
                )
                self._limiters[endpoint_id] = limiter
        deadline = time.monotonic() + self.wait
        while True:
            with limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)


# Grants up to ARGV[1] of the bucket's ARGV[2] slots in one round trip (Dramatiq's bucket
# limiter takes one slot per call, in four round trips under WATCH: a batch of mints took 16).
_GRANT = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant <= 0 then return 0 end
redis.call('SET', KEYS[1], used + grant, 'PX', ARGV[3])
return grant
"""
DEFAULT_SLOT_POLL = 0.02  # seconds between tries for a slot while the rate holds sends back


class RateGate:
    """A per-second bucket of send slots in Redis, shared by every worker, waited on (not
    failed on) for a while, at the shared adaptive rate
    (:class:`actors.infra.sendrate.AdaptiveRate`) when one is given: a send that goes through
    without a throttle counts as a success. ``with gate:`` takes one slot; ``gate.up_to(n)``
    as many as the bucket has left, up to ``n`` (at least one, waited for)."""

    BUCKET_MS = 1000

    def __init__(
        self,
        broker: RedisBroker,
        *,
        per_second: int,
        wait: float = DEFAULT_RATE_WAIT,
        rate: AdaptiveRate | None = None,
        key: str = "solana-sends",
    ):
        self.client = broker.client
        self._grant = self.client.register_script(_GRANT)
        self.limit = per_second
        self.key = key
        self.wait = wait
        self.rate = rate
        self._local = threading.local()  # one gate, many worker threads: per-send state

    def __enter__(self):
        self._local.taken, self._local.waited = self._take(1)
        return self

    @contextmanager
    def up_to(self, n: int):
        """Between 1 and ``n`` send slots (a batch of mints): yields how many were granted."""
        self._local.taken, self._local.waited = self._take(n)
        yield self._local.taken
        self.__exit__(None)

    def _take(self, n: int) -> tuple[int, bool]:
        """Wait for at least one slot, take up to ``n``: (granted, whether the rate held any
        send back)."""
        deadline = time.monotonic() + self.wait
        if self.rate is not None:
            pause = self.rate.paused_for()  # the server's Retry-After
            if pause > 0:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            # here, not at the top: importing the CLI must not load prometheus_client
            from actors.infra import metrics

            current = self.rate.current()
            metrics.series("send_rate").set(current)
            self.limit = max(1, int(current))
        waited = False
        while True:
            now_ms = int(time.time() * 1000)
            bucket = f"{self.key}@{now_ms - now_ms % self.BUCKET_MS}"
            granted = int(self._grant(keys=[bucket], args=[n, self.limit, self.BUCKET_MS]))
            if granted > 0:
                # held back: it waited, or the bucket could not give the whole batch
                return granted, waited or granted < n
            if time.monotonic() > deadline:
                raise dramatiq.RateLimitExceeded("send rate limit: no slot in time")
            waited = True
            time.sleep(DEFAULT_SLOT_POLL)

    def __exit__(self, exc_type, *exc):
        # grown only when the rate held a send back: a rate the workers do not reach (they are
        # busy elsewhere) would otherwise climb unchecked, far above what the cluster takes
        if exc_type is None and self.rate is not None and getattr(self._local, "waited", False):
            self.rate.succeeded(getattr(self._local, "taken", 1))
        return False


@dataclass
class Ticker(dramatiq.Middleware):
    """Sends each (actor, interval) message periodically while a worker process runs."""

    jobs: list

    def __post_init__(self):
        self._stop = threading.Event()

    def after_worker_boot(self, broker, worker):
        self._stop.clear()
        threading.Thread(target=self._run, name="ticker", daemon=True).start()

    def before_worker_shutdown(self, broker, worker):
        self._stop.set()

    def _run(self):
        due = [0.0] * len(self.jobs)
        while not self._stop.is_set():
            now = time.monotonic()
            for i, (actor, interval) in enumerate(self.jobs):
                if now >= due[i]:
                    due[i] = now + interval
                    try:
                        actor.send()
                    except Exception as exc:  # Redis down: try again next tick
                        log.warning("tick_failed", actor=actor.actor_name, error=type(exc).__name__)
            self._stop.wait(min(interval for _, interval in self.jobs))
