"""One transaction per ticket, straight to the owner, for each standard.

Compute budget first, then the standard's instructions; the payer and the ticket's mint key
sign. No payer-side token account and no second transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.rent import Rent
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import VersionedTransaction
from spl.token.constants import MINT_LEN, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

from minter.budget import compute_budget
from minter.keys import Payer
from minter.nft.core import CoreAsset, create_v2
from minter.nft.core_plugins import Attributes, PermanentFreezeDelegate
from minter.nft.metaplex import (
    CreatorShare,
    MetaplexMetadata,
    create_master_edition_v3,
    create_metadata_account_v3,
)
from minter.nft.request import MintRequest
from minter.nft.token2022 import Token2022Mint, token2022_instructions

MAX_TRANSACTION_BYTES = 1232
# The cluster's default rent (solders' Rent.default(): 3480 lamports per byte-year, exempt at two
# years, 128 bytes of account overhead). Deterministic, so building a transaction needs no RPC.
_RENT = Rent.default()


def rent_exempt(size: int) -> int:
    return _RENT.minimum_balance(size)


@dataclass(frozen=True)
class Placement:
    """Where a Core ticket goes: its event's collection (None: none), and whether the event's
    transfer policy mints it frozen."""

    collection: Pubkey | None = None
    frozen: bool = False


NO_EVENT = Placement()


def core_instruction(req: MintRequest, *, payer: Payer, asset: Pubkey, place: Placement):
    """CreateV2: owner = buyer, in the collection, Attributes and its own freeze delegate."""
    return create_v2(
        CoreAsset(
            asset=asset,
            owner=req.owner,
            payer=payer.pubkey,
            name=req.name,
            uri=req.uri,
            authority=payer.pubkey,  # the collection's update authority (the platform's key)
            collection=place.collection,
            attributes=Attributes(tuple(req.core_attributes)),
            permanent_freeze_delegate=PermanentFreezeDelegate(frozen=place.frozen),
        )
    )


def mint_instructions(
    req: MintRequest, *, payer: Payer, mint: Keypair, place: Placement = NO_EVENT
) -> list[Instruction]:
    """The standard's instructions for ``req``, without the compute budget."""
    if req.standard == "core":
        return [core_instruction(req, payer=payer, asset=mint.pubkey(), place=place)]
    if req.standard == "token2022":
        p = Token2022Mint(
            payer=payer.pubkey,
            mint=mint.pubkey(),
            owner=req.owner,
            name=req.name,
            symbol=req.symbol,
            uri=req.uri,
            extra=tuple(req.extra_fields),
        )
        return token2022_instructions(p, rent_lamports=rent_exempt(p.final_len))
    return _metaplex_instructions(req, payer=payer, mint=mint)


def _metaplex_instructions(req: MintRequest, *, payer: Payer, mint: Keypair) -> list[Instruction]:
    m = mint.pubkey()
    creators = (
        (CreatorShare(payer.pubkey, True, 100),)
        if req.creators is None
        else tuple(
            CreatorShare(c.address, c.address == payer.pubkey, c.share) for c in req.creators
        )
    )
    owner_account = get_associated_token_address(req.owner, m, TOKEN_PROGRAM_ID)
    return [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey,
                to_pubkey=m,
                lamports=rent_exempt(MINT_LEN),
                space=MINT_LEN,
                owner=TOKEN_PROGRAM_ID,
            )
        ),
        initialize_mint(
            InitializeMintParams(
                decimals=0,
                freeze_authority=payer.pubkey,
                mint=m,
                mint_authority=payer.pubkey,
                program_id=TOKEN_PROGRAM_ID,
            )
        ),
        create_idempotent_associated_token_account(payer.pubkey, req.owner, m, TOKEN_PROGRAM_ID),
        mint_to(
            MintToParams(
                program_id=TOKEN_PROGRAM_ID,
                mint=m,
                dest=owner_account,
                mint_authority=payer.pubkey,
                amount=1,
            )
        ),
        create_metadata_account_v3(
            MetaplexMetadata(
                mint=m,
                payer=payer.pubkey,
                name=req.name,
                symbol=req.symbol,
                uri=req.uri,
                seller_fee_basis_points=req.seller_fee_basis_points,
                creators=creators,
                is_mutable=req.is_mutable,
            )
        ),
        create_master_edition_v3(m, payer.pubkey, max_supply=0),
    ]


def build_mint_transaction(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    recent_blockhash: Hash,
    compute_unit_limit: int,
    compute_unit_price: int | None = None,
    place: Placement = NO_EVENT,
) -> VersionedTransaction:
    """The signed mint transaction for one ticket."""
    budget = compute_budget(compute_unit_limit, compute_unit_price)
    ixs = budget + mint_instructions(req, payer=payer, mint=mint, place=place)
    message = MessageV0.try_compile(payer.pubkey, ixs, [], recent_blockhash)
    return VersionedTransaction(message, [payer.keypair, mint])


def transaction_size(req: MintRequest, place: Placement = NO_EVENT) -> int:
    """Bytes of ``req``'s signed mint transaction (keys and blockhash do not change its size)."""
    payer, mint = Payer(Keypair()), Keypair()
    tx = build_mint_transaction(
        req,
        payer=payer,
        mint=mint,
        recent_blockhash=Hash.default(),
        compute_unit_limit=200_000,
        compute_unit_price=1,
        place=place,
    )
    return len(bytes(tx))
