"""``sent_at`` of many sends written together: one UPDATE and one commit per interval, not one
per send.

``sent_at`` only says when an attempt first left (it is written after the send, never in the
commit before it); nothing decides on it. A mark still buffered when its process dies is
filled by the confirmer's rebroadcast of the same bytes (``lifecycle._record_resent``), so
batching loses no send, it only writes the time up to an interval later.
"""

from __future__ import annotations

import threading

import structlog

from actors.workflows.ports import UnitOfWorkFactory

DEFAULT_FLUSH_INTERVAL = 0.1  # seconds a mark may wait in the buffer
DEFAULT_FLUSH_SIZE = 256  # marks that trigger a write at once

log = structlog.get_logger(__name__)


class SentMarks:
    """A process's buffer of sent signatures, written by a daemon thread it starts lazily."""

    def __init__(
        self,
        uow_factory: UnitOfWorkFactory,
        *,
        interval: float = DEFAULT_FLUSH_INTERVAL,
        size: int = DEFAULT_FLUSH_SIZE,
    ) -> None:
        self.uow_factory = uow_factory
        self.interval, self.size = interval, size
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, signature: str) -> None:
        with self._lock:
            self._pending.append(signature)
            full = len(self._pending) >= self.size
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sent-marks", daemon=True)
                self._thread.start()
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write every buffered mark now; returns how many."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            with self.uow_factory() as uow:
                uow.attempts.mark_sent(batch)
                uow.commit()
        except Exception as exc:  # noqa: BLE001 - the ledger is away: try again next round
            with self._lock:
                self._pending = batch + self._pending
            log.warning("sent_marks_not_written", count=len(batch), error=type(exc).__name__)
            return 0
        return len(batch)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.flush()
