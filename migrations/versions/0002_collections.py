"""Events and their collections (nft_collections); the `core` standard; collection attempts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATUS_CHECK = "status IN ('pending', 'submitted', 'completed', 'failed')"


def _now_column(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def _swap_check(table: str, name: str, condition: str) -> None:
    op.drop_constraint(name, table, type_="check")
    op.create_check_constraint(name, table, condition)


def upgrade() -> None:
    op.create_table(
        "nft_collections",
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("collection_address", sa.String(64), nullable=False),
        sa.Column("standard", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("symbol", sa.Text, nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("venue_id", sa.String(128)),
        sa.Column("capacity", sa.Integer),
        sa.Column("transfer_policy", sa.String(32), nullable=False),
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
        sa.UniqueConstraint("event_id", name="uq_nft_collections_event_id"),
        sa.UniqueConstraint("collection_address", name="uq_nft_collections_collection_address"),
        sa.CheckConstraint(STATUS_CHECK, name="ck_nft_collections_status"),
        sa.CheckConstraint(
            "standard IN ('core', 'metaplex', 'token2022')", name="ck_nft_collections_standard"
        ),
        sa.CheckConstraint(
            "transfer_policy IN ('transferable', 'locked_until_checkin', 'non_transferable')",
            name="ck_nft_collections_transfer_policy",
        ),
        sa.CheckConstraint("capacity IS NULL OR capacity > 0", name="ck_nft_collections_capacity"),
    )
    op.create_index(
        "ix_nft_collections_status_updated", "nft_collections", ["status", "updated_at"]
    )
    op.create_index("ix_nft_mints_event_id", "nft_mints", ["event_id"])
    _swap_check(
        "nft_mints", "ck_nft_mints_standard", "standard IN ('core', 'metaplex', 'token2022')"
    )
    _swap_check(
        "nft_attempts", "ck_nft_attempts_kind", "kind IN ('mint', 'transfer', 'collection')"
    )


def downgrade() -> None:
    op.execute("DELETE FROM nft_attempts WHERE kind = 'collection'")
    _swap_check("nft_attempts", "ck_nft_attempts_kind", "kind IN ('mint', 'transfer')")
    _swap_check("nft_mints", "ck_nft_mints_standard", "standard IN ('metaplex', 'token2022')")
    op.drop_index("ix_nft_mints_event_id", "nft_mints")
    op.drop_table("nft_collections")
