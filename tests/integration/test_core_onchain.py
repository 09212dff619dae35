"""Metaplex Core tickets on the embedded validator: our builders, the real program, our decoder.

Needs the program binary (``MPL_CORE_SO``, loaded by tests/support/validator.py). One event's
collection carries Royalties and the permanent transfer and burn delegates; each ticket is an
asset in it, owned by a fresh buyer, with Attributes and its own PermanentFreezeDelegate.

Measured here (run with ``-s`` to see them), mpl-core binary of /work/programs; the platform
key is payer and update authority; lamports are what the payer spent, 5000 per signature
included:

- collection (Royalties with 2 creators, both permanent delegates; account 254 bytes):
  484-byte transaction, 21,772 CU, 2,668,720 lamports (rent 2,658,720).
- ticket (name 47 bytes, uri 43, 4 attributes, PermanentFreezeDelegate; account 295 bytes):
  576-byte transaction, 29,997 CU, 4,454,080 lamports: rent 2,944,080, plus the 1,500,000
  lamports that Core's CreateV2 puts in every asset as its protocol fee.
- UpdatePluginV1 adding `checked_in`: 394 bytes, 26,998 CU, 248,600 lamports (the rent of
  the longer account); TransferV1 by the permanent delegate: 274 bytes, 9,990 CU, the fee;
  BurnV1 by the permanent delegate: 241 bytes, 10,470 CU, and 2,284,840 lamports come back.
"""

from __future__ import annotations

import os

import pytest
from solana.rpc.api import Client
from solana.rpc.commitment import Confirmed
from solana.rpc.core import RPCException
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from minter.nft.core import (
    CoreAsset,
    CoreCollection,
    burn_v1,
    create_collection_v2,
    create_v2,
    transfer_v1,
    update_plugin_v1,
)
from minter.nft.core_plugins import (
    UPDATE_AUTHORITY,
    Attributes,
    Creator,
    PermanentBurnDelegate,
    PermanentFreezeDelegate,
    PermanentTransferDelegate,
    PluginType,
    Royalties,
)
from minter.nft.decode_core import UpdateAuthorityKind, decode_core_asset, decode_core_collection

pytestmark = pytest.mark.skipif(
    not os.environ.get("MPL_CORE_SO"),
    reason="MPL_CORE_SO not set: the Metaplex Core program binary is not on this machine",
)

PDA_OWNER = Pubkey.find_program_address(
    [b"wallet"], Pubkey.from_string("SMPLecH534NA9acpos4G6x7uf3LWbCAwZQE9e8ZekMu")
)[0]


class Sent:
    def __init__(self, size: int, units: int, lamports: int) -> None:
        self.size, self.units, self.lamports = size, units, lamports


def send(client: Client, payer: Keypair, ixs: list[Instruction], *extra: Keypair) -> Sent:
    """Sign, send and confirm; the transaction's size, its compute units and what the payer
    spent (fees, rent, the program's fee)."""
    before = client.get_balance(payer.pubkey(), Confirmed).value
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = Transaction.new_signed_with_payer(ixs, payer.pubkey(), [payer, *extra], blockhash)
    sig = client.send_raw_transaction(bytes(tx)).value
    client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    meta = client.get_transaction(sig, "json", Confirmed, 0).value.transaction.meta
    assert meta.err is None, meta.log_messages
    after = client.get_balance(payer.pubkey(), Confirmed).value
    return Sent(len(bytes(tx)), meta.compute_units_consumed, before - after)


def refusal(client: Client, payer: Keypair, ixs: list[Instruction], *extra: Keypair) -> str:
    """The preflight's error (with the program's logs) for a transaction the chain refuses."""
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = Transaction.new_signed_with_payer(ixs, payer.pubkey(), [payer, *extra], blockhash)
    with pytest.raises(RPCException) as err:
        client.send_raw_transaction(bytes(tx))
    return str(err.value)


def asset_of(client: Client, address: Pubkey):
    return decode_core_asset(bytes(client.get_account_info(address, Confirmed).value.data))


def collection_of(client: Client, address: Pubkey):
    return decode_core_collection(bytes(client.get_account_info(address, Confirmed).value.data))


@pytest.fixture
def client(localnet):
    return Client(localnet.url)


def make_collection(client: Client, platform: Keypair, n_creators: int = 2):
    collection = Keypair()
    shares = [100 // n_creators + (i < 100 % n_creators) for i in range(n_creators)]
    creators = tuple(Creator(Keypair().pubkey(), s) for s in shares)  # the program wants 100
    p = CoreCollection(
        collection=collection.pubkey(),
        update_authority=platform.pubkey(),
        payer=platform.pubkey(),
        name="Fête de la Musique 2026 🎫",
        uri="https://t.example/events/E-2026-0001/collection.json",
        royalties=Royalties(500, creators),
        permanent_transfer_delegate=PermanentTransferDelegate(),
        permanent_burn_delegate=PermanentBurnDelegate(),
    )
    sent = send(client, platform, [create_collection_v2(p)], collection)
    return p, sent


def ticket_attributes(seat: str) -> Attributes:
    return Attributes(
        (("event_id", "E-2026-0001"), ("venue_id", "V-Pärís"), ("seat", seat), ("tier", "VIP"))
    )


def make_ticket(client, platform, collection: Pubkey | None, frozen: bool, owner=None):
    asset = Keypair()
    p = CoreAsset(
        asset=asset.pubkey(),
        owner=owner or Keypair().pubkey(),
        payer=platform.pubkey(),
        name="Ticket E-2026-0001 seat B12 — Entrée générale",
        uri="https://t.example/tickets/T-0000000001.json",
        authority=platform.pubkey(),
        collection=collection,
        attributes=ticket_attributes("B12"),
        permanent_freeze_delegate=PermanentFreezeDelegate(frozen),
    )
    sent = send(client, platform, [create_v2(p)], asset)
    return p, sent


def test_collection_is_created_as_asked(client, funded_keypair):
    p, sent = make_collection(client, funded_keypair)
    print(f"\ncollection: {sent.size} bytes, {sent.units} CU, {sent.lamports} lamports")
    c = collection_of(client, p.collection)
    assert (c.update_authority, c.name, c.uri) == (p.update_authority, p.name, p.uri)
    assert (c.num_minted, c.current_size) == (0, 0)
    assert c.royalties == p.royalties
    assert c.plugin(PluginType.PERMANENT_TRANSFER_DELEGATE) == PermanentTransferDelegate()
    assert c.plugin(PluginType.PERMANENT_BURN_DELEGATE) == PermanentBurnDelegate()
    assert all(e.authority == UPDATE_AUTHORITY for e in c.plugins)


@pytest.mark.parametrize("frozen", [True, False])
def test_ticket_is_created_in_its_collection(client, funded_keypair, frozen):
    coll, _ = make_collection(client, funded_keypair)
    p, sent = make_ticket(client, funded_keypair, coll.collection, frozen)
    print(f"\nticket: {sent.size} bytes, {sent.units} CU, {sent.lamports} lamports")
    a = asset_of(client, p.asset)
    assert (a.owner, a.name, a.uri) == (p.owner, p.name, p.uri)
    assert a.update_authority.kind == UpdateAuthorityKind.COLLECTION
    assert a.collection == coll.collection
    assert a.attributes == p.attributes.attributes
    assert a.frozen is frozen
    assert a.plugin(PluginType.ATTRIBUTES) == p.attributes
    c = collection_of(client, coll.collection)
    assert (c.num_minted, c.current_size) == (1, 1)


def test_ticket_without_collection_and_off_curve_owner(client, funded_keypair):
    p, _ = make_ticket(client, funded_keypair, None, False, owner=PDA_OWNER)
    a = asset_of(client, p.asset)
    assert a.owner == PDA_OWNER and a.collection is None
    assert a.update_authority.kind == UpdateAuthorityKind.ADDRESS
    assert a.update_authority.address == funded_keypair.pubkey()


def test_ticket_lifecycle_by_the_platform_alone(client, funded_keypair):
    platform = funded_keypair
    coll, _ = make_collection(client, platform)
    buyer = Keypair()
    p, _ = make_ticket(client, platform, coll.collection, False, owner=buyer.pubkey())
    kw = dict(authority=platform.pubkey(), payer=platform.pubkey(), collection=coll.collection)

    checked_in = Attributes(p.attributes.attributes + (("checked_in", "2026-06-21T20:00Z"),))
    sent = send(client, platform, [update_plugin_v1(p.asset, checked_in, **kw)])
    print(f"\nupdate attributes: {sent.size} bytes, {sent.units} CU, {sent.lamports} lamports")
    assert asset_of(client, p.asset).attributes == checked_in.attributes

    send(client, platform, [update_plugin_v1(p.asset, PermanentFreezeDelegate(True), **kw)])
    assert asset_of(client, p.asset).frozen is True

    # the owner cannot move a frozen ticket...
    by_owner = dict(kw, authority=buyer.pubkey())
    to_friend = transfer_v1(p.asset, Keypair().pubkey(), **by_owner)
    assert "permanent_freeze_delegate" in refusal(client, platform, [to_friend], buyer)
    # ...the permanent transfer delegate can, without the owner's signature
    resale = Keypair().pubkey()
    sent = send(client, platform, [transfer_v1(p.asset, resale, **kw)])
    print(f"transfer by delegate: {sent.size} bytes, {sent.units} CU, {sent.lamports} lamports")
    a = asset_of(client, p.asset)
    assert a.owner == resale and a.frozen is True

    sent = send(client, platform, [burn_v1(p.asset, **kw)])
    print(f"burn by delegate: {sent.size} bytes, {sent.units} CU, {sent.lamports} lamports")
    gone = client.get_account_info(p.asset, Confirmed).value
    # Core leaves a one-byte tombstone (key Uninitialized) when the asset's rent goes back
    assert gone is None or bytes(gone.data) in (b"", b"\x00")
    assert collection_of(client, coll.collection).current_size == 0
