"""Delivery of owed events: one attempt per call, recorded before its request leaves.

The lifecycle of a dispatch (an event owed to an endpoint): ``pending`` → claimed (a lease, an
attempt row with no outcome, committed) → the signed POST → ``delivered``, or back to
``pending`` with the next try on the schedule, or ``failed`` after the last one. A worker that
dies mid-request leaves its lease to expire and its attempt to be marked ``interrupted`` by the
next claim; the sweep re-wakes anything whose wake-up was lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Protocol

import structlog

from actors.infra import metrics
from actors.infra.broker import DEFAULT_ENDPOINT_WAIT
from actors.infra.webhook_http import (
    DEFAULT_DISABLE_AFTER,
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEOUT,
    AttemptResult,
)
from actors.workflows.ports import UnitOfWorkFactory

log = structlog.get_logger(__name__)

DEFAULT_SWEEP_GRACE = timedelta(seconds=30)  # as MINT_PENDING_AGE: a lost wake-up waits this
DEFAULT_SWEEP_LIMIT = 1000

DELIVERED, RETRY, FAILED, SKIPPED = "delivered", "retry", "failed", "skipped"
BUSY = "busy"  # no rate slot came in time: the claim was given back, nothing was sent


class Sender(Protocol):
    def send(self, url: str, *, secret: str, event_id: str, body: str) -> AttemptResult: ...


@dataclass(frozen=True)
class DeliveryPolicy:
    """When to try again, how long to wait for an answer, and when to give up on an endpoint."""

    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    timeout: float = DEFAULT_TIMEOUT
    disable_after: timedelta = timedelta(seconds=DEFAULT_DISABLE_AFTER)

    @property
    def lease(self) -> timedelta:
        # longer than a live attempt can last: the wait for a rate slot, the lookup, and httpx's
        # per-phase timeout (connect, write, read) with room to spare; only a dead worker's
        # attempt outlives it (and a late answer from one is fenced out: see WebhookRepository)
        return timedelta(seconds=DEFAULT_ENDPOINT_WAIT + 4 * self.timeout + 10)

    def retry_in(self, attempt: int) -> float | None:
        """Seconds before the attempt after ``attempt`` (1-based), or None: it was the last."""
        return self.schedule[attempt] if attempt < len(self.schedule) else None


@dataclass
class Outcome:
    result: str
    retry_in: float | None = None
    wake: list[tuple[int, int]] = field(default_factory=list)  # the subject's next in line


def event_body(event) -> str:
    """The request body, the same bytes on every attempt and replay."""
    created = event.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {
            "id": event.event_id,
            "type": event.type,
            "created_at": created,
            "sequence": event.sequence,
            "data": event.data,
        },
        separators=(",", ":"),
    )


def deliver(
    dispatch_id: int,
    *,
    uow_factory: UnitOfWorkFactory,
    sender: Sender,
    secret_for: Callable[[object], str | None],
    policy: DeliveryPolicy,
    slot: Callable[[int], bool] = lambda endpoint_id: True,
) -> Outcome:
    """One attempt of one dispatch, if its time and its turn have come and its endpoint has a
    rate ``slot`` for it (claimed first, so a duplicate wake-up spends no slot)."""
    with uow_factory() as uow:
        claimed = uow.webhooks.claim(
            dispatch_id, lease=policy.lease, max_attempts=len(policy.schedule)
        )
        uow.commit()
    if claimed is None:
        return Outcome(SKIPPED)
    event, endpoint = claimed.event, claimed.endpoint
    if not slot(endpoint.id):
        with uow_factory() as uow:
            uow.webhooks.release(dispatch_id, claimed.delivery_id, claimed.attempt)
            uow.commit()
        return Outcome(BUSY)
    secret = secret_for(endpoint)
    if secret is None:
        result = AttemptResult(False, None, 0.0, "no secret for this endpoint (WEBHOOK_SECRET?)")
    else:
        result = sender.send(
            endpoint.url, secret=secret, event_id=event.event_id, body=event_body(event)
        )
    retry_in = None if result.delivered else policy.retry_in(claimed.attempt)
    outcome = DELIVERED if result.delivered else (RETRY if retry_in is not None else FAILED)
    with uow_factory() as uow:
        uow.webhooks.record_attempt(
            claimed.delivery_id,
            delivered=result.delivered,
            status_code=result.status_code,
            latency=result.latency,
            error=result.error,
        )
        disabled: bool | None = False
        if result.delivered:
            owned = uow.webhooks.delivered(dispatch_id, endpoint.id, attempt=claimed.attempt)
        else:
            disabled = uow.webhooks.failed(
                dispatch_id,
                endpoint.id,
                attempt=claimed.attempt,
                error=result.error or "failed",
                retry_in=retry_in,
                disable_after=policy.disable_after,
            )
            owned = disabled is not None
        uow.commit()
    following = None
    if owned and outcome != RETRY:
        # read after the commit: an event committed since is either seen here or, woken by
        # its own commit, finds this one settled
        with uow_factory() as uow:
            following = uow.webhooks.next_in_line(endpoint.id, event.subject)
    metrics.webhook_attempt(outcome, result.latency)
    log.info(
        "webhook_attempt",
        event_id=event.event_id,
        endpoint=endpoint.endpoint_id,
        attempt=claimed.attempt,
        result=outcome,
        status_code=result.status_code,
        error=result.error,
    )
    if disabled:
        log.warning("webhook_endpoint_disabled", endpoint=endpoint.endpoint_id)
    if not owned:  # our lease ran out and a later claim took it: its outcome stands
        return Outcome(SKIPPED)
    wake = [(following, endpoint.id)] if following is not None else []
    return Outcome(outcome, retry_in=retry_in, wake=wake)


def sweep(
    *,
    uow_factory: UnitOfWorkFactory,
    wake: Callable[[list[tuple[int, int]]], None],
    grace: timedelta = DEFAULT_SWEEP_GRACE,
    limit: int = DEFAULT_SWEEP_LIMIT,
) -> int:
    """Wake dispatches that are due and unclaimed for ``grace``: their wake-up was lost."""
    with uow_factory() as uow:
        owed = uow.webhooks.due(grace=grace, limit=limit)
        uow.commit()
    if owed:
        wake(owed)
    return len(owed)
