"""The ledger's tables (DESIGN.md, "Ledger"): legacy names, plus what the protocol needs.

``payload`` holds the canonical request, compared for "same payload" repeats; ``checked_at``
lets the confirmer take the rows it looked at least recently first.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Status(StrEnum):
    """Where an intent row (mint or transfer) stands; moved only by guarded transitions."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"


class Submission(NamedTuple):
    """One signed attempt of an intent row, to be committed before it is sent."""

    key: str  # the row's ticket_id, transfer_id, event_id or operation_id
    signature: str
    signed_tx: bytes
    last_valid_block_height: int
    payer: str | None = None  # the transaction's fee payer (account key 0)


class Watched(NamedTuple):
    """A ``submitted`` row as a confirmer pass claims it: only what it compares with the chain
    (its signed bytes are read for the few it sends again)."""

    key: str  # the row's ticket_id, transfer_id, event_id or operation_id
    signature: str
    last_valid_block_height: int
    age: timedelta  # since it was submitted (its last transition), by the database's clock


class TicketState(StrEnum):
    """A ticket's lifecycle (DESIGN.md, Ticket lifecycle), decided in the ledger at once; the
    chain write of each change follows as a ``ticket_operations`` row."""

    MINTED = "minted"
    CHECKED_IN = "checked_in"
    INVALIDATED = "invalidated"
    REISSUED = "reissued"  # a later version is the valid one


class Outcome(StrEnum):
    """What became of one signed transaction (``nft_attempts.outcome``; NULL until known)."""

    LANDED = "landed"
    EXPIRED = "expired"  # its blockhash expired and the cluster never saw it
    SUPERSEDED = "superseded"  # another attempt of the same row landed
    REJECTED = "rejected"  # refused on send (preflight)
    FAILED = "failed"  # landed with an error


STATUSES = tuple(s.value for s in Status)  # plain strings: they are written into DDL
TICKET_STATES = tuple(s.value for s in TicketState)
STANDARDS = ("core", "metaplex", "token2022")
ATTEMPT_KINDS = ("mint", "transfer", "collection", "operation")
OPERATION_KINDS = ("check_in", "invalidate", "reissue")
TRANSFER_POLICIES = ("transferable", "locked_until_checkin", "non_transferable")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map = {dict[str, Any]: JSONB}


def _now():
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class _Intent:
    """Columns every intent row (mint or transfer) carries through the protocol."""

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    status: Mapped[str] = mapped_column(
        String(16), server_default=Status.PENDING.value, nullable=False
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    signature: Mapped[str | None] = mapped_column(String(128))
    signed_tx: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_valid_block_height: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class NftMint(_Intent, Base):
    __tablename__ = "nft_mints"
    __table_args__ = (
        UniqueConstraint("ticket_id", name="uq_nft_mints_ticket_id"),
        UniqueConstraint("mint_address", name="uq_nft_mints_mint_address"),
        CheckConstraint(_in("status", STATUSES), name="ck_nft_mints_status"),
        CheckConstraint(_in("standard", STANDARDS), name="ck_nft_mints_standard"),
        CheckConstraint(_in("state", TICKET_STATES), name="ck_nft_mints_state"),
        Index("ix_nft_mints_status_updated", "status", "updated_at"),
        Index("ix_nft_mints_event_id", "event_id"),
    )

    ticket_id: Mapped[str] = mapped_column(String(128), nullable=False)
    mint_address: Mapped[str] = mapped_column(String(64), nullable=False)
    owner_address: Mapped[str] = mapped_column(String(64), nullable=False)
    standard: Mapped[str] = mapped_column(String(16), nullable=False)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, nullable=False)
    event_id: Mapped[str | None] = mapped_column(String(128))
    venue_id: Mapped[str | None] = mapped_column(String(128))
    # the lifecycle: decided here first, written on chain by ticket_operations
    state: Mapped[str] = mapped_column(
        String(16), server_default=TicketState.MINTED.value, nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, server_default="1", nullable=False)
    checked_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    checked_in_gate: Mapped[str | None] = mapped_column(Text)

    KEY = "ticket_id"


class NftTransfer(_Intent, Base):
    __tablename__ = "nft_transfers"
    __table_args__ = (
        UniqueConstraint("transfer_id", name="uq_nft_transfers_transfer_id"),
        UniqueConstraint("signature", name="uq_nft_transfers_signature"),
        CheckConstraint(_in("status", STATUSES), name="ck_nft_transfers_status"),
        Index("ix_nft_transfers_status_updated", "status", "updated_at"),
        Index("ix_nft_transfers_ticket_id", "ticket_id"),
    )

    transfer_id: Mapped[str] = mapped_column(String(128), nullable=False)
    ticket_id: Mapped[str] = mapped_column(String(128), nullable=False)
    token_address: Mapped[str] = mapped_column(String(64), nullable=False)
    from_address: Mapped[str] = mapped_column(String(64), nullable=False)
    to_address: Mapped[str] = mapped_column(String(64), nullable=False)
    amount: Mapped[int] = mapped_column(BigInteger, server_default="1", nullable=False)

    KEY = "transfer_id"


class TicketOperation(_Intent, Base):
    """One lifecycle operation of a ticket, keyed by the caller's ``operation_id``; its chain
    write follows the mint protocol. ``address`` is the asset it acts on (reissue: creates)."""

    __tablename__ = "ticket_operations"
    __table_args__ = (
        UniqueConstraint("operation_id", name="uq_ticket_operations_operation_id"),
        CheckConstraint(_in("status", STATUSES), name="ck_ticket_operations_status"),
        CheckConstraint(_in("kind", OPERATION_KINDS), name="ck_ticket_operations_kind"),
        Index("ix_ticket_operations_status_updated", "status", "updated_at"),
        Index("ix_ticket_operations_ticket_id", "ticket_id"),
    )

    operation_id: Mapped[str] = mapped_column(String(128), nullable=False)
    ticket_id: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    address: Mapped[str] = mapped_column(String(64), nullable=False)

    KEY = "operation_id"


class NftAttempt(Base):
    """One row per signed transaction of a mint or a transfer: the ledger explains each."""

    __tablename__ = "nft_attempts"
    __table_args__ = (
        UniqueConstraint("signature", name="uq_nft_attempts_signature"),
        CheckConstraint(_in("kind", ATTEMPT_KINDS), name="ck_nft_attempts_kind"),
        Index("ix_nft_attempts_ref", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    ref_id: Mapped[str] = mapped_column(String(128), nullable=False)
    signature: Mapped[str] = mapped_column(String(128), nullable=False)
    last_valid_block_height: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    # the fee payer (account key 0) of this signed transaction; NULL before revision 0005
    payer: Mapped[str | None] = mapped_column(String(44))
    created_at: Mapped[datetime] = _now()


class NftCollection(_Intent, Base):
    """One row per registered event: its fields and its collection's creation, exactly once."""

    __tablename__ = "nft_collections"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_nft_collections_event_id"),
        UniqueConstraint("collection_address", name="uq_nft_collections_collection_address"),
        CheckConstraint(_in("status", STATUSES), name="ck_nft_collections_status"),
        CheckConstraint(_in("standard", STANDARDS), name="ck_nft_collections_standard"),
        CheckConstraint(
            _in("transfer_policy", TRANSFER_POLICIES), name="ck_nft_collections_transfer_policy"
        ),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="ck_nft_collections_capacity"),
        Index("ix_nft_collections_status_updated", "status", "updated_at"),
    )

    event_id: Mapped[str] = mapped_column(String(128), nullable=False)
    collection_address: Mapped[str] = mapped_column(String(64), nullable=False)
    standard: Mapped[str] = mapped_column(String(16), nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    symbol: Mapped[str] = mapped_column(Text, nullable=False)
    uri: Mapped[str] = mapped_column(Text, nullable=False)
    venue_id: Mapped[str | None] = mapped_column(String(128))
    capacity: Mapped[int | None] = mapped_column(Integer)
    transfer_policy: Mapped[str] = mapped_column(String(32), nullable=False)

    KEY = "event_id"


class Metric(Base):
    """The monitoring store's table (owned by the monitoring service; legacy column names)."""

    __tablename__ = "metrics"
    __table_args__ = (Index("ix_metrics_name_timestamp", "metric_name", "timestamp"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    metric_name: Mapped[str] = mapped_column(String(255), nullable=False)
    service_name: Mapped[str] = mapped_column(String(255), nullable=False)
    value: Mapped[float] = mapped_column(Double, nullable=False)
    metric_type: Mapped[str] = mapped_column(String(32), nullable=False)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", nullable=False)
    timestamp: Mapped[datetime] = _now()


# ---------------------------------------------------------------------------------------------
# webhooks (DESIGN.md, Webhooks): endpoints, the outbox of events, and their delivery

EVENT_TYPES = (
    "mint.completed",
    "mint.failed",
    "transfer.completed",
    "transfer.failed",
    "collection.completed",
    "ticket.checked_in",
    "ticket.invalidated",
    "ticket.reissued",
)
ENDPOINT_STATUSES = ("active", "disabled", "deleted")
DISPATCH_STATUSES = ("pending", "delivered", "failed")
DELIVERY_OUTCOMES = ("delivered", "failed", "interrupted")


class WebhookEndpoint(Base):
    """A receiver of events. ``secret_nonce`` is all the ledger keeps of a registered secret
    (it is derived from the nonce and MINT_KEY_SECRET); ``default``'s comes from WEBHOOK_SECRET."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        UniqueConstraint("endpoint_id", name="uq_webhook_endpoints_endpoint_id"),
        UniqueConstraint("name", name="uq_webhook_endpoints_name"),
        CheckConstraint(_in("status", ENDPOINT_STATUSES), name="ck_webhook_endpoints_status"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(String(64), nullable=False)
    name: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text, nullable=False)
    events: Mapped[list[str]] = mapped_column(JSONB, nullable=False)
    secret_nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), server_default="active", nullable=False)
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class WebhookEvent(Base):
    """One event of the outbox, written in the transaction of the change it tells of."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_webhook_outbox_event_id"),
        UniqueConstraint("subject", "sequence", name="uq_webhook_outbox_subject_sequence"),
        CheckConstraint(_in("type", EVENT_TYPES), name="ck_webhook_outbox_type"),
        Index("ix_webhook_outbox_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    type: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(160), nullable=False)  # ticket:T or event:E
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now()


class WebhookSequence(Base):
    """The last ``sequence`` given to a subject's events; its row stays locked until the commit
    that used it, so a subject's numbers follow commit order."""

    __tablename__ = "webhook_sequences"

    subject: Mapped[str] = mapped_column(String(160), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, nullable=False)


class WebhookDispatch(Base):
    """One event owed to one endpoint: pending until delivered or failed for good. A ticket's
    dispatches to an endpoint go one at a time, in sequence order."""

    __tablename__ = "webhook_dispatches"
    __table_args__ = (
        CheckConstraint(_in("status", DISPATCH_STATUSES), name="ck_webhook_dispatches_status"),
        # partial: the sweep and the ordering check read pending rows only, a small set
        Index(
            "ix_webhook_dispatches_pending_next",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            "ix_webhook_dispatches_pending_order",
            "endpoint_id",
            "subject",
            "sequence",
            "id",
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_webhook_dispatches_outbox", "outbox_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    outbox_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_outbox.id"), nullable=False
    )
    endpoint_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_endpoints.id"), nullable=False
    )
    subject: Mapped[str] = mapped_column(String(160), nullable=False)
    sequence: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), server_default="pending", nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", nullable=False)
    next_attempt_at: Mapped[datetime] = _now()
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class WebhookDelivery(Base):
    """One attempt, recorded before the request leaves (``outcome`` NULL) and resolved after:
    an attempt cut short by a crash stays explainable (``interrupted``)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(
            f"outcome IS NULL OR {_in('outcome', DELIVERY_OUTCOMES)}",
            name="ck_webhook_deliveries_outcome",
        ),
        Index("ix_webhook_deliveries_dispatch", "dispatch_id"),
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    dispatch_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("webhook_dispatches.id"), nullable=False
    )
    event_id: Mapped[str] = mapped_column(String(64), nullable=False)
    endpoint_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = _now()
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Double)
    error: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(16))
