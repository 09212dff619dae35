"""Webhook endpoints: registration (URL vetted, secret shown once), listing, deletion, replay,
the ``default`` endpoint of WEBHOOK_URL, and a test event."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from actors.infra.errors import ActorsError
from actors.infra.webhook_http import AttemptResult, UrlRefused, derive_secret
from actors.workflows.ports import UnitOfWork, UnitOfWorkFactory
from actors.workflows.webhooks.delivery import Sender, event_body
from ledger.models import EVENT_TYPES

DEFAULT_NAME = "default"
TEST_EVENT = "webhook.test"  # sent by `minter webhooks test` only, never recorded


class EndpointRefused(ActorsError):
    """Raised when an endpoint's registration is refused; ``field`` names the bad field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_events(events: Sequence[str] | None) -> list[str]:
    """The subscribed types, in the canonical order (none named: every type)."""
    if events is None:
        return list(EVENT_TYPES)
    if not events:
        raise EndpointRefused("events", "events must name at least one event type")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise EndpointRefused(
            "events", f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}"
        )
    return [t for t in EVENT_TYPES if t in set(events)]


def endpoint_view(row) -> dict[str, Any]:
    """An endpoint as listed: never its secret."""
    return {
        "id": row.endpoint_id,
        "name": row.name,
        "url": row.url,
        "events": list(row.events),
        "status": row.status,
        "failing_since": row.failing_since.isoformat() if row.failing_since else None,
        "disabled_at": row.disabled_at.isoformat() if row.disabled_at else None,
        "created_at": row.created_at.isoformat() if row.created_at else None,
    }


def register(
    url: str,
    events: Sequence[str] | None,
    *,
    uow_factory: UnitOfWorkFactory,
    vet: Callable[[str], object],
    master: bytes,
) -> dict[str, Any]:
    """A new endpoint and its secret, which this answer is the only one to show."""
    types = check_events(events)
    try:
        vet(url)
    except UrlRefused as exc:
        raise EndpointRefused("url", str(exc)) from None
    with uow_factory() as uow:
        row = uow.webhooks.add_endpoint(url, types)
        view = endpoint_view(row)
        nonce = bytes(row.secret_nonce)
        uow.commit()
    return {**view, "secret": derive_secret(master, nonce)}


def list_endpoints(*, uow_factory: UnitOfWorkFactory) -> list[dict[str, Any]]:
    """Every live endpoint with its dispatches and attempts by outcome."""
    with uow_factory() as uow:
        rows = uow.webhooks.endpoints()
        dispatches = uow.webhooks.dispatch_counts()
        attempts = uow.webhooks.delivery_counts()
    out = []
    for row in rows:
        view = endpoint_view(row)
        view["dispatches"] = {s: n for (e, s), n in dispatches.items() if e == row.id}
        view["attempts"] = {o: n for (e, o), n in attempts.items() if e == row.id}
        out.append(view)
    return out


def delete(endpoint_id: str, *, uow_factory: UnitOfWorkFactory) -> bool:
    """False when there is no such live endpoint."""
    with uow_factory() as uow:
        row = uow.webhooks.endpoint(endpoint_id)
        if row is None:
            return False
        uow.webhooks.delete_endpoint(row.id)
        uow.commit()
    return True


def replay(
    endpoint_id: str,
    since: datetime,
    *,
    uow_factory: UnitOfWorkFactory,
    wake: Callable[[list[tuple[int, int]]], None] | None,
) -> int | None:
    """Owe the endpoint again every event since ``since`` (their original ids); how many, or
    None when there is no such live endpoint. A disabled endpoint is enabled again: replaying
    is the operator saying it is back."""
    with uow_factory() as uow:
        row = uow.webhooks.endpoint(endpoint_id)
        if row is None:
            return None
        owed = uow.webhooks.replay(row.id, since)
        uow.commit()
    if owed and wake is not None:
        try:
            wake(owed)
        except Exception:  # noqa: BLE001 - Redis away: the sweep finds them
            pass
    return len(owed)


def put_default(
    url: str | None, *, uow_factory: UnitOfWorkFactory, vet: Callable[[str], object]
) -> None:
    """WEBHOOK_URL's endpoint, ``default``: created, or updated and enabled again. A process
    without the variable leaves it alone (during a rolling deploy another one still has it);
    ``DELETE /v1/webhooks/{id}`` removes it."""
    if url is None:
        return
    vet(url)
    with uow_factory() as uow:
        uow.webhooks.put_default(url, list(EVENT_TYPES))
        uow.commit()


def default_writer(
    url: str | None, *, vet: Callable[[str], object]
) -> Callable[[UnitOfWork], None] | None:
    """What writes WEBHOOK_URL's endpoint inside a given unit of work (the outbox publisher runs
    it in a process's first transaction that records events, so none is recorded before the
    endpoint it is owed to exists); None without the variable. A refused URL writes nothing
    (the webhook sweep says why)."""
    if url is None:
        return None

    def write(uow: UnitOfWork) -> None:
        try:
            vet(url)
        except UrlRefused:
            return
        uow.webhooks.put_default(url, list(EVENT_TYPES))

    return write


def send_test(
    endpoint_id: str,
    *,
    uow_factory: UnitOfWorkFactory,
    sender: Sender,
    secret_for: Callable[[object], str | None],
) -> AttemptResult | None:
    """One signed ``webhook.test`` event, sent now and not recorded (None: no such endpoint)."""
    with uow_factory() as uow:
        row = uow.webhooks.endpoint(endpoint_id)
    if row is None:
        return None
    secret = secret_for(row)
    if secret is None:
        return AttemptResult(False, None, 0.0, "no secret for this endpoint (WEBHOOK_SECRET?)")
    event = SimpleNamespace(
        event_id=f"evt_test_{uuid.uuid4().hex}",
        type=TEST_EVENT,
        created_at=datetime.now(UTC),
        sequence=0,
        data={},
    )
    return sender.send(row.url, secret=secret, event_id=event.event_id, body=event_body(event))


def secret_source(*, master: bytes, default_secret: str | None) -> Callable[[object], str | None]:
    """How an endpoint's secret is found: derived from its nonce, or WEBHOOK_SECRET."""

    def secret_for(endpoint) -> str | None:
        if endpoint.secret_nonce is not None:
            return derive_secret(master, bytes(endpoint.secret_nonce))
        return default_secret if endpoint.name == DEFAULT_NAME else None

    return secret_for
