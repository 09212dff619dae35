"""The send rate every worker shares, adapted by itself (AIMD, as TCP does): a slow start that
doubles it each second of held-back sends until the first throttle, then additive increase
while sends succeed, halving on a 429 or "node behind", a pause for the server's Retry-After.

The state lives in Redis (the broker's), so every worker process on every machine sends at one
rate: ``{prefix}:rate`` (sends per second), ``{prefix}:pause-until`` (epoch seconds), a
one-second guard so a burst of 429s seen by many workers halves the rate once, not once each,
and ``{prefix}:threshold``, the rate a throttle left (below it the rate doubles again, as TCP's
ssthresh). Losing it (a flushed Redis) only restarts the rate at its initial value.
"""

from __future__ import annotations

import threading
import time

DEFAULT_MIN = 1.0  # sends per second: the floor a run of 429s brings the rate down to
DEFAULT_MAX = 1000.0  # the ceiling: high enough never to cap a local validator
DEFAULT_STEP = 5.0  # sends per second added per second of successful sending
DEFAULT_PREFIX = "minter:send-rate"
HALVING_GUARD_MS = 1000  # one halving per second, whoever saw the 429s
DEFAULT_CACHE = 0.1  # seconds a process reuses the rate it read


class AdaptiveRate:
    """The shared send rate: read by the rate gate, moved by what the sends meet."""

    def __init__(
        self,
        client,
        *,
        start: float,
        minimum: float = DEFAULT_MIN,
        maximum: float = DEFAULT_MAX,
        step: float = DEFAULT_STEP,
        prefix: str = DEFAULT_PREFIX,
        clock=time.time,
    ) -> None:
        self.client = client
        self.minimum, self.maximum, self.step = minimum, maximum, step
        self.start = min(max(start, minimum), maximum)
        self.keys = (
            f"{prefix}:rate",
            f"{prefix}:pause-until",
            f"{prefix}:halved",
            f"{prefix}:threshold",
        )
        self.clock = clock
        self._cached: tuple[float, float] | None = None  # (read at, rate)
        self._paused: tuple[float, float] | None = None  # (read at, pause-until)
        self._threshold: tuple[float, float | None] | None = None  # (read at, threshold)
        self._stored = False  # the last read found a rate in Redis
        self._lock = threading.Lock()

    def current(self) -> float:
        """Sends per second now (the initial rate until anything moved it)."""
        now = time.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < DEFAULT_CACHE:
                return self._cached[1]
        raw = self.client.get(self.keys[0])
        self._stored = raw is not None
        rate = self.start if raw is None else min(max(float(raw), self.minimum), self.maximum)
        with self._lock:
            self._cached = (now, rate)
        return rate

    def paused_for(self) -> float:
        """Seconds left of a server's Retry-After (0: send)."""
        now = time.monotonic()
        with self._lock:
            cached = self._paused
        if cached is None or now - cached[0] >= DEFAULT_CACHE:
            raw = self.client.get(self.keys[1])
            cached = (now, 0.0 if raw is None else float(raw))
            with self._lock:
                self._paused = cached
        return max(0.0, cached[1] - self.clock())

    def _slow_start(self, rate: float) -> bool:
        """Below the threshold a throttle left (or before any throttle): double per second."""
        now = time.monotonic()
        with self._lock:
            cached = self._threshold
        if cached is None or now - cached[0] >= DEFAULT_CACHE:
            raw = self.client.get(self.keys[3])
            cached = (now, None if raw is None else float(raw))
            with self._lock:
                self._threshold = cached
        return cached[1] is None or rate < cached[1]

    def succeeded(self, sends: int = 1) -> None:
        """``sends`` went through: + step / rate each, so a second of them adds ``step``."""
        rate = self.current()
        if rate >= self.maximum:
            return
        if not self._stored:  # nothing moved it yet: it grows from the start
            self.client.set(self.keys[0], self.start, nx=True)
            self._stored = True
        # a second of sends at ``rate`` adds ``rate`` (doubling) in slow start, else ``step``
        grow = sends * (1.0 if self._slow_start(rate) else self.step / max(rate, 1.0))
        new = float(self.client.incrbyfloat(self.keys[0], grow))
        if new > self.maximum:
            self.client.set(self.keys[0], self.maximum)

    def throttled(self, retry_after: float | None = None) -> None:
        """A 429 or "node behind": halve (once per second across all workers), and pause for
        the server's Retry-After."""
        if retry_after:
            until = self.clock() + retry_after
            self.client.set(self.keys[1], until, px=int(retry_after * 1000) + 1)
            with self._lock:
                self._paused = (time.monotonic(), until)
        if self.client.set(self.keys[2], 1, nx=True, px=HALVING_GUARD_MS):
            halved = max(self.minimum, self.current() / 2)
            self.client.set(self.keys[0], halved)
            self.client.set(self.keys[3], halved)  # additive growth from here on
            with self._lock:
                self._cached = (time.monotonic(), halved)
                self._threshold = (time.monotonic(), halved)
