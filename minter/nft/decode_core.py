"""Decoders of Metaplex Core accounts: AssetV1 and CollectionV1 with their plugins.

An account is its base (borsh), then, when it has plugins, a plugin header (key 3, the offset
of the registry), the plugins' data, and the registry (key 4): one record per plugin (type,
authority, offset of its data) and the external adapters' records, which we do not read. The
plugins we build (``core_plugins``) come back as the same dataclasses; others as their type.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import IntEnum

import borsh_construct as borsh
from anchorpy.borsh_extension import BorshPubkey
from solders.pubkey import Pubkey

from minter.nft.core_plugins import (
    ATTRIBUTES,
    CREATOR,
    FROZEN,
    PUBKEYS,
    Attributes,
    Authority,
    AuthorityKind,
    Creator,
    FreezeDelegate,
    PermanentBurnDelegate,
    PermanentFreezeDelegate,
    PermanentTransferDelegate,
    Plugin,
    PluginType,
    Royalties,
    RuleSetKind,
)


class Key(IntEnum):
    """The first byte of every Core account."""

    UNINITIALIZED = 0
    ASSET_V1 = 1
    HASHED_ASSET_V1 = 2
    PLUGIN_HEADER_V1 = 3
    PLUGIN_REGISTRY_V1 = 4
    COLLECTION_V1 = 5


class UpdateAuthorityKind(IntEnum):
    NONE = 0
    ADDRESS = 1
    COLLECTION = 2


@dataclass(frozen=True)
class UpdateAuthority:
    kind: UpdateAuthorityKind
    address: Pubkey | None  # the collection's address for COLLECTION


@dataclass(frozen=True)
class PluginEntry:
    type: PluginType
    authority: Authority
    offset: int
    plugin: Plugin | None  # None for the types we do not decode


@dataclass(frozen=True)
class _WithPlugins:
    plugins: tuple[PluginEntry, ...]

    def plugin(self, type_: PluginType) -> Plugin | None:
        for entry in self.plugins:
            if entry.type == type_:
                return entry.plugin
        return None


@dataclass(frozen=True)
class AssetState(_WithPlugins):
    owner: Pubkey
    update_authority: UpdateAuthority
    name: str
    uri: str
    seq: int | None

    @property
    def collection(self) -> Pubkey | None:
        ua = self.update_authority
        return ua.address if ua.kind == UpdateAuthorityKind.COLLECTION else None

    @property
    def attributes(self) -> tuple[tuple[str, str], ...] | None:
        p = self.plugin(PluginType.ATTRIBUTES)
        return p.attributes if isinstance(p, Attributes) else None

    @property
    def frozen(self) -> bool | None:
        """The PermanentFreezeDelegate's flag (None without that plugin)."""
        p = self.plugin(PluginType.PERMANENT_FREEZE_DELEGATE)
        return p.frozen if isinstance(p, PermanentFreezeDelegate) else None


@dataclass(frozen=True)
class CollectionState(_WithPlugins):
    update_authority: Pubkey
    name: str
    uri: str
    num_minted: int
    current_size: int

    @property
    def royalties(self) -> Royalties | None:
        p = self.plugin(PluginType.ROYALTIES)
        return p if isinstance(p, Royalties) else None


ASSET_BASE = borsh.CStruct(
    "owner" / BorshPubkey,
    "ua_kind" / borsh.U8,
)
ASSET_TAIL = borsh.CStruct(
    "name" / borsh.String, "uri" / borsh.String, "seq" / borsh.Option(borsh.U64)
)
COLLECTION_BASE = borsh.CStruct(
    "update_authority" / BorshPubkey,
    "name" / borsh.String,
    "uri" / borsh.String,
    "num_minted" / borsh.U32,
    "current_size" / borsh.U32,
)
ROYALTIES_HEAD = borsh.CStruct("basis_points" / borsh.U16, "creators" / borsh.Vec(CREATOR))


def _u8(s: io.BytesIO) -> int:
    b = s.read(1)
    if not b:
        raise ValueError("account data ends early")
    return b[0]


def _pubkey(s: io.BytesIO) -> Pubkey:
    return BorshPubkey.parse_stream(s)


def _authority(s: io.BytesIO) -> Authority:
    kind = AuthorityKind(_u8(s))
    return Authority(kind, _pubkey(s) if kind == AuthorityKind.ADDRESS else None)


def _plugin(data: bytes, offset: int, authority: Authority) -> Plugin | None:
    s = io.BytesIO(data)
    s.seek(offset)
    kind = _u8(s)
    match kind:
        case PluginType.ROYALTIES:
            head = ROYALTIES_HEAD.parse_stream(s)
            rule = RuleSetKind(_u8(s))
            programs = () if rule == RuleSetKind.NONE else tuple(PUBKEYS.parse_stream(s))
            creators = tuple(Creator(c.address, c.percentage) for c in head.creators)
            return Royalties(head.basis_points, creators, rule, programs, authority)
        case PluginType.ATTRIBUTES:
            items = ATTRIBUTES.parse_stream(s).attribute_list
            return Attributes(tuple((a.key, a.value) for a in items), authority)
        case PluginType.PERMANENT_FREEZE_DELEGATE:
            return PermanentFreezeDelegate(FROZEN.parse_stream(s).frozen, authority)
        case PluginType.FREEZE_DELEGATE:
            return FreezeDelegate(FROZEN.parse_stream(s).frozen, authority)
        case PluginType.PERMANENT_TRANSFER_DELEGATE:
            return PermanentTransferDelegate(authority)
        case PluginType.PERMANENT_BURN_DELEGATE:
            return PermanentBurnDelegate(authority)
    return None


def _plugins(data: bytes, base_end: int) -> tuple[PluginEntry, ...]:
    if len(data) == base_end:
        return ()  # no plugin header: the account has no plugins
    s = io.BytesIO(data)
    s.seek(base_end)
    if _u8(s) != Key.PLUGIN_HEADER_V1:
        raise ValueError("expected a plugin header after the account's base")
    s.seek(borsh.U64.parse_stream(s))
    if _u8(s) != Key.PLUGIN_REGISTRY_V1:
        raise ValueError("the plugin header does not point at a plugin registry")
    entries = []
    for _ in range(borsh.U32.parse_stream(s)):
        type_ = PluginType(_u8(s))
        authority = _authority(s)
        offset = borsh.U64.parse_stream(s)
        entries.append(PluginEntry(type_, authority, offset, _plugin(data, offset, authority)))
    return tuple(entries)


def decode_core_asset(data: bytes) -> AssetState:
    if not data or data[0] != Key.ASSET_V1:
        raise ValueError("not a Core AssetV1 account")
    s = io.BytesIO(data)
    s.seek(1)
    head = ASSET_BASE.parse_stream(s)
    kind = UpdateAuthorityKind(head.ua_kind)
    address = None if kind == UpdateAuthorityKind.NONE else _pubkey(s)
    tail = ASSET_TAIL.parse_stream(s)
    return AssetState(
        plugins=_plugins(data, s.tell()),
        owner=head.owner,
        update_authority=UpdateAuthority(kind, address),
        name=tail.name,
        uri=tail.uri,
        seq=tail.seq,
    )


def decode_core_collection(data: bytes) -> CollectionState:
    if not data or data[0] != Key.COLLECTION_V1:
        raise ValueError("not a Core CollectionV1 account")
    s = io.BytesIO(data)
    s.seek(1)
    base = COLLECTION_BASE.parse_stream(s)
    return CollectionState(
        plugins=_plugins(data, s.tell()),
        update_authority=base.update_authority,
        name=base.name,
        uri=base.uri,
        num_minted=base.num_minted,
        current_size=base.current_size,
    )
