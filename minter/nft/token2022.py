"""Token-2022 ticket NFTs: a mint with MetadataPointer (to itself), PermanentDelegate and
TokenMetadata, whose freeze authority is the platform's key (the authority; by default the payer).

The mint account is created at the size of its MetadataPointer and PermanentDelegate extensions
and funded for its final size (by the payer): TokenMetadata's Initialize and UpdateField
reallocate it. The authority holds the mint, freeze and metadata update authority and the
permanent delegate, so the ticket lifecycle (check-in,
platform resale, invalidation: ``minter.nft.token2022_lifecycle``) needs no holder signature.
Pure builders.
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
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

METADATA_POINTER_EXTENSION = 39  # token-2022 instructions
INITIALIZE_PERMANENT_DELEGATE = 35
SET_AUTHORITY = 6
NO_AUTHORITY = 0  # COption::None, one byte (solana-py's set_authority pads it to 33)
TLV_HEADER = 4
MINT_EXTENSIONS_BASE_LEN = 166  # 165 (the padded 82-byte mint) + 1 (account type)
METADATA_POINTER_LEN = 64  # authority, metadata address
PERMANENT_DELEGATE_LEN = 32  # delegate
# what InitializeMint finds: the base and the two fixed-size extensions, not yet TokenMetadata
MINT_WITH_EXTENSIONS_LEN = MINT_EXTENSIONS_BASE_LEN + sum(
    TLV_HEADER + n for n in (METADATA_POINTER_LEN, PERMANENT_DELEGATE_LEN)
)  # 270
# MULTISIG_LEN (355): an account of that length would read as a multisig, so Token-2022 …
UNINITIALIZED_EXTENSION = 2  # … pads it with one more (uninitialised) extension type
EXT_PERMANENT_DELEGATE = 12  # extension types in the mint's TLV
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
    # mint, freeze and metadata update authority, permanent delegate; None: the payer
    authority: Pubkey | None = None

    def __post_init__(self) -> None:
        if self.authority is None:
            object.__setattr__(self, "authority", self.payer)

    @property
    def final_len(self) -> int:
        size = (
            MINT_WITH_EXTENSIONS_LEN
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


def initialize_permanent_delegate(mint: Pubkey, delegate: Pubkey) -> Instruction:
    """InitializePermanentDelegate: before InitializeMint, in an account sized for it."""
    data = bytes([INITIALIZE_PERMANENT_DELEGATE]) + bytes(delegate)
    return Instruction(TOKEN_2022_PROGRAM_ID, data, [AccountMeta(mint, False, True)])


def remove_mint_authority(mint: Pubkey, authority: Pubkey) -> Instruction:
    """SetAuthority(MintTokens, None), as the official client packs it."""
    data = bytes([SET_AUTHORITY, AuthorityType.MINT_TOKENS, NO_AUTHORITY])
    accounts = [AccountMeta(mint, False, True), AccountMeta(authority, True, False)]
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


def initialize_token_metadata(p: Token2022Mint) -> Instruction:
    data = INITIALIZE + borsh_string(p.name) + borsh_string(p.symbol) + borsh_string(p.uri)
    accounts = [
        AccountMeta(p.mint, False, True),  # metadata lives in the mint itself
        AccountMeta(p.authority, False, False),  # update authority
        AccountMeta(p.mint, False, False),
        AccountMeta(p.authority, True, False),  # mint authority
    ]
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


def update_field(mint: Pubkey, authority: Pubkey, key: str, value: str) -> Instruction:
    data = UPDATE_FIELD + bytes([FIELD_KEY]) + borsh_string(key) + borsh_string(value)
    accounts = [AccountMeta(mint, False, True), AccountMeta(authority, True, False)]
    return Instruction(TOKEN_2022_PROGRAM_ID, data, accounts)


def token2022_instructions(p: Token2022Mint, *, rent_lamports: int) -> list[Instruction]:
    """Create (paid by the payer), point, name the permanent delegate, initialise (mint and
    freeze authority: the authority), describe, give the owner 1, and remove the mint authority.

    ``rent_lamports`` must cover :attr:`Token2022Mint.final_len` bytes.
    """
    program = TOKEN_2022_PROGRAM_ID
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=p.payer,
                to_pubkey=p.mint,
                lamports=rent_lamports,
                space=MINT_WITH_EXTENSIONS_LEN,
                owner=program,
            )
        ),
        initialize_metadata_pointer(p.mint, p.authority),
        initialize_permanent_delegate(p.mint, p.authority),
        initialize_mint(
            InitializeMintParams(
                decimals=0,
                freeze_authority=p.authority,
                mint=p.mint,
                mint_authority=p.authority,
                program_id=program,
            )
        ),
        initialize_token_metadata(p),
        *(update_field(p.mint, p.authority, k, v) for k, v in p.extra),
        create_idempotent_associated_token_account(p.payer, p.owner, p.mint, program),
        mint_to(
            MintToParams(
                program_id=program,
                mint=p.mint,
                dest=p.owner_account,
                mint_authority=p.authority,
                amount=1,
            )
        ),
        remove_mint_authority(p.mint, p.authority),
    ]
    return ixs
