"""Metaplex Core instructions: CreateCollectionV2, CreateV2, UpdatePluginV1, TransferV1, BurnV1.

Hand-written over solders and borsh; the bytes and account metas equal those of the official
client, `@metaplex-foundation/mpl-core` (tests/unit/test_core_conformance.py). Like that
client, an optional account left out is sent as the Core program's own address (read-only,
not a signer), which the program takes as "absent". The plugins are in ``core_plugins``.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from solders.system_program import ID as SYSTEM_PROGRAM_ID

from minter.nft.core_plugins import (
    Attributes,
    FreezeDelegate,
    PermanentBurnDelegate,
    PermanentFreezeDelegate,
    PermanentTransferDelegate,
    Plugin,
    Royalties,
    encode_plugin,
    encode_plugin_list,
)

CORE_PROGRAM_ID = Pubkey.from_string("CoREENxT6tW1HoK8ypY1SxRMZTcVPm7R94rH4PZNhX7d")

# The first byte of each instruction: its index in the program's instruction enum.
UPDATE_PLUGIN_V1 = 6
BURN_V1 = 12
TRANSFER_V1 = 14
CREATE_V2 = 20
CREATE_COLLECTION_V2 = 21

DATA_STATE_ACCOUNT = 0  # CreateV2's DataState: the asset lives in an account (not compressed)
NONE = b"\x00"  # borsh Option::None
EMPTY_VEC_SOME = b"\x01" + (0).to_bytes(4, "little")  # Some(vec![]): no external adapters


def _string(s: str) -> bytes:
    raw = s.encode("utf-8")
    return len(raw).to_bytes(4, "little") + raw


def _meta(pubkey: Pubkey | None, signer: bool, writable: bool) -> AccountMeta:
    """An account meta; an absent optional account is the program's id, read-only."""
    if pubkey is None:
        return AccountMeta(CORE_PROGRAM_ID, False, False)
    return AccountMeta(pubkey, signer, writable)


@dataclass(frozen=True)
class CoreCollection:
    collection: Pubkey  # new account, signs
    update_authority: Pubkey  # the platform's authority key; need not sign
    payer: Pubkey
    name: str
    uri: str
    royalties: Royalties | None = None
    permanent_transfer_delegate: PermanentTransferDelegate | None = None
    permanent_burn_delegate: PermanentBurnDelegate | None = None
    attributes: Attributes | None = None  # what outsiders may read of the event (capacity)

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        chosen = (
            self.royalties,
            self.attributes,
            self.permanent_transfer_delegate,
            self.permanent_burn_delegate,
        )
        return tuple(p for p in chosen if p is not None)


def create_collection_v2(p: CoreCollection) -> Instruction:
    data = (
        bytes([CREATE_COLLECTION_V2])
        + _string(p.name)
        + _string(p.uri)
        + encode_plugin_list(p.plugins)
        + EMPTY_VEC_SOME
    )
    accounts = [
        AccountMeta(p.collection, True, True),
        AccountMeta(p.update_authority, False, False),
        AccountMeta(p.payer, True, True),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
    ]
    return Instruction(CORE_PROGRAM_ID, data, accounts)


@dataclass(frozen=True)
class CoreAsset:
    asset: Pubkey  # new account, signs
    owner: Pubkey  # any address, off curve too
    payer: Pubkey
    name: str
    uri: str
    # In a collection, `authority` is the collection's update authority and must sign; the
    # asset's update authority is then the collection. Without one, it is `authority`.
    authority: Pubkey
    collection: Pubkey | None = None
    attributes: Attributes | None = None
    permanent_freeze_delegate: PermanentFreezeDelegate | None = None

    @property
    def plugins(self) -> tuple[Plugin, ...]:
        chosen = (self.attributes, self.permanent_freeze_delegate)
        return tuple(p for p in chosen if p is not None)


def create_v2(p: CoreAsset) -> Instruction:
    data = (
        bytes([CREATE_V2, DATA_STATE_ACCOUNT])
        + _string(p.name)
        + _string(p.uri)
        + encode_plugin_list(p.plugins)
        + EMPTY_VEC_SOME
    )
    # Without a collection the program makes the update-authority account (else the payer)
    # the asset's update authority, so it is sent then; a collection asset's is the collection.
    update_authority = p.authority if p.collection is None else None
    accounts = [
        AccountMeta(p.asset, True, True),
        _meta(p.collection, False, True),
        AccountMeta(p.authority, True, False),
        AccountMeta(p.payer, True, True),
        AccountMeta(p.owner, False, False),
        _meta(update_authority, False, False),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
        _meta(None, False, False),  # log wrapper (SPL Noop), unused for account assets
    ]
    return Instruction(CORE_PROGRAM_ID, data, accounts)


def update_plugin_v1(
    asset: Pubkey,
    plugin: Attributes | PermanentFreezeDelegate | FreezeDelegate,
    *,
    authority: Pubkey,
    payer: Pubkey,
    collection: Pubkey | None = None,
) -> Instruction:
    """Replace a plugin's data (the whole attribute list, or the frozen flag). Only the
    plugin is sent: its ``authority`` field is not (UpdatePluginV1 does not change it)."""
    data = bytes([UPDATE_PLUGIN_V1]) + encode_plugin(plugin)
    accounts = [
        AccountMeta(asset, False, True),
        _meta(collection, False, True),
        AccountMeta(payer, True, True),
        AccountMeta(authority, True, False),
        AccountMeta(SYSTEM_PROGRAM_ID, False, False),
        _meta(None, False, False),  # log wrapper
    ]
    return Instruction(CORE_PROGRAM_ID, data, accounts)


def transfer_v1(
    asset: Pubkey,
    new_owner: Pubkey,
    *,
    authority: Pubkey,
    payer: Pubkey,
    collection: Pubkey | None = None,
) -> Instruction:
    """Transfer by ``authority``: the owner, or a (permanent) transfer delegate, which then
    transfers without the owner, and a frozen asset too. An asset in a collection must name it.
    """
    data = bytes([TRANSFER_V1]) + NONE  # no compression proof
    accounts = [
        AccountMeta(asset, False, True),
        _meta(collection, False, False),
        AccountMeta(payer, True, True),
        AccountMeta(authority, True, False),
        AccountMeta(new_owner, False, False),
        _meta(None, False, False),  # system program: only for compressed assets
        _meta(None, False, False),  # log wrapper
    ]
    return Instruction(CORE_PROGRAM_ID, data, accounts)


def burn_v1(
    asset: Pubkey,
    *,
    authority: Pubkey,
    payer: Pubkey,
    collection: Pubkey | None = None,
) -> Instruction:
    """Burn by ``authority``: the owner, or a (permanent) burn delegate."""
    data = bytes([BURN_V1]) + NONE  # no compression proof
    accounts = [
        AccountMeta(asset, False, True),
        _meta(collection, False, True),
        AccountMeta(payer, True, True),
        AccountMeta(authority, True, False),
        _meta(None, False, False),  # system program: only for compressed assets
        _meta(None, False, False),  # log wrapper
    ]
    return Instruction(CORE_PROGRAM_ID, data, accounts)
