"""The ticket lifecycle with the in-memory ledger and chain: decisions in the ledger (one
admitted scan, the first scan named to the second), operations written one at a time in order,
and each recognised on chain by what the asset shows."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from actors.infra.errors import IntentConflict
from actors.workflows.mints import MINTS, WAITING
from actors.workflows.ticket_ops import OPERATIONS, process_operation, wake_next
from actors.workflows.tickets import AlreadyCheckedIn, TicketNotFound, operate, ticket_view
from ledger.models import Status
from minter.keys import derive_version_keypair
from minter.nft.core import BURN_V1, CREATE_V2, UPDATE_PLUGIN_V1
from tests.fakes.chain import core_asset
from tests.unit.conftest import SECRET, World
from tests.unit.test_events import collection_on_chain, put, ticket


def core_ticket(world: World, ticket_id: str = "T-1", *, land: bool = True):
    """A Core ticket of event E-1 (its collection on chain), minted and confirmed."""
    if "E-1" not in world.ledger.tables["collections"]:
        put(world)
        collection_on_chain(world)
    owner = Keypair().pubkey()
    ticket(world, ticket_id, event_id="E-1", owner=str(owner))
    assert world.process_mint(ticket_id) == Status.SUBMITTED
    row = world.ledger.mint(ticket_id)
    if land:
        world.chain.land(row.signature)
        collection = Pubkey.from_string(world.ledger.collection("E-1").collection_address)
        asset = core_asset(owner, name="Ticket #1", uri="u", collection=collection)
        world.chain.put(Pubkey.from_string(row.mint_address), asset)
        world.confirm(MINTS)
        assert world.ledger.mint(ticket_id).status == Status.COMPLETED
    return world.ledger.mint(ticket_id)


def do(world: World, kind: str, ticket_id: str, **body):
    return operate(
        kind,
        ticket_id,
        body,
        uow_factory=world.uow,
        mint_secret=SECRET,
        notify=world.woken_operations.extend,
        actor="scanner-7",
    )


def process(world: World, operation_id: str) -> str:
    return process_operation(
        operation_id, uow_factory=world.uow, chain=world.chain, signer=world.signer
    )


def sent_instructions(world: World) -> list[int]:
    """The Core instruction numbers of the last transaction sent (compute budget left out)."""
    tx = VersionedTransaction.from_bytes(world.chain.sent[-1])
    keys = tx.message.account_keys
    return [
        bytes(ix.data)[0]
        for ix in tx.message.instructions
        if str(keys[ix.program_id_index]).startswith("CoRE")
    ]


def test_one_scan_is_admitted_the_second_names_the_first(world):
    core_ticket(world)
    first = do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    assert first.created and first.ticket.state == "checked_in"
    assert world.woken_operations == ["scan-1"]
    with pytest.raises(AlreadyCheckedIn) as err:
        do(world, "check_in", "T-1", operation_id="scan-2", gate="South")
    assert err.value.gate == "North" and err.value.first_checked_in_at == first.ticket.checked_in_at
    again = do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    assert not again.created and again.operation.operation_id == "scan-1"
    with pytest.raises(IntentConflict) as err:
        do(world, "check_in", "T-1", operation_id="scan-1", gate="West")
    assert err.value.field == "operation_id"
    assert set(world.ledger.tables["operations"]) == {"scan-1"}


def test_check_in_is_written_on_chain_and_recognised_there(world):
    row = core_ticket(world)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    assert process(world, "scan-1") == Status.SUBMITTED
    assert sent_instructions(world) == [UPDATE_PLUGIN_V1, UPDATE_PLUGIN_V1]  # attributes, freeze
    op = world.ledger.operation("scan-1")
    assert op.address == row.mint_address and op.version == 1
    # the transaction expired unseen, but the asset shows the check-in: completed, not resent
    world.chain.advance(200)
    view = ticket_view("T-1", uow_factory=world.uow, mint_secret=SECRET)
    checked = view["history"][1]
    assert checked["kind"] == "check_in" and checked["gate"] == "North"
    when = world.ledger.mint("T-1").checked_in_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    asset = core_asset(
        Pubkey.from_string(row.owner_address),
        name="Ticket #1",
        uri="u",
        attributes=[("event_id", "E-1"), ("venue_id", "V-3"), ("checked_in", when)],
        frozen=True,
    )
    world.chain.put(Pubkey.from_string(row.mint_address), asset)
    sent = len(world.chain.sent)
    stats = world.confirm(OPERATIONS)
    assert stats.completed_ids == ["scan-1"] and len(world.chain.sent) == sent
    assert world.ledger.operation("scan-1").status == Status.COMPLETED


def test_operations_wait_for_the_mint_and_for_each_other(world):
    core_ticket(world, land=False)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    do(world, "invalidate", "T-1", operation_id="refund-1", reason="refund")
    assert world.ledger.mint("T-1").state == "invalidated"
    assert process(world, "scan-1") == WAITING  # the mint has not landed
    row = world.ledger.mint("T-1")
    world.chain.land(row.signature)
    world.confirm(MINTS)
    assert wake_next(MINTS, ["T-1"], uow_factory=world.uow, notify=world.woken.extend) == 1
    assert world.woken[-1] == "scan-1"
    assert process(world, "refund-1") == WAITING  # the check-in goes first
    assert process(world, "scan-1") == Status.SUBMITTED
    world.chain.land(world.ledger.operation("scan-1").signature)
    world.confirm(OPERATIONS)
    assert process(world, "refund-1") == Status.SUBMITTED
    assert sent_instructions(world) == [BURN_V1]  # by the collection's permanent burn delegate


def test_reissue_mints_the_next_version_to_the_new_owner(world):
    core_ticket(world)
    with pytest.raises(IntentConflict):  # only an invalidated ticket is reissued
        do(world, "reissue", "T-1", operation_id="again-1")
    do(world, "invalidate", "T-1", operation_id="refund-1", reason="fraud")
    new_owner = str(Keypair().pubkey())
    done = do(world, "reissue", "T-1", operation_id="again-1", owner=new_owner)
    v2 = str(derive_version_keypair(SECRET, "T-1", 2).pubkey())
    assert done.operation.address == v2 and done.ticket.version == 2
    assert done.ticket.state == "reissued"
    world.chain.land(process_and_signature(world, "refund-1"))
    world.confirm(OPERATIONS)
    assert process(world, "again-1") == Status.SUBMITTED
    assert sent_instructions(world) == [CREATE_V2]
    tx = VersionedTransaction.from_bytes(world.chain.sent[-1])
    assert Pubkey.from_string(v2) in tx.message.account_keys
    assert Pubkey.from_string(new_owner) in tx.message.account_keys
    view = ticket_view("T-1", uow_factory=world.uow, mint_secret=SECRET)
    assert view["holder"] == new_owner and [v["valid"] for v in view["versions"]] == [False, True]
    # the new version is a ticket again: it can be checked in
    assert do(world, "check_in", "T-1", operation_id="scan-9", gate="G").operation.version == 2


def process_and_signature(world: World, operation_id: str) -> str:
    assert process(world, operation_id) == Status.SUBMITTED
    return world.ledger.operation(operation_id).signature


def test_other_standards_and_unknown_tickets_are_refused(world):
    world.intent("T-mpl", standard="metaplex")  # Token Metadata: no lifecycle on chain
    with pytest.raises(IntentConflict) as err:
        do(world, "check_in", "T-mpl", operation_id="scan-1", gate="North")
    assert err.value.field == "standard" and "metaplex" in str(err.value)
    with pytest.raises(TicketNotFound):
        do(world, "check_in", "T-none", operation_id="scan-2", gate="North")
    core_ticket(world)
    with pytest.raises(TicketNotFound):  # another venue's ticket is not there for the caller
        operate(
            "check_in",
            "T-1",
            {"operation_id": "scan-3", "gate": "North"},
            uow_factory=world.uow,
            mint_secret=SECRET,
            notify=world.woken_operations.extend,
            visible=lambda row: row.venue_id == "V-9",
        )
    assert world.ledger.tables["operations"] == {}


def test_an_operation_of_a_ticket_whose_mint_failed_fails(world):
    core_ticket(world, land=False)
    do(world, "check_in", "T-1", operation_id="scan-1", gate="North")
    with world.uow() as uow:
        uow.mints.mark_failed("T-1", expected=Status.SUBMITTED, reason="all attempts expired")
        uow.commit()
    assert process(world, "scan-1") == Status.FAILED
    assert "mint of ticket T-1 failed" in world.ledger.operation("scan-1").last_error
    assert len(world.chain.sent) == 2  # the collection and the mint: nothing for the scan


def test_a_token2022_ticket_is_checked_in_and_burned_by_the_platform(world):
    from spl.token.constants import TOKEN_2022_PROGRAM_ID

    from tests.fakes import token2022_mint

    row = world.minted("T-22")
    do(world, "check_in", "T-22", operation_id="scan-1", gate="North")
    assert process(world, "scan-1") == Status.SUBMITTED
    tx = VersionedTransaction.from_bytes(world.chain.sent[-1])
    programs = {str(tx.message.account_keys[ix.program_id_index]) for ix in tx.message.instructions}
    assert str(TOKEN_2022_PROGRAM_ID) in programs
    # expired unseen, but the mint's metadata shows the check-in: completed, not rebuilt
    when = world.ledger.mint("T-22").checked_in_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    mint = Pubkey.from_string(row.mint_address)
    metadata = {**row.payload["metadata"]}
    world.chain.put(mint, token2022_mint(mint, **metadata, extra=[("checked_in", when)]))
    world.chain.advance(200)
    assert world.confirm(OPERATIONS).completed_ids == ["scan-1"]
    do(world, "invalidate", "T-22", operation_id="void-1", reason="refund")
    assert process(world, "void-1") == Status.SUBMITTED
