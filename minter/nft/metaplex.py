"""Metaplex Token Metadata: PDAs, CreateMetadataAccountV3 and CreateMasterEditionV3.

Layouts in anchorpy's borsh layer (borsh-construct with BorshPubkey). Both instructions pass the
rent sysvar, which old and new program versions accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import borsh_construct as borsh
from anchorpy.borsh_extension import BorshPubkey
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID
from solders.sysvar import RENT
from spl.token.constants import TOKEN_PROGRAM_ID

TOKEN_METADATA_PROGRAM_ID = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")
CREATE_METADATA_V3 = 33
CREATE_MASTER_EDITION_V3 = 17

CREATOR = borsh.CStruct("address" / BorshPubkey, "verified" / borsh.Bool, "share" / borsh.U8)
DATA_V2 = borsh.CStruct(
    "name" / borsh.String,
    "symbol" / borsh.String,
    "uri" / borsh.String,
    "seller_fee_basis_points" / borsh.U16,
    "creators" / borsh.Option(borsh.Vec(CREATOR)),
    "collection" / borsh.Option(borsh.CStruct("verified" / borsh.Bool, "key" / BorshPubkey)),
    "uses"
    / borsh.Option(
        borsh.CStruct("use_method" / borsh.U8, "remaining" / borsh.U64, "total" / borsh.U64)
    ),
)
CREATE_METADATA_V3_ARGS = borsh.CStruct(
    "data" / DATA_V2,
    "is_mutable" / borsh.Bool,
    "collection_details" / borsh.Option(borsh.U8),  # only None is sent
)
CREATE_MASTER_EDITION_V3_ARGS = borsh.CStruct("max_supply" / borsh.Option(borsh.U64))


def metadata_pda(mint: Pubkey) -> Pubkey:
    seeds = [b"metadata", bytes(TOKEN_METADATA_PROGRAM_ID), bytes(mint)]
    return Pubkey.find_program_address(seeds, TOKEN_METADATA_PROGRAM_ID)[0]


def master_edition_pda(mint: Pubkey) -> Pubkey:
    seeds = [b"metadata", bytes(TOKEN_METADATA_PROGRAM_ID), bytes(mint), b"edition"]
    return Pubkey.find_program_address(seeds, TOKEN_METADATA_PROGRAM_ID)[0]


@dataclass(frozen=True)
class CreatorShare:
    address: Pubkey
    verified: bool
    share: int


@dataclass(frozen=True)
class MetaplexMetadata:
    mint: Pubkey
    payer: Pubkey  # pays; also mint and update authority when ``authority`` is None
    name: str
    symbol: str
    uri: str
    seller_fee_basis_points: int
    creators: tuple[CreatorShare, ...] | None
    is_mutable: bool = False
    authority: Pubkey | None = None  # mint and update authority (verifies creators); None: payer

    def __post_init__(self) -> None:
        if self.authority is None:
            object.__setattr__(self, "authority", self.payer)


def create_metadata_account_v3(p: MetaplexMetadata) -> Instruction:
    creators = None
    if p.creators is not None:
        creators = [
            {"address": c.address, "verified": c.verified, "share": c.share} for c in p.creators
        ]
    data = bytes([CREATE_METADATA_V3]) + CREATE_METADATA_V3_ARGS.build(
        {
            "data": {
                "name": p.name,
                "symbol": p.symbol,
                "uri": p.uri,
                "seller_fee_basis_points": p.seller_fee_basis_points,
                "creators": creators,
                "collection": None,
                "uses": None,
            },
            "is_mutable": p.is_mutable,
            "collection_details": None,
        }
    )
    accounts = [
        AccountMeta(metadata_pda(p.mint), False, True),
        AccountMeta(p.mint, False, False),
        AccountMeta(p.authority, True, False),  # mint authority
        AccountMeta(p.payer, True, True),  # payer
        AccountMeta(p.authority, True, False),  # update authority, signs so the creator verifies
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
        AccountMeta(RENT, False, False),
    ]
    return Instruction(TOKEN_METADATA_PROGRAM_ID, data, accounts)


def create_master_edition_v3(
    mint: Pubkey, payer: Pubkey, *, max_supply: int | None = 0, authority: Pubkey | None = None
) -> Instruction:
    data = bytes([CREATE_MASTER_EDITION_V3]) + CREATE_MASTER_EDITION_V3_ARGS.build(
        {"max_supply": max_supply}
    )
    accounts = [
        AccountMeta(master_edition_pda(mint), False, True),
        AccountMeta(mint, False, True),
        AccountMeta(authority or payer, True, False),  # update authority
        AccountMeta(authority or payer, True, False),  # mint authority
        AccountMeta(payer, True, True),  # payer
        AccountMeta(metadata_pda(mint), False, True),
        AccountMeta(TOKEN_PROGRAM_ID, False, False),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
        AccountMeta(RENT, False, False),
    ]
    return Instruction(TOKEN_METADATA_PROGRAM_ID, data, accounts)
