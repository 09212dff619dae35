"""An in-memory ledger behind the :class:`~actors.workflows.ports.UnitOfWork` port.

:class:`FakeLedger` keeps the tables in memory. Each :class:`FakeUnitOfWork` works on a copy and
writes it back on ``commit`` (what is not committed is rolled back); transitions are guarded as
``UPDATE … WHERE key = :key AND status = :expected`` is, and say whether the row moved; claims
skip the rows a test says another worker holds.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ledger.models import Status, Submission, Watched

# ---------------------------------------------------------------------------------------------
# rows: the columns of ledger/models.py (unknown columns fail, as an INSERT would)


@dataclass(kw_only=True)
class _Intent:
    id: int
    status: str
    payload: dict[str, Any]
    signature: str | None = None
    signed_tx: bytes | None = field(default=None, repr=False)
    last_valid_block_height: int | None = None
    attempts: int = 0
    last_error: str | None = None
    checked_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None


@dataclass(kw_only=True)
class MintRow(_Intent):
    KEY: ClassVar[str] = "ticket_id"
    ticket_id: str
    mint_address: str
    owner_address: str
    standard: str
    metadata_: dict[str, Any]
    event_id: str | None = None
    venue_id: str | None = None
    state: str = "minted"
    version: int = 1
    checked_in_at: datetime | None = None
    checked_in_gate: str | None = None


@dataclass(kw_only=True)
class TransferRow(_Intent):
    KEY: ClassVar[str] = "transfer_id"
    transfer_id: str
    ticket_id: str
    token_address: str
    from_address: str
    to_address: str
    amount: int = 1


@dataclass(kw_only=True)
class CollectionRow(_Intent):
    KEY: ClassVar[str] = "event_id"
    event_id: str
    collection_address: str
    standard: str
    name: str
    symbol: str
    uri: str
    venue_id: str | None = None
    capacity: int | None = None
    transfer_policy: str = "transferable"


@dataclass(kw_only=True)
class OperationRow(_Intent):
    KEY: ClassVar[str] = "operation_id"
    operation_id: str
    ticket_id: str
    kind: str
    version: int
    address: str


@dataclass(kw_only=True)
class AttemptRow:
    id: int
    kind: str
    ref_id: str
    signature: str
    last_valid_block_height: int
    sent_at: datetime | None = None
    outcome: str | None = None
    error: str | None = None
    payer: str | None = None
    created_at: datetime


# ---------------------------------------------------------------------------------------------
# the ledger


class FakeLedger:
    """The committed state, a clock (``now()`` in the database) and the rows others hold."""

    def __init__(self, now: datetime = datetime(2026, 1, 1, tzinfo=UTC)) -> None:
        self.now = now
        self.tables: dict[str, dict] = {
            "mints": {},
            "transfers": {},
            "attempts": {},
            "collections": {},
            "operations": {},
        }
        self.metrics: list[Mapping[str, Any]] = []
        self.held: set[str] = set()  # keys locked by another worker: claims skip them
        self.commits = 0
        self._ids = itertools.count(1)  # like a sequence: not rolled back
        self._lock = threading.RLock()  # one unit of work at a time (actor threads)

    def uow(self) -> FakeUnitOfWork:
        """The ``uow_factory`` workflows take."""
        return FakeUnitOfWork(self)

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def mint(self, ticket_id: str) -> MintRow:
        return self.tables["mints"][ticket_id]

    def transfer(self, transfer_id: str) -> TransferRow:
        return self.tables["transfers"][transfer_id]

    def collection(self, event_id: str) -> CollectionRow:
        return self.tables["collections"][event_id]

    def operation(self, operation_id: str) -> OperationRow:
        return self.tables["operations"][operation_id]

    def attempts(self, kind: str, ref_id: str) -> list[AttemptRow]:
        rows = self.tables["attempts"].values()
        return sorted((a for a in rows if (a.kind, a.ref_id) == (kind, ref_id)), key=_by_id)


class FakeUnitOfWork:
    def __init__(self, ledger: FakeLedger) -> None:
        self._ledger = ledger

    def __enter__(self) -> FakeUnitOfWork:
        self._ledger._lock.acquire()
        self._work = copy.deepcopy(self._ledger.tables)
        self.mints = FakeMintRepository(self._work["mints"], self._ledger)
        self.transfers = FakeTransferRepository(self._work["transfers"], self._ledger)
        self.attempts = FakeAttemptRepository(self._work["attempts"], self._ledger)
        self.collections = FakeCollectionRepository(self._work["collections"], self._ledger)
        self.operations = FakeOperationRepository(self._work["operations"], self._ledger)
        self.metrics = FakeMetricsRepository(self._ledger)
        self.webhooks = FakeWebhookRepository()
        return self

    def __exit__(self, *exc: object) -> None:
        self._work = {}  # rolled back: whatever was not committed is gone
        self._ledger._lock.release()

    def commit(self) -> None:
        self._ledger.tables = copy.deepcopy(self._work)
        self._ledger.commits += 1


class FakeWebhookRepository:
    """No endpoints, so nothing is ever owed (the webhook workflows run on Postgres in
    tests/integration)."""

    def due(self, *, grace, limit: int) -> list[tuple[int, int]]:
        return []

    def oldest_undelivered(self) -> float:
        return 0.0

    def endpoints(self) -> list:
        return []


def _by_id(row) -> int:
    return row.id


class _FakeIntentRepository:
    row_type: type[_Intent]

    def __init__(self, rows: dict[str, Any], ledger: FakeLedger) -> None:
        self._rows = rows
        self._ledger = ledger

    def _free(self, row) -> bool:  # FOR UPDATE SKIP LOCKED
        return getattr(row, row.KEY) not in self._ledger.held

    def add_intents(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, bool]]:
        created = set()
        for given in rows:
            values = dict(given)
            if "metadata" in values:  # the attribute behind the "metadata" column
                values["metadata_"] = values.pop("metadata")
            key = values[self.row_type.KEY]
            if key in self._rows:
                continue  # ON CONFLICT DO NOTHING
            now = self._ledger.now
            self._rows[key] = self.row_type(
                id=next(self._ledger._ids),
                status=Status.PENDING,
                created_at=now,
                updated_at=now,
                **values,
            )
            created.add(key)
        keys = [r[self.row_type.KEY] for r in rows]
        return [(replace(self._rows[k]), k in created) for k in keys]

    def get(self, key: str):
        row = self._rows.get(key)
        return None if row is None else replace(row)

    def get_many(self, keys: Sequence[str]) -> list:
        return [replace(self._rows[k]) for k in dict.fromkeys(keys) if k in self._rows]

    def claim_pending(self, key: str):
        row = self._rows.get(key)
        ok = row is not None and row.status == Status.PENDING and self._free(row)
        return replace(row) if ok else None

    def claim_pending_many(self, keys: Sequence[str]) -> list:
        rows = [self.claim_pending(k) for k in dict.fromkeys(keys)]
        return sorted((r for r in rows if r is not None), key=_by_id)

    def _least_recently_checked(self, status: str, *, limit: int):
        rows = [r for r in self._rows.values() if r.status == status and self._free(r)]
        # checked_at ASC NULLS FIRST, then id: the least recently looked at first
        rows.sort(key=lambda r: (r.checked_at.timestamp() if r.checked_at else 0.0, r.id))
        return [replace(r) for r in rows[:limit]]

    def has_status(self, status: str) -> bool:
        return any(r.status == status for r in self._rows.values())

    def claim_submitted(self, *, limit: int) -> list[Watched]:
        now = self._ledger.now
        return [
            Watched(
                getattr(r, r.KEY),
                r.signature,
                r.last_valid_block_height,
                now - r.updated_at,
            )
            for r in self._least_recently_checked(Status.SUBMITTED, limit=limit)
        ]

    def signed_txs(self, keys: Sequence[str]) -> dict[str, bytes]:
        rows = (self._rows.get(k) for k in keys)
        return {r.signature: r.signed_tx for r in rows if r is not None and r.signed_tx}

    def mark_checked(self, keys: Sequence[str]) -> None:
        for key in keys:
            self._rows[key].checked_at = self._ledger.now

    def requeue_stale_pending(self, *, older_than: timedelta, limit: int) -> list[str]:
        cutoff = self._ledger.now - older_than
        rows = [
            r
            for r in self._rows.values()
            if r.status == Status.PENDING and r.updated_at < cutoff and self._free(r)
        ]
        rows = sorted(rows, key=lambda r: r.updated_at)[:limit]
        for r in rows:
            r.updated_at = self._ledger.now
        return [getattr(r, r.KEY) for r in rows]

    def _move(self, key: str, *, expected: str, **values: Any) -> bool:
        row = self._rows.get(key)
        if row is None or row.status != expected:
            return False  # another worker moved it first: the UPDATE matched no row
        for name, value in values.items():
            setattr(row, name, value)
        row.updated_at = self._ledger.now
        return True

    def mark_submitted(
        self,
        key: str,
        *,
        expected: str,
        signature: str,
        signed_tx: bytes,
        last_valid_block_height: int,
    ) -> bool:
        row = self._rows.get(key)
        return self._move(
            key,
            expected=expected,
            status=Status.SUBMITTED,
            signature=signature,
            signed_tx=signed_tx,
            last_valid_block_height=last_valid_block_height,
            attempts=(row.attempts + 1) if row else 0,
        )

    def mark_submitted_many(self, items: Sequence[Submission], *, expected: str) -> list[str]:
        return [
            i.key
            for i in items
            if self.mark_submitted(
                i.key,
                expected=expected,
                signature=i.signature,
                signed_tx=i.signed_tx,
                last_valid_block_height=i.last_valid_block_height,
            )
        ]

    def mark_completed(
        self, key: str, *, expected: str, signature: str | None = None, slot: int | None = None
    ) -> bool:
        extra = {"signature": signature} if signature else {}
        now = self._ledger.now
        return self._move(
            key, expected=expected, status=Status.COMPLETED, completed_at=now, **extra
        )

    def mark_completed_many(self, slots, *, expected: str) -> list[str]:
        return [
            k for k, slot in slots.items() if self.mark_completed(k, expected=expected, slot=slot)
        ]

    def mark_failed(self, key: str, *, expected: str, reason: str) -> bool:
        return self._move(key, expected=expected, status=Status.FAILED, last_error=reason)

    def reset_to_pending(self, key: str, *, expected: str, reason: str) -> bool:
        return self._move(key, expected=expected, status=Status.PENDING, last_error=reason)

    def note_error(self, key: str, reason: str) -> None:
        if key in self._rows:
            self._rows[key].last_error = reason
            self._rows[key].updated_at = self._ledger.now

    def count_by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._rows.values():
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def db_now(self) -> datetime:
        return self._ledger.now

    def iter_pages(self, *, page: int = 1000) -> Iterator[list]:
        rows = sorted(self._rows.values(), key=_by_id)
        for i in range(0, len(rows), page):
            yield [replace(r) for r in rows[i : i + page]]


class FakeMintRepository(_FakeIntentRepository):
    row_type = MintRow

    def count_by_status_and_standard(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for r in self._rows.values():
            out[(r.status, r.standard)] = out.get((r.status, r.standard), 0) + 1
        return out

    def recent_signatures(self, *, standard: str, limit: int) -> list[str]:
        done = [
            r
            for r in self._rows.values()
            if r.status == Status.COMPLETED and r.standard == standard and r.signature
        ]
        done.sort(key=lambda r: r.completed_at, reverse=True)
        return [r.signature for r in done[:limit]]

    def completed_since(self, since: datetime) -> list[tuple[str, float, datetime]]:
        done = [
            r
            for r in self._rows.values()
            if r.status == Status.COMPLETED and r.completed_at > since
        ]
        done.sort(key=lambda r: r.completed_at)
        return [
            (r.standard, (r.completed_at - r.created_at).total_seconds(), r.completed_at)
            for r in done
        ]

    def count_for_event(self, event_id: str) -> int:
        return sum(1 for r in self._rows.values() if r.event_id == event_id)

    def count_by_status_for_event(self, event_id: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self._rows.values():
            if r.event_id == event_id:
                out[r.status] = out.get(r.status, 0) + 1
        return out

    def pending_for_event(self, event_id: str, *, limit: int = 1000) -> list[str]:
        rows = sorted(self._rows.values(), key=_by_id)
        mine = [r for r in rows if r.event_id == event_id and r.status == Status.PENDING]
        return [r.ticket_id for r in mine[:limit]]

    def change_state(
        self, ticket_id: str, *, expected: Sequence[str], state: str, **values: Any
    ) -> MintRow | None:
        row = self._rows.get(ticket_id)
        if row is None or row.state not in expected:
            return None  # the guarded UPDATE matched no row
        row.state = state
        for name, value in values.items():
            setattr(row, name, value)
        return replace(row)

    def reissue(self, ticket_id: str, *, expected: Sequence[str]) -> MintRow | None:
        row = self._rows.get(ticket_id)
        version = row.version + 1 if row is not None else 1
        return self.change_state(ticket_id, expected=expected, state="reissued", version=version)

    def admit(self, ticket_id: str, *, expected: Sequence[str], gate: str) -> MintRow | None:
        return self.change_state(
            ticket_id,
            expected=expected,
            state="checked_in",
            checked_in_at=self._ledger.now,
            checked_in_gate=gate,
        )


class FakeOperationRepository(_FakeIntentRepository):
    row_type = OperationRow

    def for_ticket(self, ticket_id: str) -> list[OperationRow]:
        rows = sorted(self._rows.values(), key=_by_id)
        return [replace(r) for r in rows if r.ticket_id == ticket_id]

    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[OperationRow]]:
        return {t: self.for_ticket(t) for t in ticket_ids}

    def next_pending(self, ticket_ids: Sequence[str]) -> list[str]:
        out = []
        for ticket_id in dict.fromkeys(ticket_ids):
            rows = [r for r in self.for_ticket(ticket_id) if r.status == Status.PENDING]
            out += [rows[0].operation_id] if rows else []
        return out


class FakeCollectionRepository(_FakeIntentRepository):
    row_type = CollectionRow

    def lock(self, event_id: str) -> CollectionRow | None:
        # one unit of work at a time already (the ledger's lock): the row is ours until commit
        return self.get(event_id)

    def replace_pending(self, event_id: str, values: Mapping[str, Any]) -> bool:
        return self._move(event_id, expected=Status.PENDING, **values)


class FakeTransferRepository(_FakeIntentRepository):
    row_type = TransferRow

    def for_ticket(self, ticket_id: str) -> list[TransferRow]:
        return self.for_tickets([ticket_id])[ticket_id]

    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[TransferRow]]:
        out: dict[str, list[TransferRow]] = {t: [] for t in ticket_ids}
        for r in sorted(self._rows.values(), key=_by_id):
            if r.ticket_id in out:
                out[r.ticket_id].append(replace(r))
        return out

    def record_observed(self, row: Mapping[str, Any]) -> bool:
        if row["transfer_id"] in self._rows:
            return False  # ON CONFLICT DO NOTHING
        now = self._ledger.now
        self._rows[row["transfer_id"]] = TransferRow(
            id=next(self._ledger._ids),
            status=Status.COMPLETED,
            created_at=now,
            updated_at=now,
            completed_at=now,
            **row,
        )
        return True


class FakeAttemptRepository:
    def __init__(self, rows: dict[str, AttemptRow], ledger: FakeLedger) -> None:
        self._rows = rows  # by signature (unique)
        self._ledger = ledger

    def record(
        self,
        kind: str,
        ref_id: str,
        signature: str,
        last_valid_block_height: int,
        payer: str | None = None,
    ) -> None:
        if signature not in self._rows:
            self._rows[signature] = AttemptRow(
                id=next(self._ledger._ids),
                kind=kind,
                ref_id=ref_id,
                signature=signature,
                last_valid_block_height=last_valid_block_height,
                payer=payer,
                created_at=self._ledger.now,
            )

    def record_many(self, kind: str, items: Sequence[Submission]) -> None:
        for i in items:
            self.record(kind, i.key, i.signature, i.last_valid_block_height, payer=i.payer)

    def mark_sent(self, signatures: str | Sequence[str]) -> None:
        sigs = [signatures] if isinstance(signatures, str) else list(signatures)
        for sig in sigs:
            row = self._rows.get(sig)
            if row is not None and row.sent_at is None:
                row.sent_at = self._ledger.now

    def set_outcome(self, signature: str, outcome: str, error: str | None = None) -> None:
        if signature in self._rows:
            self._rows[signature].outcome = outcome
            self._rows[signature].error = error

    def set_outcomes(self, signatures, outcome: str) -> None:
        for signature in signatures:
            self.set_outcome(signature, outcome)

    def list_for(self, kind: str, ref_id: str) -> list[AttemptRow]:
        rows = [a for a in self._rows.values() if (a.kind, a.ref_id) == (kind, ref_id)]
        return [replace(a) for a in sorted(rows, key=_by_id)]


class FakeMetricsRepository:
    def __init__(self, ledger: FakeLedger) -> None:
        self._ledger = ledger

    def insert_batch(self, rows: Sequence[Mapping[str, Any]]) -> int:
        self._ledger.metrics.extend(rows)
        return len(rows)

    def ping(self) -> None:
        return None
