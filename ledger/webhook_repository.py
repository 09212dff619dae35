"""The webhook tables (DESIGN.md, Webhooks): the outbox written beside each change, its fan-out to
endpoints, and the claims and outcomes of delivery attempts.

A ticket's events get consecutive ``sequence`` numbers from a per-subject counter row locked
until commit, so numbers follow commit order. A dispatch is claimable only when no earlier
dispatch of the same subject to the same endpoint is still pending: one at a time per ticket,
in sequence order. An attempt's row is committed before its request leaves, so a crash
mid-request leaves a row that says so (``interrupted``) instead of a silent extra delivery.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased

from ledger.models import (
    WebhookDelivery,
    WebhookDispatch,
    WebhookEndpoint,
    WebhookEvent,
)

ACTIVE, DISABLED, DELETED = "active", "disabled", "deleted"
PENDING, DELIVERED, FAILED, INTERRUPTED = "pending", "delivered", "failed", "interrupted"
DEFAULT_NAME = "default"  # the endpoint of WEBHOOK_URL / WEBHOOK_SECRET
# a retry's wake-up may come this early by the workers' clocks against the database's
EARLY = timedelta(seconds=1)
NONCE_BYTES = 32


@dataclass(frozen=True)
class Claimed:
    """A dispatch leased to one worker, with what its request needs."""

    dispatch_id: int
    delivery_id: int
    attempt: int
    event: WebhookEvent
    endpoint: WebhookEndpoint


# Many events in one round trip. Each subject's counter moves once, by its count of events
# (ON CONFLICT cannot touch one row twice in a statement), counters taken in subject order (two
# transactions touching the same tickets cannot deadlock); a subject's events are numbered in
# the order given, each owed to every live endpoint subscribed to its type.
_ADD_EVENTS = text(
    """
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:event_ids AS text[]), CAST(:types AS text[]),
            CAST(:subjects AS text[]), CAST(:data AS text[])
        ) WITH ORDINALITY AS i(event_id, type, subject, data, n)
    ), counts AS (
        SELECT subject, count(*) AS c FROM input GROUP BY subject
    ), seq AS (
        INSERT INTO webhook_sequences AS s (subject, last)
        SELECT subject, c FROM counts ORDER BY subject
        ON CONFLICT (subject) DO UPDATE SET last = s.last + EXCLUDED.last
        RETURNING subject, last
    ), event AS (
        INSERT INTO webhook_outbox (event_id, type, subject, sequence, data)
        SELECT i.event_id, i.type, i.subject,
            seq.last - count(*) OVER (PARTITION BY i.subject)
                + row_number() OVER (PARTITION BY i.subject ORDER BY i.n),
            CAST(i.data AS jsonb)
        FROM input i JOIN seq ON seq.subject = i.subject
        ORDER BY i.n
        RETURNING id, type, subject, sequence
    ), owed AS (
        INSERT INTO webhook_dispatches (outbox_id, endpoint_id, subject, sequence)
        SELECT event.id, e.id, event.subject, event.sequence
        FROM event, webhook_endpoints e
        WHERE e.status <> 'deleted' AND e.events ? event.type
        RETURNING id, endpoint_id
    )
    SELECT id, endpoint_id FROM owed ORDER BY id
    """
)


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # the outbox ----------------------------------------------------------------------------------
    def add_event(self, type_: str, subject: str, data: Mapping[str, Any]) -> list[tuple[int, int]]:
        """Record one event and owe it to every live endpoint subscribed to ``type_``;
        (dispatch id, endpoint id) of each. Call inside the change's own transaction."""
        return self.add_events([(type_, subject, data)])

    def add_events(
        self, events: Sequence[tuple[str, str, Mapping[str, Any]]]
    ) -> list[tuple[int, int]]:
        """:meth:`add_event` for many ``(type, subject, data)``, in one round trip; a subject's
        events get consecutive numbers in the order given. Each subject's counter row stays
        locked until commit (row locks, unlike advisory ones, take no shared memory), so the
        next number waits for this transaction's commit."""
        if not events:
            return []
        rows = self.session.execute(
            _ADD_EVENTS,
            {
                "event_ids": [f"evt_{uuid.uuid4().hex}" for _ in events],
                "types": [type_ for type_, _, _ in events],
                "subjects": [subject for _, subject, _ in events],
                "data": [json.dumps(dict(data), separators=(",", ":")) for _, _, data in events],
            },
        ).all()
        return [(d, e) for d, e in rows]

    def events_since(self, since: datetime, *, limit: int = 10_000) -> list[WebhookEvent]:
        return list(
            self.session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.created_at >= since)
                .order_by(WebhookEvent.id)
                .limit(limit)
            ).all()
        )

    def events_for(self, subject: str) -> list[WebhookEvent]:
        return list(
            self.session.scalars(
                select(WebhookEvent)
                .where(WebhookEvent.subject == subject)
                .order_by(WebhookEvent.sequence)
            ).all()
        )

    # delivery ------------------------------------------------------------------------------------
    def _open_before(self):
        """An earlier dispatch of the same subject to the same endpoint is still pending."""
        earlier = aliased(WebhookDispatch)
        return exists().where(
            earlier.endpoint_id == WebhookDispatch.endpoint_id,
            earlier.subject == WebhookDispatch.subject,
            earlier.status == PENDING,
            tuple_(earlier.sequence, earlier.id)
            < tuple_(WebhookDispatch.sequence, WebhookDispatch.id),
        )

    def _claimable(self, *, early: timedelta = timedelta(0)):
        return and_(
            WebhookDispatch.status == PENDING,
            WebhookDispatch.next_attempt_at <= func.now() + early,
            or_(WebhookDispatch.lease_until.is_(None), WebhookDispatch.lease_until < func.now()),
            ~self._open_before(),
        )

    def claim(self, dispatch_id: int, *, lease: timedelta, max_attempts: int) -> Claimed | None:
        """Lease the dispatch if it is due, its turn has come and its endpoint is active;
        records the attempt (outcome NULL) in the same commit."""
        dispatch = self.session.scalars(
            select(WebhookDispatch)
            .where(WebhookDispatch.id == dispatch_id, self._claimable(early=EARLY))
            .with_for_update(skip_locked=True, of=WebhookDispatch)
            .execution_options(populate_existing=True)
        ).one_or_none()
        if dispatch is None:
            return None
        endpoint = self.session.get(WebhookEndpoint, dispatch.endpoint_id, populate_existing=True)
        if endpoint is None or endpoint.status != ACTIVE:
            return None
        event = self.session.get(WebhookEvent, dispatch.outbox_id)
        # an attempt whose worker died before it could say how it went
        self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.dispatch_id == dispatch_id, WebhookDelivery.outcome.is_(None))
            .values(outcome=INTERRUPTED, finished_at=func.now())
        )
        if dispatch.attempts >= max_attempts:
            self._settle(dispatch_id, status=FAILED, error="interrupted on its last attempt")
            return None
        attempt = dispatch.attempts + 1
        self.session.execute(
            update(WebhookDispatch)
            .where(WebhookDispatch.id == dispatch_id)
            .values(
                attempts=attempt,
                lease_until=func.now() + lease,
                updated_at=func.now(),
            )
        )
        delivery_id = self.session.scalar(
            insert(WebhookDelivery)
            .values(
                dispatch_id=dispatch_id,
                event_id=event.event_id,
                endpoint_id=endpoint.id,
                attempt=attempt,
            )
            .returning(WebhookDelivery.id)
        )
        return Claimed(dispatch_id, delivery_id, attempt, event, endpoint)

    def _ours(self, dispatch_id: int, attempt: int):
        """The dispatch is still at our attempt: no later claim took it after our lease ran out
        (its outcome is then that claim's to write, never ours)."""
        return and_(
            WebhookDispatch.id == dispatch_id,
            WebhookDispatch.attempts == attempt,
            WebhookDispatch.status == PENDING,
        )

    def release(self, dispatch_id: int, delivery_id: int, attempt: int) -> None:
        """Give back a claim whose request never left (no rate slot came): no attempt made."""
        self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id == delivery_id))
        self.session.execute(
            update(WebhookDispatch)
            .where(self._ours(dispatch_id, attempt))
            .values(attempts=WebhookDispatch.attempts - 1, lease_until=None)
        )

    def record_attempt(
        self,
        delivery_id: int,
        *,
        delivered: bool,
        status_code: int | None,
        latency: float,
        error: str | None,
    ) -> None:
        self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(
                outcome=DELIVERED if delivered else FAILED,
                finished_at=func.now(),
                status_code=status_code,
                latency_ms=round(latency * 1000, 3),
                error=error[:200] if error else None,
            )
        )

    def _settle(
        self, dispatch_id: int, *, status: str, error: str | None = None, attempt: int | None = None
    ) -> bool:
        values: dict[str, Any] = {"status": status, "lease_until": None, "updated_at": func.now()}
        if status == DELIVERED:
            values.update(delivered_at=func.now(), last_error=None)
        else:
            values["last_error"] = error
        where = (
            WebhookDispatch.id == dispatch_id
            if attempt is None
            else self._ours(dispatch_id, attempt)
        )
        return (
            self.session.execute(update(WebhookDispatch).where(where).values(**values)).rowcount
            == 1
        )

    def delivered(self, dispatch_id: int, endpoint_pk: int, *, attempt: int) -> bool:
        """False when a later claim owns the dispatch now (nothing is changed)."""
        if not self._settle(dispatch_id, status=DELIVERED, attempt=attempt):
            return False
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_pk, WebhookEndpoint.failing_since.is_not(None))
            .values(failing_since=None, updated_at=func.now())
        )
        return True

    def failed(
        self,
        dispatch_id: int,
        endpoint_pk: int,
        *,
        attempt: int,
        error: str,
        retry_in: float | None,
        disable_after: timedelta,
    ) -> bool | None:
        """An attempt failed: retry in ``retry_in`` seconds, or (None) failed for good. True
        when the endpoint has now been failing for ``disable_after`` and is disabled; None when
        a later claim owns the dispatch now (nothing is changed)."""
        if retry_in is None:
            owned = self._settle(dispatch_id, status=FAILED, error=error, attempt=attempt)
        else:
            owned = (
                self.session.execute(
                    update(WebhookDispatch)
                    .where(self._ours(dispatch_id, attempt))
                    .values(
                        next_attempt_at=func.now() + timedelta(seconds=retry_in),
                        lease_until=None,
                        last_error=error,
                        updated_at=func.now(),
                    )
                ).rowcount
                == 1
            )
        if not owned:
            return None
        since = func.coalesce(WebhookEndpoint.failing_since, func.now())
        disabled = self.session.scalar(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_pk, WebhookEndpoint.status == ACTIVE)
            .values(failing_since=since, updated_at=func.now())
            .returning(WebhookEndpoint.failing_since < func.now() - disable_after)
        )
        if disabled:
            self.session.execute(
                update(WebhookEndpoint)
                .where(WebhookEndpoint.id == endpoint_pk)
                .values(status=DISABLED, disabled_at=func.now())
            )
        return bool(disabled)

    def next_in_line(self, endpoint_pk: int, subject: str) -> int | None:
        """The subject's first pending dispatch to the endpoint (its turn may have come)."""
        return self.session.scalar(
            select(WebhookDispatch.id)
            .where(
                WebhookDispatch.endpoint_id == endpoint_pk,
                WebhookDispatch.subject == subject,
                WebhookDispatch.status == PENDING,
            )
            .order_by(WebhookDispatch.sequence, WebhookDispatch.id)
            .limit(1)
        )

    def due(self, *, grace: timedelta, limit: int) -> list[tuple[int, int]]:
        """Claimable dispatches of active endpoints left unclaimed for ``grace`` (their wake-up
        was lost); touched so the next sweep skips them for another ``grace``."""
        stale = (
            select(WebhookDispatch.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDispatch.endpoint_id)
            .where(
                self._claimable(),
                WebhookEndpoint.status == ACTIVE,
                WebhookDispatch.next_attempt_at < func.now() - grace,
                WebhookDispatch.updated_at < func.now() - grace,
            )
            .order_by(WebhookDispatch.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDispatch)
            .scalar_subquery()
        )
        rows = self.session.execute(
            update(WebhookDispatch)
            .where(WebhookDispatch.id.in_(stale))
            .values(updated_at=func.now())
            .returning(WebhookDispatch.id, WebhookDispatch.endpoint_id)
        ).all()
        return [(d, e) for d, e in rows]

    def replay(self, endpoint_pk: int, since: datetime) -> list[tuple[int, int]]:
        """Owe the endpoint again every event since ``since`` of the types it subscribes to, and
        enable it again if it was disabled."""
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_pk, WebhookEndpoint.status == DISABLED)
            .values(status=ACTIVE, failing_since=None, disabled_at=None, updated_at=func.now())
        )
        endpoint = self.session.get(WebhookEndpoint, endpoint_pk)
        events = (
            select(
                WebhookEvent.id,
                func.cast(endpoint_pk, WebhookDispatch.endpoint_id.type),
                WebhookEvent.subject,
                WebhookEvent.sequence,
            )
            .where(WebhookEvent.created_at >= since, WebhookEvent.type.in_(list(endpoint.events)))
            .order_by(WebhookEvent.id)
        )
        rows = self.session.execute(
            insert(WebhookDispatch)
            .from_select(["outbox_id", "endpoint_id", "subject", "sequence"], events)
            .returning(WebhookDispatch.id, WebhookDispatch.endpoint_id)
        ).all()
        return [(d, e) for d, e in rows]

    def oldest_undelivered(self) -> float:
        """Seconds since the oldest event still owed to a live endpoint (0: none)."""
        oldest = self.session.scalar(
            select(func.min(WebhookEvent.created_at))
            .join(WebhookDispatch, WebhookDispatch.outbox_id == WebhookEvent.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDispatch.endpoint_id)
            .where(WebhookDispatch.status == PENDING, WebhookEndpoint.status != DELETED)
        )
        if oldest is None:
            return 0.0
        return float(self.session.scalar(select(func.extract("epoch", func.now() - oldest))))

    def deliveries_for(self, event_id: str) -> list[WebhookDelivery]:
        return list(
            self.session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.event_id == event_id)
                .order_by(WebhookDelivery.id)
            ).all()
        )

    def delivery_counts(self) -> dict[tuple[int, str], int]:
        """Attempts by (endpoint, outcome); outcome ``open`` while in flight."""
        outcome = func.coalesce(WebhookDelivery.outcome, "open")
        rows = self.session.execute(
            select(WebhookDelivery.endpoint_id, outcome, func.count()).group_by(
                WebhookDelivery.endpoint_id, outcome
            )
        ).all()
        return {(e, o): n for e, o, n in rows}

    def dispatch_counts(self) -> dict[tuple[int, str], int]:
        rows = self.session.execute(
            select(WebhookDispatch.endpoint_id, WebhookDispatch.status, func.count()).group_by(
                WebhookDispatch.endpoint_id, WebhookDispatch.status
            )
        ).all()
        return {(e, s): n for e, s, n in rows}

    # endpoints -----------------------------------------------------------------------------------
    def add_endpoint(self, url: str, events: Sequence[str]) -> WebhookEndpoint:
        """A new endpoint with a fresh secret nonce (the secret itself is derived, never kept)."""
        row = WebhookEndpoint(
            endpoint_id=f"we_{uuid.uuid4().hex[:24]}",
            url=url,
            events=list(events),
            secret_nonce=secrets.token_bytes(NONCE_BYTES),
        )
        self.session.add(row)
        self.session.flush()
        return row

    def put_default(self, url: str, events: Sequence[str]) -> WebhookEndpoint:
        """The endpoint of WEBHOOK_URL: created, or moved to ``url`` and made active again."""
        stmt = (
            insert(WebhookEndpoint)
            .values(
                endpoint_id=f"we_{uuid.uuid4().hex[:24]}",
                name=DEFAULT_NAME,
                url=url,
                events=list(events),
                secret_nonce=None,
            )
            .on_conflict_do_update(
                index_elements=["name"],
                set_={
                    "url": url,
                    "events": list(events),
                    "status": ACTIVE,
                    "failing_since": None,
                    "disabled_at": None,
                    "updated_at": func.now(),
                },
                # a start with the variables set enables it again (the operator restarted it)
                where=or_(
                    WebhookEndpoint.url != url,
                    WebhookEndpoint.events != list(events),
                    WebhookEndpoint.status != ACTIVE,
                ),
            )
        )
        self.session.execute(stmt)
        return self.endpoint_named(DEFAULT_NAME)

    def endpoint_named(self, name: str) -> WebhookEndpoint | None:
        return self.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.name == name)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        """A live (not deleted) endpoint by its public id."""
        return self.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.endpoint_id == endpoint_id, WebhookEndpoint.status != DELETED)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def endpoints(self) -> list[WebhookEndpoint]:
        return list(
            self.session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.status != DELETED)
                .order_by(WebhookEndpoint.id)
            ).all()
        )

    def delete_endpoint(self, endpoint_pk: int, *, reason: str = "endpoint deleted") -> None:
        """Soft delete (its deliveries stay explained); what it was still owed fails."""
        self.session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_pk)
            .values(status=DELETED, updated_at=func.now())
        )
        self.session.execute(
            update(WebhookDispatch)
            .where(WebhookDispatch.endpoint_id == endpoint_pk, WebhookDispatch.status == PENDING)
            .values(status=FAILED, last_error=reason, lease_until=None, updated_at=func.now())
        )
