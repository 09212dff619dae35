"""Reading Core tickets on the embedded validator: the check, the holder, a custody transfer.

Tickets are minted with the service's builder (``build_mint_transaction`` with a
``Placement``) at their deterministic address, in their event's collection at its
deterministic address; then what reads the chain (verify, reconcile, transfers) is run against
the real program's accounts. Needs ``MPL_CORE_SO``.

``test_a_ticket_of_an_event_verifies_and_costs_what_health_assumes`` is where
``actors.workflows.health.KNOWN_COST["core"]`` comes from (run with ``-s`` to see the figure).
"""

from __future__ import annotations

import dataclasses
import os
from types import SimpleNamespace

import pytest
from solana.rpc.api import Client
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import Transaction

from actors.workflows.health import KNOWN_COST
from actors.workflows.reconcile import reconcile
from actors.workflows.reconcile.check import ticket_holder
from actors.workflows.reconcile.model import OWNER_CHANGED
from actors.workflows.transfers import planned_transfer
from ledger.models import Status
from minter.keys import Payer, derive_collection_keypair, derive_mint_keypair
from minter.nft import parse_mint_request, verify_minted
from minter.nft.core import CoreCollection, create_collection_v2, transfer_v1
from minter.nft.core_plugins import PermanentBurnDelegate, PermanentTransferDelegate
from minter.nft.transaction import Placement, build_mint_transaction
from minter.rpc import ChainClient
from minter.transfer import CoreTicketTransfer, build_transfer_transaction
from tests.fakes import FakeLedger

pytestmark = pytest.mark.skipif(
    not os.environ.get("MPL_CORE_SO"),
    reason="MPL_CORE_SO not set: the Metaplex Core program binary is not on this machine",
)

UNITS = 100_000  # compute budget of the test's transactions (a Core ticket takes ~30k)


@pytest.fixture
def client(localnet):
    return Client(localnet.url)


@pytest.fixture
def chain(localnet):
    c = ChainClient(localnet.url)
    yield c
    c.close()


@pytest.fixture
def secret() -> bytes:
    return os.urandom(32)  # fresh addresses for each test on the session's validator


def send(client: Client, payer: Keypair, raw: bytes) -> int:
    """Send and confirm; the lamports the payer spent."""
    before = client.get_balance(payer.pubkey(), Confirmed).value
    sig = client.send_raw_transaction(raw).value
    client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
    meta = client.get_transaction(sig, "json", Confirmed, 0).value.transaction.meta
    assert meta.err is None, meta.log_messages
    return before - client.get_balance(payer.pubkey(), Confirmed).value


def register_event(client: Client, platform: Keypair, secret: bytes, event_id: str) -> Pubkey:
    """The event's collection, at its deterministic address, as the service creates it."""
    collection = derive_collection_keypair(secret, event_id)
    p = CoreCollection(
        collection=collection.pubkey(),
        update_authority=platform.pubkey(),
        payer=platform.pubkey(),
        name=f"Event {event_id}",
        uri=f"https://tickets.example/events/{event_id}.json",
        permanent_transfer_delegate=PermanentTransferDelegate(),
        permanent_burn_delegate=PermanentBurnDelegate(),
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = Transaction.new_signed_with_payer(
        [create_collection_v2(p)], platform.pubkey(), [platform, collection], blockhash
    )
    send(client, platform, bytes(tx))
    return collection.pubkey()


def ticket(ticket_id: str, owner: Pubkey, *, event: bool = True):
    """A demo-like Core ticket: three attributes (event_id, venue_id, seat) when of an event."""
    body = {
        "ticket_id": ticket_id,
        "owner": str(owner),
        "standard": "core",
        "metadata": {"name": "Ticket #12", "uri": "https://tickets.example/12.json"},
    }
    if event:
        body |= {"event_id": "E-7", "venue_id": "V-3", "seat": "B12"}
    return parse_mint_request(body, default_standard="core")


def mint(client, platform: Keypair, secret: bytes, req, place: Placement) -> tuple[Pubkey, int]:
    """The ticket at its deterministic address; the lamports the payer spent."""
    asset = derive_mint_keypair(secret, req.ticket_id)
    tx = build_mint_transaction(
        req,
        payer=Payer(platform),
        mint=asset,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
        compute_unit_limit=UNITS,
        place=place,
    )
    return asset.pubkey(), send(client, platform, bytes(tx))


def test_a_ticket_of_an_event_verifies_and_costs_what_health_assumes(
    client, funded_keypair, secret
):
    collection = register_event(client, funded_keypair, secret, "E-7")
    req = ticket("T-cost", Keypair().pubkey())
    asset, spent = mint(client, funded_keypair, secret, req, Placement(collection, frozen=True))
    print(f"\ncore ticket, 3 attributes, in a collection, frozen: {spent} lamports")
    assert spent == KNOWN_COST["core"]
    assert verify_minted(client, req, asset, collection=collection, frozen=True).ok
    assert verify_minted(client, req, asset).ok  # of an event, collection unnamed: unchecked


def test_what_differs_is_named(client, funded_keypair, secret):
    collection = register_event(client, funded_keypair, secret, "E-7")
    req = ticket("T-wrong", Keypair().pubkey())
    asset, _ = mint(client, funded_keypair, secret, req, Placement(collection, frozen=False))

    other = dataclasses.replace(req, attributes=(("tier", "VIP"),))
    (reason,) = verify_minted(client, other, asset, collection=collection).reasons
    assert reason.startswith("attributes are [('event_id', 'E-7'),") and "'tier'" in reason

    stranger = Keypair().pubkey()
    wrong = verify_minted(client, req, asset, stranger)
    assert wrong.reasons == [f"asset is held by {req.owner}, not {stranger}"]
    assert wrong.exists and not wrong.held and wrong.metadata_ok

    elsewhere = Keypair().pubkey()
    wrong = verify_minted(client, req, asset, collection=elsewhere, frozen=True)
    assert wrong.reasons == [
        f"collection is {collection}, asked {elsewhere}",
        "frozen is False, asked True",
    ]

    # a ticket without an event is in no collection
    alone = ticket("T-alone", Keypair().pubkey(), event=False)
    asset, _ = mint(client, funded_keypair, secret, alone, Placement())
    assert verify_minted(client, alone, asset).ok
    assert verify_minted(client, req, Keypair().pubkey()).reasons == [
        "asset account does not exist"
    ]


@pytest.mark.parametrize("frozen", [False, True])
def test_a_custody_transfer_moves_the_ticket(client, chain, funded_keypair, secret, frozen):
    # custody is the payer, the collection's update authority: as its permanent transfer
    # delegate too, it moves a ticket minted frozen (locked_until_checkin, non_transferable)
    platform = funded_keypair
    collection = register_event(client, platform, secret, "E-7")
    req = ticket("T-claim", platform.pubkey())
    asset, _ = mint(client, platform, secret, req, Placement(collection, frozen=frozen))
    buyer = Keypair().pubkey()
    row = SimpleNamespace(
        token_address=str(asset), from_address=str(platform.pubkey()), to_address=str(buyer)
    )
    t, have, there = planned_transfer(chain, row, "core", platform.pubkey(), close_source=True)
    assert isinstance(t, CoreTicketTransfer) and t.collection == collection  # read from chain
    assert (have, there) == (1, 0)

    tx = build_transfer_transaction(
        t,
        payer=platform,
        source=platform,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
        compute_unit_limit=UNITS,
    )
    send(client, platform, bytes(tx))
    assert planned_transfer(chain, row, "core", platform.pubkey(), close_source=True)[1:] == (0, 1)
    assert ticket_holder(chain, SimpleNamespace(mint_address=str(asset), standard="core")) == buyer
    assert verify_minted(client, req, asset, buyer, collection=collection, frozen=frozen).ok


def completed_core_mint(ledger: FakeLedger, req, asset: Pubkey) -> None:
    with ledger.uow() as uow:
        payload = req.to_ledger_payload()
        uow.mints.add_intents(
            [
                {
                    "ticket_id": req.ticket_id,
                    "mint_address": str(asset),
                    "owner_address": str(req.owner),
                    "standard": "core",
                    "metadata": payload["metadata"],
                    "event_id": req.event_id,
                    "venue_id": req.venue_id,
                    "payload": payload,
                }
            ]
        )
        uow.mints.mark_completed(req.ticket_id, expected=Status.PENDING)
        uow.commit()


def test_reconcile_sees_an_owner_changed_outside_the_ledger(client, chain, funded_keypair, secret):
    platform, buyer, elsewhere = funded_keypair, Keypair(), Keypair().pubkey()
    collection = register_event(client, platform, secret, "E-7")
    req = ticket("T-moved", buyer.pubkey())
    asset, _ = mint(client, platform, secret, req, Placement(collection, frozen=False))
    ledger = FakeLedger()
    completed_core_mint(ledger, req, asset)
    assert reconcile(uow_factory=ledger.uow, chain=chain).agrees

    # the buyer passes it on, outside the service: the owner signs, the platform pays
    ix = transfer_v1(
        asset, elsewhere, authority=buyer.pubkey(), payer=platform.pubkey(), collection=collection
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    send(
        client,
        platform,
        bytes(
            Transaction.new_signed_with_payer([ix], platform.pubkey(), [platform, buyer], blockhash)
        ),
    )
    report = reconcile(uow_factory=ledger.uow, chain=chain)
    assert [(d.kind, d.key, d.detail) for d in report.discrepancies] == [
        (OWNER_CHANGED, "T-moved", f"held by {elsewhere}; ledger says {buyer.pubkey()}")
    ]
    report = reconcile(uow_factory=ledger.uow, chain=chain, fix=True)
    assert report.discrepancies[0].fixed == f"recorded the move to {elsewhere}"
    assert reconcile(uow_factory=ledger.uow, chain=chain).agrees
