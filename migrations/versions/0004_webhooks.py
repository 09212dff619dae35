"""Webhooks: endpoints, the outbox of events, each subject's last sequence number, dispatches (an
event owed to an endpoint) and deliveries (one row per attempt).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# frozen here, as the models' tuples were at this revision
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


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now_column(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _id() -> sa.Column:
    return sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        _id(),
        sa.Column("endpoint_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", JSONB, nullable=False),
        sa.Column("secret_nonce", sa.LargeBinary),
        sa.Column("status", sa.String(16), server_default="active", nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        _now_column("created_at"),
        _now_column("updated_at"),
        sa.UniqueConstraint("endpoint_id", name="uq_webhook_endpoints_endpoint_id"),
        sa.UniqueConstraint("name", name="uq_webhook_endpoints_name"),
        sa.CheckConstraint(
            _in("status", ("active", "disabled", "deleted")), name="ck_webhook_endpoints_status"
        ),
    )
    op.create_table(
        "webhook_outbox",
        _id(),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("data", JSONB, nullable=False),
        _now_column("created_at"),
        sa.UniqueConstraint("event_id", name="uq_webhook_outbox_event_id"),
        sa.UniqueConstraint("subject", "sequence", name="uq_webhook_outbox_subject_sequence"),
        sa.CheckConstraint(_in("type", EVENT_TYPES), name="ck_webhook_outbox_type"),
    )
    op.create_index("ix_webhook_outbox_created_at", "webhook_outbox", ["created_at"])
    op.create_table(
        "webhook_sequences",
        sa.Column("subject", sa.String(160), primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    op.create_table(
        "webhook_dispatches",
        _id(),
        sa.Column("outbox_id", sa.BigInteger, sa.ForeignKey("webhook_outbox.id"), nullable=False),
        sa.Column(
            "endpoint_id", sa.BigInteger, sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("sequence", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        _now_column("next_attempt_at"),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        _now_column("created_at"),
        _now_column("updated_at"),
        sa.CheckConstraint(
            _in("status", ("pending", "delivered", "failed")), name="ck_webhook_dispatches_status"
        ),
    )
    # partial: the sweep and the ordering check read pending rows only, a small set
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_webhook_dispatches_pending_next",
        "webhook_dispatches",
        ["next_attempt_at"],
        postgresql_where=pending,
    )
    op.create_index(
        "ix_webhook_dispatches_pending_order",
        "webhook_dispatches",
        ["endpoint_id", "subject", "sequence", "id"],
        postgresql_where=pending,
    )
    op.create_index("ix_webhook_dispatches_outbox", "webhook_dispatches", ["outbox_id"])
    op.create_table(
        "webhook_deliveries",
        _id(),
        sa.Column(
            "dispatch_id", sa.BigInteger, sa.ForeignKey("webhook_dispatches.id"), nullable=False
        ),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.BigInteger, nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        _now_column("started_at"),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Double),
        sa.Column("error", sa.String(200)),
        sa.Column("outcome", sa.String(16)),
        sa.CheckConstraint(
            "outcome IS NULL OR " + _in("outcome", ("delivered", "failed", "interrupted")),
            name="ck_webhook_deliveries_outcome",
        ),
    )
    op.create_index("ix_webhook_deliveries_dispatch", "webhook_deliveries", ["dispatch_id"])
    op.create_index("ix_webhook_deliveries_event_id", "webhook_deliveries", ["event_id"])


def downgrade() -> None:
    for table in (
        "webhook_deliveries",
        "webhook_dispatches",
        "webhook_sequences",
        "webhook_outbox",
    ):
        op.drop_table(table)
    op.drop_table("webhook_endpoints")
