"""The ledger: nft_mints, nft_transfers, nft_attempts, and metrics when it does not exist yet.

The monitoring service owns ``metrics`` in the shared database: we create it only when it is
absent, mark it with a table comment, and drop it on downgrade only when that mark is ours.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OURS = "created-by:ticket-minter"
STATUS_CHECK = "status IN ('pending', 'submitted', 'completed', 'failed')"


def _intent_columns():
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("signature", sa.String(128)),
        sa.Column("signed_tx", sa.LargeBinary),
        sa.Column("last_valid_block_height", sa.BigInteger),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    ]


def upgrade() -> None:
    op.create_table(
        "nft_mints",
        sa.Column("ticket_id", sa.String(128), nullable=False),
        sa.Column("mint_address", sa.String(64), nullable=False),
        sa.Column("owner_address", sa.String(64), nullable=False),
        sa.Column("standard", sa.String(16), nullable=False),
        sa.Column("metadata", JSONB, nullable=False),
        sa.Column("event_id", sa.String(128)),
        sa.Column("venue_id", sa.String(128)),
        *_intent_columns(),
        sa.UniqueConstraint("ticket_id", name="uq_nft_mints_ticket_id"),
        sa.UniqueConstraint("mint_address", name="uq_nft_mints_mint_address"),
        sa.CheckConstraint(STATUS_CHECK, name="ck_nft_mints_status"),
        sa.CheckConstraint("standard IN ('metaplex', 'token2022')", name="ck_nft_mints_standard"),
    )
    op.create_index("ix_nft_mints_status_updated", "nft_mints", ["status", "updated_at"])

    op.create_table(
        "nft_transfers",
        sa.Column("transfer_id", sa.String(128), nullable=False),
        sa.Column("ticket_id", sa.String(128), nullable=False),
        sa.Column("token_address", sa.String(64), nullable=False),
        sa.Column("from_address", sa.String(64), nullable=False),
        sa.Column("to_address", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, server_default="1", nullable=False),
        *_intent_columns(),
        sa.UniqueConstraint("transfer_id", name="uq_nft_transfers_transfer_id"),
        sa.UniqueConstraint("signature", name="uq_nft_transfers_signature"),
        sa.CheckConstraint(STATUS_CHECK, name="ck_nft_transfers_status"),
    )
    op.create_index("ix_nft_transfers_status_updated", "nft_transfers", ["status", "updated_at"])
    op.create_index("ix_nft_transfers_ticket_id", "nft_transfers", ["ticket_id"])

    op.create_table(
        "nft_attempts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref_id", sa.String(128), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("last_valid_block_height", sa.BigInteger, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("outcome", sa.String(32)),
        sa.Column("error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.UniqueConstraint("signature", name="uq_nft_attempts_signature"),
        sa.CheckConstraint("kind IN ('mint', 'transfer')", name="ck_nft_attempts_kind"),
    )
    op.create_index("ix_nft_attempts_ref", "nft_attempts", ["kind", "ref_id"])

    if not sa.inspect(op.get_bind()).has_table("metrics"):
        op.create_table(
            "metrics",
            sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column("metric_name", sa.String(255), nullable=False),
            sa.Column("service_name", sa.String(255), nullable=False),
            sa.Column("value", sa.Double, nullable=False),
            sa.Column("metric_type", sa.String(32), nullable=False),
            sa.Column("labels", JSONB, server_default="{}", nullable=False),
            sa.Column("timestamp", sa.DateTime(timezone=True), server_default=sa.func.now(),
                      nullable=False),
            comment=OURS,
        )
        op.create_index("ix_metrics_name_timestamp", "metrics", ["metric_name", "timestamp"])


def downgrade() -> None:
    bind = op.get_bind()
    comment = bind.execute(
        sa.text("SELECT obj_description(to_regclass('metrics'), 'pg_class')")
    ).scalar()
    if comment == OURS:
        op.drop_table("metrics")
    op.drop_table("nft_attempts")
    op.drop_table("nft_transfers")
    op.drop_table("nft_mints")
