"""Does a ticket's NFT exist on chain as asked? One getMultipleAccounts call says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from solana.rpc.api import Client
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from minter.nft.decode import (
    decode_master_edition,
    decode_metaplex_metadata,
    decode_mint,
    decode_token_account,
    decode_token_metadata,
)
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
    """The accounts that prove a mint: the mint, the holder's token account, Metaplex PDAs."""
    program = TOKEN_2022_PROGRAM_ID if req.standard == "token2022" else TOKEN_PROGRAM_ID
    keys = [mint, get_associated_token_address(holder or req.owner, mint, program)]
    if req.standard == "metaplex":
        keys += [metadata_pda(mint), master_edition_pda(mint)]
    return keys


def check_accounts(
    req: MintRequest, mint: Pubkey, accounts: Sequence, holder: Pubkey | None = None
) -> Verification:
    """Judge the accounts of :func:`accounts_to_read` (no RPC: callers batch the reads)."""
    holder = holder or req.owner
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
    client: Client, req: MintRequest, mint: Pubkey, holder: Pubkey | None = None
) -> Verification:
    """One getMultipleAccounts call: does the NFT exist as asked, held by ``holder``?"""
    keys = accounts_to_read(req, mint, holder)
    return check_accounts(req, mint, client.get_multiple_accounts(keys).value, holder)


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
