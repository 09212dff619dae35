"""Metaplex Core plugins: the few our tickets use, their authorities, and their borsh bytes.

Each plugin is a frozen dataclass whose last field is its authority (``None`` lets the program
pick the plugin's default manager). ``encode_plugin`` gives the bytes of the program's ``Plugin``
enum, ``encode_pair`` those of a ``PluginAuthorityPair`` (plugin, then ``Option<Authority>``).
The enum indices follow mpl-core's ``PluginType`` order, which is also the account layout, so
``decode_core`` reads back the same dataclasses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import borsh_construct as borsh
from anchorpy.borsh_extension import BorshPubkey
from solders.pubkey import Pubkey


class PluginType(IntEnum):
    """The program's ``Plugin`` / ``PluginType`` enum; the index is the first byte on the wire."""

    ROYALTIES = 0
    FREEZE_DELEGATE = 1
    BURN_DELEGATE = 2
    TRANSFER_DELEGATE = 3
    UPDATE_DELEGATE = 4
    PERMANENT_FREEZE_DELEGATE = 5
    ATTRIBUTES = 6
    PERMANENT_TRANSFER_DELEGATE = 7
    PERMANENT_BURN_DELEGATE = 8
    EDITION = 9
    MASTER_EDITION = 10
    ADD_BLOCKER = 11
    IMMUTABLE_METADATA = 12
    VERIFIED_CREATORS = 13
    AUTOGRAPH = 14
    BUBBLEGUM_V2 = 15
    FREEZE_EXECUTE = 16
    PERMANENT_FREEZE_EXECUTE = 17
    GROUPS = 18


class AuthorityKind(IntEnum):
    """``PluginAuthority``: who may update (or use) a plugin."""

    NONE = 0
    OWNER = 1
    UPDATE_AUTHORITY = 2
    ADDRESS = 3


@dataclass(frozen=True)
class Authority:
    kind: AuthorityKind
    address: Pubkey | None = None  # only for ADDRESS

    def __post_init__(self) -> None:
        if (self.kind == AuthorityKind.ADDRESS) != (self.address is not None):
            raise ValueError("an address goes with the Address authority, and only with it")


UPDATE_AUTHORITY = Authority(AuthorityKind.UPDATE_AUTHORITY)
OWNER = Authority(AuthorityKind.OWNER)


class RuleSetKind(IntEnum):
    NONE = 0
    PROGRAM_ALLOW_LIST = 1
    PROGRAM_DENY_LIST = 2


@dataclass(frozen=True)
class Creator:
    address: Pubkey
    percentage: int  # of the royalties; the creators' percentages sum to 100


@dataclass(frozen=True)
class Royalties:
    basis_points: int
    creators: tuple[Creator, ...]
    rule_set: RuleSetKind = RuleSetKind.NONE
    rule_set_programs: tuple[Pubkey, ...] = ()  # for the allow and deny lists
    authority: Authority | None = UPDATE_AUTHORITY
    type = PluginType.ROYALTIES


@dataclass(frozen=True)
class Attributes:
    attributes: tuple[tuple[str, str], ...]  # (key, value), in order
    authority: Authority | None = UPDATE_AUTHORITY
    type = PluginType.ATTRIBUTES


@dataclass(frozen=True)
class PermanentFreezeDelegate:
    frozen: bool
    authority: Authority | None = UPDATE_AUTHORITY
    type = PluginType.PERMANENT_FREEZE_DELEGATE


@dataclass(frozen=True)
class FreezeDelegate:
    frozen: bool
    authority: Authority | None = OWNER
    type = PluginType.FREEZE_DELEGATE


@dataclass(frozen=True)
class PermanentTransferDelegate:
    authority: Authority | None = UPDATE_AUTHORITY
    type = PluginType.PERMANENT_TRANSFER_DELEGATE


@dataclass(frozen=True)
class PermanentBurnDelegate:
    authority: Authority | None = UPDATE_AUTHORITY
    type = PluginType.PERMANENT_BURN_DELEGATE


Plugin = (
    Royalties
    | Attributes
    | PermanentFreezeDelegate
    | FreezeDelegate
    | PermanentTransferDelegate
    | PermanentBurnDelegate
)

CREATOR = borsh.CStruct("address" / BorshPubkey, "percentage" / borsh.U8)
ROYALTIES = borsh.CStruct("basis_points" / borsh.U16, "creators" / borsh.Vec(CREATOR))
ATTRIBUTE = borsh.CStruct("key" / borsh.String, "value" / borsh.String)
ATTRIBUTES = borsh.CStruct("attribute_list" / borsh.Vec(ATTRIBUTE))
FROZEN = borsh.CStruct("frozen" / borsh.Bool)
PUBKEYS = borsh.Vec(BorshPubkey)


def encode_authority(a: Authority) -> bytes:
    return bytes([a.kind]) + (bytes(a.address) if a.address is not None else b"")


def _encode_rule_set(r: Royalties) -> bytes:
    if r.rule_set == RuleSetKind.NONE:
        return bytes([RuleSetKind.NONE])
    return bytes([r.rule_set]) + PUBKEYS.build(list(r.rule_set_programs))


def encode_plugin(p: Plugin) -> bytes:
    """The ``Plugin`` enum: its index, then the plugin's fields (none for the permanent
    transfer and burn delegates)."""
    match p:
        case Royalties():
            creators = [{"address": c.address, "percentage": c.percentage} for c in p.creators]
            body = ROYALTIES.build({"basis_points": p.basis_points, "creators": creators})
            body += _encode_rule_set(p)
        case Attributes():
            items = [{"key": k, "value": v} for k, v in p.attributes]
            body = ATTRIBUTES.build({"attribute_list": items})
        case PermanentFreezeDelegate() | FreezeDelegate():
            body = FROZEN.build({"frozen": p.frozen})
        case PermanentTransferDelegate() | PermanentBurnDelegate():
            body = b""
        case _:
            raise TypeError(f"not a Core plugin we build: {p!r}")
    return bytes([p.type]) + body


def encode_pair(p: Plugin) -> bytes:
    """A ``PluginAuthorityPair``: the plugin, then its authority as an ``Option``."""
    if p.authority is None:
        return encode_plugin(p) + b"\x00"
    return encode_plugin(p) + b"\x01" + encode_authority(p.authority)


def encode_plugin_list(plugins: tuple[Plugin, ...] | None) -> bytes:
    """``Option<Vec<PluginAuthorityPair>>``."""
    if plugins is None:
        return b"\x00"
    return b"\x01" + len(plugins).to_bytes(4, "little") + b"".join(map(encode_pair, plugins))
