"""A mint whose authority is not its payer lands, and on chain the ticket's authorities are the
authority's, never the payer's; the payer alone pays (fee and rent), the authority spends
nothing (it need not even hold lamports). Token-2022 always; Core with ``MPL_CORE_SO`` (in an
event's collection, whose update authority is the authority); Metaplex with
``MPL_TOKEN_METADATA_SO``. With the authority omitted the bytes are those of a payer that is
its own authority."""

from __future__ import annotations

import os

import pytest
from solana.rpc.api import Client
from solana.rpc.commitment import Confirmed
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from minter.keys import Payer
from minter.nft import parse_mint_request
from minter.nft.core import CoreCollection, create_collection_v2
from minter.nft.decode import (
    decode_metaplex_metadata,
    decode_mint,
    decode_token_metadata,
    permanent_delegate,
)
from minter.nft.decode_core import UpdateAuthorityKind, decode_core_asset
from minter.nft.metaplex import metadata_pda
from minter.nft.transaction import NO_EVENT, Placement, build_mint_transaction

OWNER = Keypair().pubkey()


def request(standard: str, ticket: str):
    body = {
        "ticket_id": ticket,
        "owner": str(OWNER),
        "standard": standard,
        "event_id": "E-1",
        "seat": "B12",
        "metadata": {"name": f"Ticket {ticket}", "uri": f"https://t.example/{ticket}"},
    }
    if standard != "core":
        body["metadata"]["symbol"] = "TIX"
    return parse_mint_request(body, default_standard=standard)


@pytest.fixture
def client(localnet):
    return Client(localnet.url)


def balance(client: Client, key: Pubkey) -> int:
    return client.get_balance(key, Confirmed).value


def mint(client: Client, req, *, payer: Payer, authority: Payer, place=NO_EVENT):
    """Build, send, confirm; the mint address and the transaction's fee payer on chain."""
    mint_key = Keypair()
    tx = build_mint_transaction(
        req,
        payer=payer,
        authority=authority,
        mint=mint_key,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
        compute_unit_limit=400_000,
        place=place,
    )
    assert len(tx.signatures) == 3  # payer, mint, authority
    sig = client.send_raw_transaction(bytes(tx)).value
    client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    landed = client.get_transaction(sig, "json", Confirmed, 0).value.transaction
    assert landed.meta.err is None, landed.meta.log_messages
    return mint_key.pubkey(), landed.transaction.message.account_keys[0]


def data(client: Client, address: Pubkey) -> bytes:
    return bytes(client.get_account_info(address, Confirmed).value.data)


def test_token2022_authority_is_not_the_payer(client, localnet):
    payer = Payer(localnet.fund(Keypair(), sol=1))
    authority = Payer(Keypair())  # never funded: it signs, it pays nothing
    before = balance(client, payer.pubkey)
    address, fee_payer = mint(client, request("token2022", "A-1"), payer=payer, authority=authority)
    assert fee_payer == payer.pubkey
    state = decode_mint(data(client, address))
    assert state.freeze_authority == authority.pubkey and state.mint_authority is None
    assert permanent_delegate(data(client, address)) == authority.pubkey
    meta = decode_token_metadata(data(client, address))
    assert meta.update_authority == authority.pubkey and ("seat", "B12") in meta.additional
    assert balance(client, authority.pubkey) == 0 and balance(client, payer.pubkey) < before


def test_without_an_authority_the_bytes_are_the_payers_own():
    payer, mint_key, blockhash = Payer(Keypair()), Keypair(), Hash.new_unique()
    for standard in ("token2022", "metaplex", "core"):
        req = request(standard, "B-1")
        kw = dict(payer=payer, mint=mint_key, recent_blockhash=blockhash, compute_unit_limit=1)
        alone = build_mint_transaction(req, **kw)
        assert bytes(build_mint_transaction(req, authority=payer, **kw)) == bytes(alone)
        other = build_mint_transaction(req, authority=Payer(Keypair()), **kw)
        assert len(other.signatures) == 3 and other.message.account_keys[0] == payer.pubkey


@pytest.mark.skipif(not os.environ.get("MPL_CORE_SO"), reason="MPL_CORE_SO not set")
def test_core_authority_is_not_the_payer(client, localnet):
    payer = Payer(localnet.fund(Keypair(), sol=1))
    authority = Payer(localnet.fund(Keypair(), sol=1))  # pays for its collection only
    alone, fee_payer = mint(client, request("core", "C-1"), payer=payer, authority=authority)
    asset = decode_core_asset(data(client, alone))
    assert fee_payer == payer.pubkey and asset.owner == OWNER
    assert asset.update_authority.kind == UpdateAuthorityKind.ADDRESS
    assert asset.update_authority.address == authority.pubkey

    collection = Keypair()  # an event's collection: the authority is its update authority
    p = CoreCollection(
        collection=collection.pubkey(),
        update_authority=authority.pubkey,
        payer=authority.pubkey,
        name="Event",
        uri="https://t.example/e.json",
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = Transaction.new_signed_with_payer(
        [create_collection_v2(p)], authority.pubkey, [authority.keypair, collection], blockhash
    )
    client.confirm_transaction(
        client.send_raw_transaction(bytes(tx)).value, Confirmed, sleep_seconds=0.05
    )
    spent_before = balance(client, authority.pubkey)
    place = Placement(collection=collection.pubkey(), frozen=True)
    inside, fee_payer = mint(
        client, request("core", "C-2"), payer=payer, authority=authority, place=place
    )
    asset = decode_core_asset(data(client, inside))
    assert fee_payer == payer.pubkey and asset.collection == collection.pubkey()
    assert asset.frozen is True
    assert balance(client, authority.pubkey) == spent_before  # the payer paid it all


@pytest.mark.skipif(
    not os.environ.get("MPL_TOKEN_METADATA_SO"), reason="MPL_TOKEN_METADATA_SO not set"
)
def test_metaplex_authority_is_not_the_payer(client, localnet):
    payer = Payer(localnet.fund(Keypair(), sol=1))
    authority = Payer(Keypair())
    address, fee_payer = mint(client, request("metaplex", "M-1"), payer=payer, authority=authority)
    meta = decode_metaplex_metadata(data(client, metadata_pda(address)))
    assert fee_payer == payer.pubkey and meta.update_authority == authority.pubkey
    assert meta.creators == ((authority.pubkey, True, 100),)
    assert balance(client, authority.pubkey) == 0
