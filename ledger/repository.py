"""Repositories over one Session: idempotent intents, guarded transitions, claims that skip locks.

A transition is ``UPDATE … WHERE key = :key AND status = :expected``; it reports whether the row
moved and never raises on a lost race. Claims use ``FOR UPDATE SKIP LOCKED`` so two workers
never hold the same row. Times come from the database (``now()``), the same for every worker.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from ledger.models import (
    Metric,
    NftAttempt,
    NftCollection,
    NftMint,
    NftTransfer,
    Status,
    Submission,
    TicketOperation,
    Watched,
)

M = TypeVar("M", NftMint, NftTransfer, NftCollection, TicketOperation)
CHANGES = "ledger.changes"  # Session.info key: the terminal changes of the open transaction
TERMINAL = (Status.COMPLETED, Status.FAILED)
# Bulk UPDATEs refresh only the rows they matched (RETURNING their keys): the default,
# "evaluate", tests every object of the session against the WHERE clause, and a confirm pass
# holding 256 claimed rows paid that for each of its 256 updates.
_SYNC = "fetch"


@dataclass(frozen=True)
class Change:
    """A row reached a terminal status in this transaction (the unit of work publishes it)."""

    table: str
    key: str
    status: str
    slot: int | None = None  # the landing slot, when the caller knows it


def note_change(session: Session, change: Change) -> None:
    session.info.setdefault(CHANGES, []).append(change)


# CollectionRepository and OperationRepository: ledger/lifecycle_repository.py
DEFAULT_PAGE = 1000


class IntentRepository(Generic[M]):
    """What mints and transfers share: keyed by ``model.KEY`` (ticket_id or transfer_id)."""

    model: type[M]

    def __init__(self, session: Session) -> None:
        self.session = session
        self.key = getattr(self.model, self.model.KEY)

    # intents -----------------------------------------------------------------------------------
    def add_intents(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[M, bool]]:
        """Insert what is new, keep what exists; rows in input order with a created flag."""
        if not rows:
            return []
        keys = [r[self.model.KEY] for r in rows]
        values = [{**r, "status": Status.PENDING} for r in rows]
        if "metadata" in values[0]:  # the attribute behind the "metadata" column
            values = [
                {**{k: v for k, v in r.items() if k != "metadata"}, "metadata_": r["metadata"]}
                for r in values
            ]
        # many parameter sets for one statement (SQLAlchemy's insertmanyvalues: compiled once,
        # cached); one VALUES list of them all was compiled anew for every chunk, 9,000 bind
        # parameters for 1,000 tickets, and was two fifths of an intake's CPU
        stmt = insert(self.model).on_conflict_do_nothing().returning(self.key)
        created = set(self.session.scalars(stmt, values).all())
        by_key = {getattr(r, self.model.KEY): r for r in self.get_many(keys)}
        return [(by_key[k], k in created) for k in keys]

    def get(self, key: str) -> M | None:
        return self.session.scalars(
            select(self.model).where(self.key == key).execution_options(populate_existing=True)
        ).one_or_none()

    def get_many(self, keys: Sequence[str]) -> list[M]:
        rows = self.session.scalars(
            select(self.model)
            .where(self.key.in_(list(keys)))
            .execution_options(populate_existing=True)
        ).all()
        order = {k: i for i, k in enumerate(keys)}
        return sorted(rows, key=lambda r: order[getattr(r, self.model.KEY)])

    # claims ------------------------------------------------------------------------------------
    def claim_pending(self, key: str) -> M | None:
        """Lock the row if it is ``pending`` and no one else holds it."""
        return self.session.scalars(
            select(self.model)
            .where(self.key == key, self.model.status == Status.PENDING)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).one_or_none()

    def claim_pending_many(self, keys: Sequence[str]) -> list[M]:
        """:meth:`claim_pending` for many keys in one SELECT, in the order they were recorded."""
        return list(
            self.session.scalars(
                select(self.model)
                .where(self.key.in_(list(keys)), self.model.status == Status.PENDING)
                .order_by(self.model.id)
                .with_for_update(skip_locked=True)
                .execution_options(populate_existing=True)
            ).all()
        )

    def has_status(self, status: str) -> bool:
        """Some row is in ``status`` (an index lookup, no lock)."""
        return bool(
            self.session.scalar(
                select(select(self.model.id).where(self.model.status == status).exists())
            )
        )

    def claim_submitted(self, *, limit: int) -> list[Watched]:
        """Lock up to ``limit`` ``submitted`` rows no other confirmer holds, least recently
        checked first, as :class:`Watched` tuples (loading 256 rows as objects, with their
        signed bytes and payloads, on every pass was a third of a confirmer's CPU)."""
        m = self.model
        stmt = (
            select(self.key, m.signature, m.last_valid_block_height, func.now() - m.updated_at)
            .where(m.status == Status.SUBMITTED)
            .order_by(m.checked_at.asc().nulls_first(), m.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [Watched(*row) for row in self.session.execute(stmt)]

    def signed_txs(self, keys: Sequence[str]) -> dict[str, bytes]:
        """Signature -> signed bytes of the rows ``keys`` (the latest attempt of each)."""
        if not keys:
            return {}
        m = self.model
        stmt = select(m.signature, m.signed_tx).where(self.key.in_(list(keys)))
        return {sig: bytes(raw) for sig, raw in self.session.execute(stmt) if raw is not None}

    def mark_checked(self, keys: Sequence[str]) -> None:
        if keys:
            self.session.execute(
                update(self.model)
                .where(self.key.in_(list(keys)))
                .values(checked_at=func.now())
                .execution_options(synchronize_session=_SYNC)
            )

    def requeue_stale_pending(self, *, older_than: timedelta, limit: int) -> list[str]:
        """Touch and return ``pending`` rows idle for ``older_than`` (their wake-up was lost)."""
        stale = (
            select(self.model.id)
            .where(
                self.model.status == Status.PENDING,
                self.model.updated_at < func.now() - older_than,
            )
            .order_by(self.model.updated_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(self.model)
            .where(self.model.id.in_(stale))
            .values(updated_at=func.now())
            .returning(self.key)
        )
        return list(self.session.scalars(stmt).all())

    # guarded transitions -------------------------------------------------------------------------
    def _move(self, key: str, *, expected: str, slot: int | None = None, **values: Any) -> bool:
        stmt = (
            update(self.model)
            .where(self.key == key, self.model.status == expected)
            .values(updated_at=func.now(), **values)
            .execution_options(synchronize_session=_SYNC)
        )
        moved = self.session.execute(stmt).rowcount == 1
        if moved and values.get("status") in TERMINAL:
            note_change(self.session, Change(self.model.__tablename__, key, values["status"], slot))
        return moved

    def mark_submitted(
        self,
        key: str,
        *,
        expected: str,
        signature: str,
        signed_tx: bytes,
        last_valid_block_height: int,
    ) -> bool:
        return self._move(
            key,
            expected=expected,
            status=Status.SUBMITTED,
            signature=signature,
            signed_tx=signed_tx,
            last_valid_block_height=last_valid_block_height,
            attempts=self.model.attempts + 1,
        )

    def mark_submitted_many(self, items: Sequence[Submission], *, expected: str) -> list[str]:
        """:meth:`mark_submitted` for many rows in one UPDATE (plain SQL over arrays: one
        statement text whatever the count, prepared once per connection); the keys that moved."""
        if not items:
            return []
        table, key = self.model.__tablename__, self.model.KEY
        stmt = text(
            f"UPDATE {table} AS t SET status = :submitted, signature = v.signature,"
            " signed_tx = v.signed_tx, last_valid_block_height = v.height,"
            " attempts = t.attempts + 1, updated_at = now()"
            " FROM unnest(CAST(:keys AS text[]), CAST(:sigs AS text[]),"
            " CAST(:txs AS bytea[]), CAST(:heights AS bigint[]))"
            " AS v(key, signature, signed_tx, height)"
            f" WHERE t.{key} = v.key AND t.status = :expected RETURNING t.{key}"
        )
        return list(
            self.session.scalars(
                stmt,
                {
                    "submitted": Status.SUBMITTED.value,
                    "expected": str(expected),
                    "keys": [i.key for i in items],
                    "sigs": [i.signature for i in items],
                    "txs": [i.signed_tx for i in items],
                    "heights": [i.last_valid_block_height for i in items],
                },
            ).all()
        )

    def mark_completed(
        self, key: str, *, expected: str, signature: str | None = None, slot: int | None = None
    ) -> bool:
        extra = {"signature": signature} if signature else {}
        return self._move(
            key,
            expected=expected,
            slot=slot,
            status=Status.COMPLETED,
            completed_at=func.now(),
            **extra,
        )

    def mark_completed_many(self, slots: Mapping[str, int | None], *, expected: str) -> list[str]:
        """:meth:`mark_completed` for many rows at once (key -> the slot it landed in), in one
        UPDATE; returns the keys that moved."""
        if not slots:
            return []
        stmt = (
            update(self.model)
            .where(self.key.in_(list(slots)), self.model.status == expected)
            .values(updated_at=func.now(), status=Status.COMPLETED, completed_at=func.now())
            .returning(self.key)
            .execution_options(synchronize_session=_SYNC)
        )
        moved = list(self.session.scalars(stmt).all())
        for key in moved:
            note_change(
                self.session,
                Change(self.model.__tablename__, key, Status.COMPLETED, slots[key]),
            )
        return moved

    def mark_failed(self, key: str, *, expected: str, reason: str) -> bool:
        return self._move(key, expected=expected, status=Status.FAILED, last_error=reason)

    def reset_to_pending(self, key: str, *, expected: str, reason: str) -> bool:
        return self._move(key, expected=expected, status=Status.PENDING, last_error=reason)

    def note_error(self, key: str, reason: str) -> None:
        self.session.execute(
            update(self.model)
            .where(self.key == key)
            .values(last_error=reason, updated_at=func.now())
            .execution_options(synchronize_session=_SYNC)
        )

    # reporting -----------------------------------------------------------------------------------
    def count_by_status(self) -> dict[str, int]:
        rows = self.session.execute(
            select(self.model.status, func.count()).group_by(self.model.status)
        ).all()
        return dict(rows)

    def db_now(self) -> datetime:
        return self.session.scalar(select(func.now()))

    def iter_pages(self, *, page: int = DEFAULT_PAGE) -> Iterator[list[M]]:
        """Every row in id order, ``page`` at a time (keyset pagination)."""
        last = 0
        while True:
            rows = list(
                self.session.scalars(
                    select(self.model)
                    .where(self.model.id > last)
                    .order_by(self.model.id)
                    .limit(page)
                ).all()
            )
            if not rows:
                return
            yield rows
            last = rows[-1].id


class MintRepository(IntentRepository[NftMint]):
    model = NftMint

    def count_by_status_and_standard(self) -> dict[tuple[str, str], int]:
        rows = self.session.execute(
            select(NftMint.status, NftMint.standard, func.count()).group_by(
                NftMint.status, NftMint.standard
            )
        ).all()
        return {(status, standard): n for status, standard, n in rows}

    def recent_signatures(self, *, standard: str, limit: int) -> list[str]:
        """Signatures of the latest completed mints of ``standard``, newest first."""
        return list(
            self.session.scalars(
                select(NftMint.signature)
                .where(
                    NftMint.status == Status.COMPLETED,
                    NftMint.standard == standard,
                    NftMint.signature.is_not(None),
                )
                .order_by(NftMint.completed_at.desc())
                .limit(limit)
            ).all()
        )

    def completed_since(self, since: datetime) -> list[tuple[str, float, datetime]]:
        """(standard, seconds from intent to completed, completed_at) of later completions."""
        seconds = func.extract("epoch", NftMint.completed_at - NftMint.created_at)
        rows = self.session.execute(
            select(NftMint.standard, seconds, NftMint.completed_at)
            .where(NftMint.status == Status.COMPLETED, NftMint.completed_at > since)
            .order_by(NftMint.completed_at)
        ).all()
        return [(standard, float(s), at) for standard, s, at in rows]

    def count_for_event(self, event_id: str) -> int:
        return self.session.scalar(
            select(func.count()).select_from(NftMint).where(NftMint.event_id == event_id)
        )

    def count_by_status_for_event(self, event_id: str) -> dict[str, int]:
        rows = self.session.execute(
            select(NftMint.status, func.count())
            .where(NftMint.event_id == event_id)
            .group_by(NftMint.status)
        ).all()
        return dict(rows)

    def pending_for_event(self, event_id: str, *, limit: int = DEFAULT_PAGE) -> list[str]:
        """Tickets of the event still waiting to be minted (woken when its collection lands)."""
        return list(
            self.session.scalars(
                select(NftMint.ticket_id)
                .where(NftMint.event_id == event_id, NftMint.status == Status.PENDING)
                .order_by(NftMint.id)
                .limit(limit)
            ).all()
        )

    def change_state(
        self, ticket_id: str, *, expected: Sequence[str], state: str, **values: Any
    ) -> NftMint | None:
        """Move the ticket's lifecycle ``state`` if it is one of ``expected`` (one guarded
        UPDATE: of concurrent callers exactly one wins); the moved row, or None. ``updated_at``
        is left alone: it is the protocol's clock (the sweeper's), not the lifecycle's."""
        stmt = (
            update(NftMint)
            .where(NftMint.ticket_id == ticket_id, NftMint.state.in_(list(expected)))
            .values(state=state, **values)
            .returning(NftMint)
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(stmt).one_or_none()

    def reissue(self, ticket_id: str, *, expected: Sequence[str]) -> NftMint | None:
        """The next version, counted in the UPDATE itself (never from a row read before it)."""
        return self.change_state(
            ticket_id, expected=expected, state="reissued", version=NftMint.version + 1
        )

    def admit(self, ticket_id: str, *, expected: Sequence[str], gate: str) -> NftMint | None:
        """Check the ticket in now at ``gate`` (see :meth:`change_state`)."""
        return self.change_state(
            ticket_id,
            expected=expected,
            state="checked_in",
            checked_in_at=func.now(),
            checked_in_gate=gate,
        )


class TransferRepository(IntentRepository[NftTransfer]):
    model = NftTransfer

    def for_ticket(self, ticket_id: str) -> list[NftTransfer]:
        return list(
            self.session.scalars(
                select(NftTransfer)
                .where(NftTransfer.ticket_id == ticket_id)
                .order_by(NftTransfer.id)
                .execution_options(populate_existing=True)
            ).all()
        )

    def record_observed(self, row: Mapping[str, Any]) -> bool:
        """Record a move seen on chain but not made by us, as ``completed``; False if known."""
        stmt = (
            insert(NftTransfer)
            .values({**row, "status": Status.COMPLETED, "completed_at": func.now()})
            .on_conflict_do_nothing()
            .returning(NftTransfer.id)
        )
        recorded = self.session.scalar(stmt) is not None
        if recorded:
            note_change(self.session, Change("nft_transfers", row["transfer_id"], Status.COMPLETED))
        return recorded

    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[NftTransfer]]:
        """Each ticket's transfers in the order they were recorded."""
        out: dict[str, list[NftTransfer]] = {t: [] for t in ticket_ids}
        rows = self.session.scalars(
            select(NftTransfer)
            .where(NftTransfer.ticket_id.in_(list(ticket_ids)))
            .order_by(NftTransfer.id)
        ).all()
        for row in rows:
            out[row.ticket_id].append(row)
        return out


class AttemptRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        kind: str,
        ref_id: str,
        signature: str,
        last_valid_block_height: int,
        payer: str | None = None,
    ) -> None:
        self.session.execute(
            insert(NftAttempt)
            .values(
                kind=kind,
                ref_id=ref_id,
                signature=signature,
                last_valid_block_height=last_valid_block_height,
                payer=payer,
            )
            .on_conflict_do_nothing(index_elements=["signature"])
        )

    def record_many(self, kind: str, items: Sequence[Submission]) -> None:
        """:meth:`record` for many attempts in one INSERT (one statement text whatever the
        count)."""
        if not items:
            return
        self.session.execute(
            text(
                "INSERT INTO nft_attempts (kind, ref_id, signature, last_valid_block_height, payer)"
                " SELECT :kind, * FROM unnest(CAST(:refs AS text[]), CAST(:sigs AS text[]),"
                " CAST(:heights AS bigint[]), CAST(:payers AS text[]))"
                " ON CONFLICT (signature) DO NOTHING"
            ),
            {
                "kind": kind,
                "refs": [i.key for i in items],
                "sigs": [i.signature for i in items],
                "heights": [i.last_valid_block_height for i in items],
                "payers": [i.payer for i in items],
            },
        )

    def mark_sent(self, signatures: str | Sequence[str]) -> None:
        """Record when each attempt was first sent: one UPDATE, and only where ``sent_at`` is
        NULL, so a rebroadcast (or a slower first send racing one) never moves it later."""
        sigs = [signatures] if isinstance(signatures, str) else list(signatures)
        if sigs:
            self.session.execute(
                update(NftAttempt)
                .where(NftAttempt.signature.in_(sigs), NftAttempt.sent_at.is_(None))
                .values(sent_at=func.now())
                .execution_options(synchronize_session=_SYNC)
            )

    def set_outcome(self, signature: str, outcome: str, error: str | None = None) -> None:
        self.session.execute(
            update(NftAttempt)
            .where(NftAttempt.signature == signature)
            .values(outcome=outcome, error=error)
            .execution_options(synchronize_session=_SYNC)
        )

    def set_outcomes(self, signatures: Sequence[str], outcome: str) -> None:
        """:meth:`set_outcome` (without an error) for many attempts, in one UPDATE."""
        if signatures:
            self.session.execute(
                update(NftAttempt)
                .where(NftAttempt.signature.in_(list(signatures)))
                .values(outcome=outcome, error=None)
                .execution_options(synchronize_session=_SYNC)
            )

    def list_for(self, kind: str, ref_id: str) -> list[NftAttempt]:
        return list(
            self.session.scalars(
                select(NftAttempt)
                .where(NftAttempt.kind == kind, NftAttempt.ref_id == ref_id)
                .order_by(NftAttempt.id)
            ).all()
        )


class MetricsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def insert_batch(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """One multi-row INSERT (metric_name, service_name, value, metric_type, labels)."""
        if not rows:
            return 0
        self.session.execute(insert(Metric).values(list(rows)))
        return len(rows)

    def ping(self) -> None:
        self.session.execute(text("SELECT 1"))
