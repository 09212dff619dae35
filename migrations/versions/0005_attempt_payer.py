"""Each attempt records its fee payer (the fee-payer pool: SOLANA_PAYER_KEYPAIRS).

Nullable: attempts signed before this revision were paid by the one payer of the time, which
the ledger never recorded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a base58 public key: 32-44 characters
    op.add_column("nft_attempts", sa.Column("payer", sa.String(44)))


def downgrade() -> None:
    op.drop_column("nft_attempts", "payer")
