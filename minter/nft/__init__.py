"""Ticket NFTs on chain: intake, instructions for both standards, the transaction, checks."""

from minter.nft.flat import from_flat
from minter.nft.request import (
    MintRequest,
    TransferRequest,
    parse_mint_request,
    parse_transfer_request,
)
from minter.nft.transaction import MAX_TRANSACTION_BYTES, build_mint_transaction
from minter.nft.verify import Verification, accounts_to_read, check_accounts, verify_minted

__all__ = [
    "MAX_TRANSACTION_BYTES",
    "MintRequest",
    "TransferRequest",
    "Verification",
    "accounts_to_read",
    "check_accounts",
    "build_mint_transaction",
    "from_flat",
    "parse_mint_request",
    "parse_transfer_request",
    "verify_minted",
]
