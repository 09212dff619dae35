"""Events and their collections, with the in-memory ledger and chain: registration and repeats,
the collection's exactly-once creation, Core tickets that wait for it, venue, standard and
capacity rules at intake."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from actors.infra.errors import CapacityReached, IntentConflict
from actors.workflows.collections import COLLECTIONS, get_event, process_collection, put_event
from actors.workflows.intake import enqueue_mints
from actors.workflows.mints import WAITING
from ledger.models import Status
from minter.errors import ValidationError
from minter.keys import derive_collection_keypair
from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.core_plugins import PermanentFreezeDelegate, encode_plugin
from tests.unit.conftest import SECRET, World

EVENT = {"name": "Concert 2026", "uri": "https://t.example/e.json", "venue_id": "V-3"}
CORE_TICKET = {"metadata": {"name": "Ticket #1", "uri": "https://t.example/1.json"}}


def put(world: World, event_id: str = "E-1", **fields):
    return put_event(
        event_id,
        {**EVENT, **fields},
        uow_factory=world.uow,
        mint_secret=SECRET,
        notify=world.woken_collections.extend,
    )


def ticket(world: World, ticket_id: str, **item):
    body = {"ticket_id": ticket_id, "owner": str(Keypair().pubkey()), **CORE_TICKET, **item}
    return enqueue_mints(
        [body],
        uow_factory=world.uow,
        mint_secret=SECRET,
        default_standard="token2022",
        notify=world.woken.extend,
    )[0]


def collection_on_chain(world: World, event_id: str = "E-1") -> None:
    assert (
        process_collection(event_id, uow_factory=world.uow, chain=world.chain, signer=world.signer)
        == Status.SUBMITTED
    )
    world.chain.land(world.ledger.collection(event_id).signature)
    stats = world.confirm(COLLECTIONS)
    assert stats.completed_ids == [event_id]


def test_an_event_is_registered_once_with_its_derived_collection(world):
    first = put(world, capacity=100)
    assert first.created and world.woken_collections == ["E-1"]
    row = world.ledger.collection("E-1")
    assert row.collection_address == str(derive_collection_keypair(SECRET, "E-1").pubkey())
    assert (row.status, row.capacity, row.transfer_policy) == ("pending", 100, "transferable")
    again = put(world, capacity=100)
    assert not again.created and not again.changed
    assert world.woken_collections == ["E-1"]  # a repeat wakes nothing


def test_a_change_is_taken_before_sending_and_refused_after(world):
    put(world, capacity=100)
    assert put(world, capacity=200).changed
    assert world.ledger.collection("E-1").capacity == 200
    process_collection("E-1", uow_factory=world.uow, chain=world.chain, signer=world.signer)
    with pytest.raises(IntentConflict) as err:
        put(world, capacity=300)
    assert err.value.field == "capacity"
    assert world.ledger.collection("E-1").capacity == 200


def test_the_collection_is_created_by_the_mint_protocol(world):
    put(world)
    collection_on_chain(world)
    row = world.ledger.collection("E-1")
    assert row.status == Status.COMPLETED and row.attempts == 1
    (attempt,) = world.ledger.attempts("collection", "E-1")
    assert attempt.signature == row.signature and attempt.outcome == "landed"
    tx = VersionedTransaction.from_bytes(world.chain.sent[0])
    assert Pubkey.from_string(row.collection_address) in tx.message.account_keys
    assert CORE_PROGRAM_ID in tx.message.account_keys
    # a second wake-up sends nothing
    before = len(world.chain.sent)
    process_collection("E-1", uow_factory=world.uow, chain=world.chain, signer=world.signer)
    assert len(world.chain.sent) == before


def test_a_core_ticket_waits_for_its_collection_then_goes_into_it(world):
    put(world, transfer_policy="locked_until_checkin")
    result = ticket(world, "T-1", event_id="E-1")
    row = world.ledger.mint("T-1")
    assert row.standard == "core" and row.venue_id == "V-3"  # the event's standard and venue
    assert world.process_mint("T-1") == WAITING
    assert world.chain.sent == [] and world.ledger.mint("T-1").status == Status.PENDING
    collection_on_chain(world)
    assert world.process_mint("T-1") == Status.SUBMITTED
    tx = VersionedTransaction.from_bytes(world.chain.sent[-1])
    keys = tx.message.account_keys
    collection = Pubkey.from_string(world.ledger.collection("E-1").collection_address)
    assert collection in keys and Pubkey.from_string(result.mint_address) in keys
    # locked until check-in: minted frozen, by its own permanent freeze delegate
    create = tx.message.instructions[-1]
    assert encode_plugin(PermanentFreezeDelegate(frozen=True)) in bytes(create.data)


def test_intake_rules_of_registered_events(world):
    put(world, capacity=2)
    with pytest.raises(ValidationError) as err:
        ticket(world, "T-x", event_id="E-1", standard="token2022")
    assert err.value.field == "standard"
    with pytest.raises(ValidationError) as err:
        ticket(world, "T-x", event_id="E-1", venue_id="V-9")
    assert err.value.field == "venue_id"
    with pytest.raises(ValidationError) as err:
        ticket(world, "T-x", event_id="E-unknown", standard="core")
    assert err.value.field == "event_id"
    with pytest.raises(ValidationError) as err:
        ticket(world, "T-x", event_id="E-1", attributes={f"k{i}": "v" * 64 for i in range(10)})
    assert err.value.field == "attributes" and "1232" in err.value.message
    assert world.ledger.tables["mints"] == {}
    # token2022 tickets naming an unregistered event mint as before (an attribute only)
    plain = {"name": "T", "symbol": "TIX", "uri": "https://t.example/t"}
    assert ticket(
        world, "T-t22", event_id="E-unknown", standard="token2022", metadata=plain
    ).created


def test_capacity_refuses_the_ticket_that_would_overfill(world):
    put(world, capacity=2)
    owner = str(Keypair().pubkey())
    assert ticket(world, "T-1", event_id="E-1", owner=owner).created
    assert ticket(world, "T-2", event_id="E-1").created
    with pytest.raises(CapacityReached) as err:
        ticket(world, "T-3", event_id="E-1")
    assert err.value.field == "event_id" and "0 of 2 seats left" in str(err.value)
    repeat = ticket(world, "T-1", event_id="E-1", owner=owner)  # a repeat takes no new seat
    assert repeat.outcome == "repeat"
    assert set(world.ledger.tables["mints"]) == {"T-1", "T-2"}
    event = get_event("E-1", uow_factory=world.uow)
    assert event["tickets"]["pending"] == 2 and event["collection_status"] == "pending"
