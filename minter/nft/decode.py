"""Decoders for what a mint leaves on chain: SPL mints and token accounts (frozen or not),
Token-2022 extensions (TLV inside the mint: TokenMetadata, PermanentDelegate), Metaplex
Metadata and Master Edition accounts."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import borsh_construct as borsh
from anchorpy.borsh_extension import BorshPubkey
from solders.pubkey import Pubkey
from spl.token.constants import ACCOUNT_LEN

from minter.nft.metaplex import CREATOR
from minter.nft.token2022 import EXT_PERMANENT_DELEGATE, EXT_TOKEN_METADATA

BASE_ACCOUNT_LEN = ACCOUNT_LEN  # token-2022 pads the 82-byte mint to 165 before its account type
ACCOUNT_STATE_AT = 108  # token account: mint, owner, amount, delegate (COption), then the state
ACCOUNT_FROZEN = 2  # AccountState: Uninitialized 0, Initialized 1, Frozen 2


@dataclass(frozen=True)
class MintState:
    mint_authority: Pubkey | None
    supply: int
    decimals: int
    freeze_authority: Pubkey | None


@dataclass(frozen=True)
class TokenAccountState:
    mint: Pubkey
    owner: Pubkey
    amount: int
    frozen: bool = False


@dataclass(frozen=True)
class TokenMetadata:
    update_authority: Pubkey | None
    mint: Pubkey
    name: str
    symbol: str
    uri: str
    additional: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetaplexMetadataState:
    update_authority: Pubkey
    mint: Pubkey
    name: str
    symbol: str
    uri: str
    seller_fee_basis_points: int
    creators: tuple[tuple[Pubkey, bool, int], ...] | None
    is_mutable: bool


@dataclass(frozen=True)
class MasterEditionState:
    supply: int
    max_supply: int | None


def _coption(data: bytes, at: int) -> Pubkey | None:
    tag = struct.unpack_from("<I", data, at)[0]
    return Pubkey.from_bytes(data[at + 4 : at + 36]) if tag else None


def decode_mint(data: bytes) -> MintState:
    return MintState(
        mint_authority=_coption(data, 0),
        supply=struct.unpack_from("<Q", data, 36)[0],
        decimals=data[44],
        freeze_authority=_coption(data, 46),
    )


def decode_token_account(data: bytes) -> TokenAccountState:
    return TokenAccountState(
        mint=Pubkey.from_bytes(data[0:32]),
        owner=Pubkey.from_bytes(data[32:64]),
        amount=struct.unpack_from("<Q", data, 64)[0],
        frozen=len(data) > ACCOUNT_STATE_AT and data[ACCOUNT_STATE_AT] == ACCOUNT_FROZEN,
    )


def _string(data: bytes, at: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", data, at)
    return data[at + 4 : at + 4 + n].decode("utf-8"), at + 4 + n


def tlv_entries(data: bytes) -> dict[int, bytes]:
    """Token-2022 extensions of a mint or account, by extension type."""
    out: dict[int, bytes] = {}
    at = BASE_ACCOUNT_LEN + 1
    while at + 4 <= len(data):
        kind, length = struct.unpack_from("<HH", data, at)
        if kind == 0:
            break
        out[kind] = data[at + 4 : at + 4 + length]
        at += 4 + length
    return out


def permanent_delegate(mint_data: bytes) -> Pubkey | None:
    """The Token-2022 mint's PermanentDelegate extension (None: no extension, or no delegate)."""
    value = tlv_entries(mint_data).get(EXT_PERMANENT_DELEGATE)
    if value is None or value == bytes(32):
        return None
    return Pubkey.from_bytes(value)


def decode_token_metadata(mint_data: bytes) -> TokenMetadata | None:
    value = tlv_entries(mint_data).get(EXT_TOKEN_METADATA)
    if value is None:
        return None
    authority = value[0:32]
    mint = Pubkey.from_bytes(value[32:64])
    name, at = _string(value, 64)
    symbol, at = _string(value, at)
    uri, at = _string(value, at)
    (count,) = struct.unpack_from("<I", value, at)
    at += 4
    pairs = []
    for _ in range(count):
        key, at = _string(value, at)
        val, at = _string(value, at)
        pairs.append((key, val))
    return TokenMetadata(
        update_authority=None if authority == bytes(32) else Pubkey.from_bytes(authority),
        mint=mint,
        name=name,
        symbol=symbol,
        uri=uri,
        additional=tuple(pairs),
    )


_METADATA_HEAD = borsh.CStruct(
    "key" / borsh.U8,
    "update_authority" / BorshPubkey,
    "mint" / BorshPubkey,
    "name" / borsh.String,
    "symbol" / borsh.String,
    "uri" / borsh.String,
    "seller_fee_basis_points" / borsh.U16,
    "creators" / borsh.Option(borsh.Vec(CREATOR)),
    "primary_sale_happened" / borsh.Bool,
    "is_mutable" / borsh.Bool,
)


def decode_metaplex_metadata(data: bytes) -> MetaplexMetadataState:
    d = _METADATA_HEAD.parse(data)
    strip = lambda s: s.rstrip("\0")  # noqa: E731 - older programs pad with NULs
    creators = None
    if d.creators is not None:
        creators = tuple((c.address, c.verified, c.share) for c in d.creators)
    return MetaplexMetadataState(
        update_authority=d.update_authority,
        mint=d.mint,
        name=strip(d.name),
        symbol=strip(d.symbol),
        uri=strip(d.uri),
        seller_fee_basis_points=d.seller_fee_basis_points,
        creators=creators,
        is_mutable=d.is_mutable,
    )


_EDITION = borsh.CStruct(
    "key" / borsh.U8, "supply" / borsh.U64, "max_supply" / borsh.Option(borsh.U64)
)


def decode_master_edition(data: bytes) -> MasterEditionState:
    d = _EDITION.parse(data)
    return MasterEditionState(supply=d.supply, max_supply=d.max_supply)
