"""One transaction per ticket, straight to the owner, for each standard.

Compute budget first, then the standard's instructions; the payer (fee payer, rent funder),
the ticket's mint key and, when it is another key, the authority sign. The authority (mint,
freeze and update authority, creator, the collection's authority) is the platform's one key;
the payer may be any member of the fee-payer pool. With ``authority`` omitted (or the payer
itself) the transaction is byte for byte what it was before the two were told apart. No
payer-side token account and no second transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
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


def core_instruction(
    req: MintRequest,
    *,
    payer: Payer,
    asset: Pubkey,
    place: Placement,
    authority: Payer | None = None,
):
    """CreateV2: owner = buyer, in the collection, Attributes and its own freeze delegate."""
    authority = authority or payer
    return create_v2(
        CoreAsset(
            asset=asset,
            owner=req.owner,
            payer=payer.pubkey,
            name=req.name,
            uri=req.uri,
            authority=authority.pubkey,  # the collection's update authority (the platform's key)
            collection=place.collection,
            attributes=Attributes(tuple(req.core_attributes)),
            permanent_freeze_delegate=PermanentFreezeDelegate(frozen=place.frozen),
        )
    )


def mint_instructions(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    place: Placement = NO_EVENT,
    authority: Payer | None = None,
) -> list[Instruction]:
    """The standard's instructions for ``req``, without the compute budget (``authority``:
    the platform's key, default the payer)."""
    authority = authority or payer
    if req.standard == "core":
        asset = mint.pubkey()
        return [core_instruction(req, payer=payer, asset=asset, place=place, authority=authority)]
    if req.standard == "token2022":
        p = Token2022Mint(
            payer=payer.pubkey,
            mint=mint.pubkey(),
            owner=req.owner,
            name=req.name,
            symbol=req.symbol,
            uri=req.uri,
            extra=tuple(req.extra_fields),
            authority=authority.pubkey,
        )
        return token2022_instructions(p, rent_lamports=rent_exempt(p.final_len))
    return _metaplex_instructions(req, payer=payer, mint=mint, authority=authority)


def _metaplex_instructions(
    req: MintRequest, *, payer: Payer, mint: Keypair, authority: Payer
) -> list[Instruction]:
    m = mint.pubkey()
    auth = authority.pubkey  # mint, freeze and update authority; verifies itself as creator
    creators = (
        (CreatorShare(auth, True, 100),)
        if req.creators is None
        else tuple(CreatorShare(c.address, c.address == auth, c.share) for c in req.creators)
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
                freeze_authority=auth,
                mint=m,
                mint_authority=auth,
                program_id=TOKEN_PROGRAM_ID,
            )
        ),
        create_idempotent_associated_token_account(payer.pubkey, req.owner, m, TOKEN_PROGRAM_ID),
        mint_to(
            MintToParams(
                program_id=TOKEN_PROGRAM_ID,
                mint=m,
                dest=owner_account,
                mint_authority=auth,
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
                authority=auth,
            )
        ),
        create_master_edition_v3(m, payer.pubkey, max_supply=0, authority=auth),
    ]


def build_mint_message(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    recent_blockhash: Hash,
    compute_unit_limit: int,
    compute_unit_price: int | None = None,
    place: Placement = NO_EVENT,
    authority: Payer | None = None,
) -> MessageV0:
    """The unsigned message of :func:`build_mint_transaction` (its shape and writable
    accounts are read before anything is signed)."""
    build = mint_message_builder(
        req,
        payer=payer,
        mint=mint,
        recent_blockhash=recent_blockhash,
        place=place,
        authority=authority,
    )
    return build(compute_unit_limit, compute_unit_price)


def mint_message_builder(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    recent_blockhash: Hash,
    place: Placement = NO_EVENT,
    authority: Payer | None = None,
) -> Callable[[int, int | None], MessageV0]:
    """``build(compute_unit_limit, compute_unit_price)``: the message of
    :func:`build_mint_message` for each budget, the standard's instructions made once (a mint
    is built for its shape, then for its limit and its price)."""
    authority = authority or payer
    ixs = mint_instructions(req, payer=payer, mint=mint, place=place, authority=authority)

    def build(compute_unit_limit: int, compute_unit_price: int | None = None) -> MessageV0:
        budget = compute_budget(compute_unit_limit, compute_unit_price)
        return MessageV0.try_compile(payer.pubkey, budget + ixs, [], recent_blockhash)

    return build


def sign_mint_message(
    message: MessageV0, *, payer: Payer, mint: Keypair, authority: Payer | None = None
) -> VersionedTransaction:
    """``message`` signed by the payer, the mint key and the authority when it is another."""
    signers = [payer.keypair, mint]
    if authority is not None and authority.pubkey != payer.pubkey:
        signers.append(authority.keypair)
    return VersionedTransaction(message, signers)


def build_mint_transaction(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    recent_blockhash: Hash,
    compute_unit_limit: int,
    compute_unit_price: int | None = None,
    place: Placement = NO_EVENT,
    authority: Payer | None = None,
) -> VersionedTransaction:
    """The signed mint transaction for one ticket: ``payer`` pays (fee and rent),
    ``authority`` (default: the payer) holds the ticket's authorities."""
    message = build_mint_message(
        req,
        payer=payer,
        mint=mint,
        recent_blockhash=recent_blockhash,
        compute_unit_limit=compute_unit_limit,
        compute_unit_price=compute_unit_price,
        place=place,
        authority=authority,
    )
    return sign_mint_message(message, payer=payer, mint=mint, authority=authority)


def signed_size(
    req: MintRequest,
    *,
    payer: Payer,
    mint: Keypair,
    authority: Payer | None = None,
    place: Placement = NO_EVENT,
) -> int:
    """Bytes of ``req``'s signed mint transaction at its largest (a price instruction), counted
    without signing: the signatures' count, 64 bytes each, and the versioned message."""
    authority = authority or payer
    ixs = compute_budget(1_400_000, 1) + mint_instructions(
        req, payer=payer, mint=mint, place=place, authority=authority
    )
    message = MessageV0.try_compile(payer.pubkey, ixs, [], Hash.default())
    signatures = message.header.num_required_signatures  # fewer than 128: a one-byte count
    return 1 + 64 * signatures + len(to_bytes_versioned(message))


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
