"""The ticket lifecycle: nft_mints.state/version/checked_in_*, ticket_operations, and
operation attempts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('pending', 'submitted', 'completed', 'failed')"
STATE_CHECK = "state IN ('minted', 'checked_in', 'invalidated', 'reissued')"


def _now_column(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.add_column(
        "nft_mints", sa.Column("state", sa.String(16), server_default="minted", nullable=False)
    )
    op.add_column("nft_mints", sa.Column("version", sa.Integer, server_default="1", nullable=False))
    op.add_column("nft_mints", sa.Column("checked_in_at", sa.DateTime(timezone=True)))
    op.add_column("nft_mints", sa.Column("checked_in_gate", sa.Text))
    op.create_check_constraint("ck_nft_mints_state", "nft_mints", STATE_CHECK)
    op.create_table(
        "ticket_operations",
        sa.Column("operation_id", sa.String(128), nullable=False),
        sa.Column("ticket_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        # the intent columns every row of the protocol carries (as in 0001, frozen here)
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("signature", sa.String(128)),
        sa.Column("signed_tx", sa.LargeBinary),
        sa.Column("last_valid_block_height", sa.BigInteger),
        sa.Column("attempts", sa.Integer, server_default="0", nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("checked_at", sa.DateTime(timezone=True)),
        _now_column("created_at"),
        _now_column("updated_at"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("operation_id", name="uq_ticket_operations_operation_id"),
        sa.CheckConstraint(STATUS_CHECK, name="ck_ticket_operations_status"),
        sa.CheckConstraint(
            "kind IN ('check_in', 'invalidate', 'reissue')", name="ck_ticket_operations_kind"
        ),
    )
    op.create_index(
        "ix_ticket_operations_status_updated", "ticket_operations", ["status", "updated_at"]
    )
    op.create_index("ix_ticket_operations_ticket_id", "ticket_operations", ["ticket_id"])
    op.drop_constraint("ck_nft_attempts_kind", "nft_attempts", type_="check")
    op.create_check_constraint(
        "ck_nft_attempts_kind",
        "nft_attempts",
        "kind IN ('mint', 'transfer', 'collection', 'operation')",
    )


def downgrade() -> None:
    op.execute("DELETE FROM nft_attempts WHERE kind = 'operation'")
    op.drop_constraint("ck_nft_attempts_kind", "nft_attempts", type_="check")
    op.create_check_constraint(
        "ck_nft_attempts_kind", "nft_attempts", "kind IN ('mint', 'transfer', 'collection')"
    )
    op.drop_table("ticket_operations")
    op.drop_constraint("ck_nft_mints_state", "nft_mints", type_="check")
    for column in ("checked_in_gate", "checked_in_at", "version", "state"):
        op.drop_column("nft_mints", column)
