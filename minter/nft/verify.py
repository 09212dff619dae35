"""Does a ticket's NFT exist on chain as asked? One getMultipleAccounts call says.

Token standards: the mint, the holder's token account (and Metaplex's PDAs). Core: the asset
account alone, which names its owner, collection and plugins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from solana.rpc.api import Client
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.decode import (
    decode_master_edition,
    decode_metaplex_metadata,
    decode_mint,
    decode_token_account,
    decode_token_metadata,
)
from minter.nft.decode_core import AssetState, decode_core_asset
from minter.nft.metaplex import master_edition_pda, metadata_pda
from minter.nft.request import MintRequest


@dataclass(frozen=True)
class Verification:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    exists: bool = False  # the mint account is there, whatever else is wrong
    supply: int = 0
    held: bool = False  # the holder's token account holds the one token
    metadata_ok: bool = False


def accounts_to_read(req: MintRequest, mint: Pubkey, holder: Pubkey | None = None) -> list[Pubkey]:
    """The accounts that prove a mint: the mint, the holder's token account, Metaplex PDAs;
    for Core the asset alone (its owner is in its data)."""
    if req.standard == "core":
        return [mint]
    program = TOKEN_2022_PROGRAM_ID if req.standard == "token2022" else TOKEN_PROGRAM_ID
    keys = [mint, get_associated_token_address(holder or req.owner, mint, program)]
    if req.standard == "metaplex":
        keys += [metadata_pda(mint), master_edition_pda(mint)]
    return keys


def check_accounts(
    req: MintRequest,
    mint: Pubkey,
    accounts: Sequence,
    holder: Pubkey | None = None,
    *,
    collection: Pubkey | None = None,
    frozen: bool | None = None,
) -> Verification:
    """Judge the accounts of :func:`accounts_to_read` (no RPC: callers batch the reads).

    Core only: ``collection`` is the asset's expected collection (None: unchecked for a ticket
    of an event, none for a ticket without); ``frozen``, when set, its freeze flag.
    """
    holder = holder or req.owner
    if req.standard == "core":
        return _check_core(req, accounts[0], holder, collection, frozen)
    program = TOKEN_2022_PROGRAM_ID if req.standard == "token2022" else TOKEN_PROGRAM_ID
    if accounts[0] is None:
        return Verification(False, ["mint account does not exist"])
    reasons: list[str] = []
    data = bytes(accounts[0].data)
    state = decode_mint(data)
    if accounts[0].owner != program:
        reasons.append(f"mint is owned by {accounts[0].owner}, not {program}")
    if state.supply != 1:
        reasons.append(f"supply is {state.supply}, not 1")
    if state.decimals != 0:
        reasons.append(f"decimals are {state.decimals}, not 0")
    held = False
    if accounts[1] is None:
        reasons.append("holder's token account does not exist")
    else:
        holding = decode_token_account(bytes(accounts[1].data))
        held = holding.amount == 1 and holding.mint == mint and holding.owner == holder
        if not held:
            reasons.append(f"holder's token account holds {holding.amount}, not 1")
    if req.standard == "token2022":
        if state.mint_authority is not None:
            reasons.append("mint authority was not removed")
        meta = _token2022_metadata(data, req)
    else:
        meta = _metaplex_metadata(accounts[2], accounts[3], state, req, mint)
    reasons += meta
    return Verification(
        not reasons, reasons, exists=True, supply=state.supply, held=held, metadata_ok=not meta
    )


def verify_minted(
    client: Client,
    req: MintRequest,
    mint: Pubkey,
    holder: Pubkey | None = None,
    *,
    collection: Pubkey | None = None,
    frozen: bool | None = None,
) -> Verification:
    """One getMultipleAccounts call: does the NFT exist as asked, held by ``holder``?"""
    keys = accounts_to_read(req, mint, holder)
    accounts = client.get_multiple_accounts(keys).value
    return check_accounts(req, mint, accounts, holder, collection=collection, frozen=frozen)


def core_asset(account) -> AssetState | None:
    """The Core asset in ``account``, or None: absent, not Core's, burned or unreadable."""
    if account is None or account.owner != CORE_PROGRAM_ID:
        return None
    try:
        return decode_core_asset(bytes(account.data))
    except ValueError:
        return None


def asset_owner(account) -> Pubkey | None:
    """Who holds a Core ticket: the owner written in its asset account (None: no asset)."""
    asset = core_asset(account)
    return None if asset is None else asset.owner


def _check_core(
    req: MintRequest, account, holder: Pubkey, collection: Pubkey | None, frozen: bool | None
) -> Verification:
    if account is None:
        return Verification(False, ["asset account does not exist"])
    if account.owner != CORE_PROGRAM_ID:
        reason = f"asset is owned by {account.owner}, not {CORE_PROGRAM_ID}"
        return Verification(False, [reason], exists=True)
    data = bytes(account.data)
    if data in (b"", b"\x00"):  # BurnV1 leaves a one-byte tombstone; never mint over it
        return Verification(False, ["asset was burned"], exists=True)
    try:
        asset = decode_core_asset(data)
    except (ValueError, KeyError, IndexError) as exc:  # another Core account, or garbage
        return Verification(False, [f"asset account is not a Core asset: {exc}"], exists=True)
    reasons: list[str] = []
    held = asset.owner == holder
    if not held:
        reasons.append(f"asset is held by {asset.owner}, not {holder}")
    meta: list[str] = []
    if (asset.name, asset.uri) != (req.name, req.uri):
        meta.append(f"metadata is {(asset.name, asset.uri)}, asked {(req.name, req.uri)}")
    found = list(asset.attributes) if asset.attributes is not None else None
    if found != req.core_attributes:
        meta.append(f"attributes are {found}, asked {req.core_attributes}")
    # a ticket of an event is in the collection the caller names; one without, in none
    if (collection is not None or req.event_id is None) and asset.collection != collection:
        meta.append(f"collection is {asset.collection}, asked {collection}")
    if frozen is not None and asset.frozen is not frozen:
        meta.append(f"frozen is {asset.frozen}, asked {frozen}")
    reasons += meta
    return Verification(
        not reasons, reasons, exists=True, supply=1, held=held, metadata_ok=not meta
    )


def _token2022_metadata(mint_data: bytes, req: MintRequest) -> list[str]:
    meta = decode_token_metadata(mint_data)
    if meta is None:
        return ["no token metadata in the mint"]
    asked = (req.name, req.symbol, req.uri, tuple(req.extra_fields))
    found = (meta.name, meta.symbol, meta.uri, meta.additional)
    return [] if asked == found else [f"metadata is {found}, asked {asked}"]


def _metaplex_metadata(meta_acc, edition_acc, state, req: MintRequest, mint: Pubkey) -> list[str]:
    reasons = []
    if meta_acc is None:
        return ["metadata account does not exist"]
    meta = decode_metaplex_metadata(bytes(meta_acc.data))
    asked = (req.name, req.symbol, req.uri, req.seller_fee_basis_points, req.is_mutable)
    found = (meta.name, meta.symbol, meta.uri, meta.seller_fee_basis_points, meta.is_mutable)
    if asked != found:
        reasons.append(f"metadata is {found}, asked {asked}")
    if edition_acc is None:
        reasons.append("master edition account does not exist")
    else:
        edition = decode_master_edition(bytes(edition_acc.data))
        if edition.max_supply != 0:
            reasons.append(f"edition max supply is {edition.max_supply}, not 0")
        if state.mint_authority != master_edition_pda(mint):
            reasons.append("the master edition does not hold the mint authority")
    return reasons
