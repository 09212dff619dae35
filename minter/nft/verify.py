"""Does a ticket's NFT exist on chain as asked? One getMultipleAccounts call says."""

from __future__ import annotations

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


def verify_minted(client: Client, req: MintRequest, mint: Pubkey) -> Verification:
    program = TOKEN_2022_PROGRAM_ID if req.standard == "token2022" else TOKEN_PROGRAM_ID
    owner_account = get_associated_token_address(req.owner, mint, program)
    keys = [mint, owner_account]
    if req.standard == "metaplex":
        keys += [metadata_pda(mint), master_edition_pda(mint)]
    accounts = client.get_multiple_accounts(keys).value
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
    if accounts[1] is None:
        reasons.append("owner's token account does not exist")
    else:
        holding = decode_token_account(bytes(accounts[1].data))
        if holding.amount != 1 or holding.mint != mint or holding.owner != req.owner:
            reasons.append(f"owner's token account holds {holding.amount}, not 1")
    if req.standard == "token2022":
        if state.mint_authority is not None:
            reasons.append("mint authority was not removed")
        reasons += _token2022_metadata(data, req)
    else:
        reasons += _metaplex_metadata(accounts[2], accounts[3], state, req, mint)
    return Verification(not reasons, reasons, exists=True)


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
