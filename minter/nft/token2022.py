"""Token-2022 ticket NFTs: a mint with MetadataPointer (to itself) and TokenMetadata.

The mint account is created at the size of its MetadataPointer extension and funded for its
final size: TokenMetadata's Initialize and UpdateField reallocate it. Pure builders.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, create_account
from spl.token.constants import MULTISIG_LEN, TOKEN_2022_PROGRAM_ID
from spl.token.instructions import (
    AuthorityType,
    InitializeMintParams,
    MintToParams,
    SetAuthorityParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
    set_authority,
)

METADATA_POINTER_EXTENSION = 39  # token-2022 instruction
MINT_WITH_POINTER_LEN = 234  # 165 (padded base) + 1 (account type) + 4 (TLV header) + 64
TLV_HEADER = 4
# MULTISIG_LEN (355): an account of that length would read as a multisig, so Token-2022 …
UNINITIALIZED_EXTENSION = 2  # … pads it with one more (uninitialised) extension type
EXT_METADATA_POINTER = 18
EXT_TOKEN_METADATA = 19


def _discriminator(name: str) -> bytes:
    return hashlib.sha256(f"spl_token_metadata_interface:{name}".encode()).digest()[:8]


INITIALIZE = _discriminator("initialize_account")
UPDATE_FIELD = _discriminator("updating_field")
FIELD_KEY = 3  # Field::Key(String); Name, Symbol, Uri are 0, 1, 2


def borsh_string(value: str) -> bytes:
    raw = value.encode("utf-8")
    return struct.pack("<I", len(raw)) + raw


def metadata_len(name: str, symbol: str, uri: str, extra: list[tuple[str, str]]) -> int:
    """Bytes of the TokenMetadata value: authority, mint, three strings, the extra pairs."""
    pairs = sum(len(borsh_string(k)) + len(borsh_string(v)) for k, v in extra)
    strings = sum(len(borsh_string(s)) for s in (name, symbol, uri))
    return 32 + 32 + strings + 4 + pairs


@dataclass(frozen=True)
class Token2022Mint:
    payer: Pubkey
    mint: Pubkey
    owner: Pubkey
    name: str
    symbol: str
    uri: str
    extra: tuple[tuple[str, str], ...] = ()

    @property
    def final_len(self) -> int:
        size = (
            MINT_WITH_POINTER_LEN
            + TLV_HEADER
            + metadata_len(self.name, self.symbol, self.uri, list(self.extra))
        )
        return size + UNINITIALIZED_EXTENSION if size == MULTISIG_LEN else size

    @property
    def owner_account(self) -> Pubkey:
        return get_associated_token_address(self.owner, self.mint, TOKEN_2022_PROGRAM_ID)


def initialize_metadata_pointer(mint: Pubkey, authority: Pubkey) -> Instruction:
    data = bytes([METADATA_POINTER_EXTENSION, 0]) + bytes(authority) + bytes(mint)
    return Instruction(TOKEN_2022_PROGRAM_ID, data, [AccountMeta(mint, False, True)])


def initialize_token_metadata(p: Token2022Mint) -> Instruction:
    data = INITIALIZE + borsh_string(p.name) + borsh_string(p.symbol) + borsh_string(p.uri)
    accounts = [
        AccountMeta(p.mint, False, True),  # metadata lives in the mint itself
        AccountMeta(p.payer, False, False),  # update authority
        AccountMeta(p.mint, False, False),
        AccountMeta(p.payer, True, False),  # mint authority
    ]
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


def update_field(mint: Pubkey, authority: Pubkey, key: str, value: str) -> Instruction:
    data = UPDATE_FIELD + bytes([FIELD_KEY]) + borsh_string(key) + borsh_string(value)
    accounts = [AccountMeta(mint, False, True), AccountMeta(authority, True, False)]
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


def token2022_instructions(p: Token2022Mint, *, rent_lamports: int) -> list[Instruction]:
    """Create, point, initialise, describe, give the owner 1, and remove the mint authority.

    ``rent_lamports`` must cover :attr:`Token2022Mint.final_len` bytes.
    """
    program = TOKEN_2022_PROGRAM_ID
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=p.payer,
                to_pubkey=p.mint,
                lamports=rent_lamports,
                space=MINT_WITH_POINTER_LEN,
                owner=program,
            )
        ),
        initialize_metadata_pointer(p.mint, p.payer),
        initialize_mint(
            InitializeMintParams(
                decimals=0,
                freeze_authority=None,
                mint=p.mint,
                mint_authority=p.payer,
                program_id=program,
            )
        ),
        initialize_token_metadata(p),
        *(update_field(p.mint, p.payer, k, v) for k, v in p.extra),
        create_idempotent_associated_token_account(p.payer, p.owner, p.mint, program),
        mint_to(
            MintToParams(
                program_id=program,
                mint=p.mint,
                dest=p.owner_account,
                mint_authority=p.payer,
                amount=1,
            )
        ),
        set_authority(
            SetAuthorityParams(
                program_id=program,
                account=p.mint,
                authority=AuthorityType.MINT_TOKENS,
                current_authority=p.payer,
                new_authority=None,
            )
        ),
    ]
    return ixs
