"""Core tickets wherever the chain is read or a ticket moved: the check, transfers,
reconciliation, status and health, over the fakes (one asset account per ticket)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.workflows.health import KNOWN_COST, Health
from actors.workflows.reconcile import reconcile
from actors.workflows.reconcile.model import DIFFERS, MISSING, OWNER_CHANGED
from actors.workflows.status import ticket_status
from actors.workflows.transfers import TRANSFERS
from ledger.models import Status
from minter.nft import accounts_to_read, check_accounts, parse_mint_request
from minter.nft.core import CORE_PROGRAM_ID, TRANSFER_V1
from minter.transfer import CoreTicketTransfer, transfer_instructions
from tests.fakes.chain import core_asset
from tests.unit.conftest import World

EVENT = {"event_id": "E-7", "venue_id": "V-3", "seat": "B12"}
ATTRIBUTES = [("event_id", "E-7"), ("venue_id", "V-3"), ("seat", "B12")]
META = {"name": "Ticket #12", "uri": "https://tickets.example/12.json"}


def core_req(owner: Pubkey, ticket_id: str = "T-1", **item):
    body = {"ticket_id": ticket_id, "owner": str(owner), "standard": "core", "metadata": META}
    return parse_mint_request(body | item, default_standard="core")


def asset_of(req, owner: Pubkey | None = None, **changes) -> Account:
    """The asset ``req`` asks for (held by ``owner``), with ``changes`` to its fields."""
    fields = dict(name=req.name, uri=req.uri, attributes=req.core_attributes) | changes
    return core_asset(owner or req.owner, **fields)


# -- the check ------------------------------------------------------------------------------------


def test_a_core_ticket_is_read_from_its_asset_alone():
    req, asset = core_req(Keypair().pubkey(), **EVENT), Pubkey.new_unique()
    assert accounts_to_read(req, asset, Keypair().pubkey()) == [asset]
    assert req.core_attributes == ATTRIBUTES


def check(req, account, holder=None, **kw):
    return check_accounts(req, Pubkey.new_unique(), [account], holder, **kw)


def test_the_asset_asked_for_is_ok():
    owner, collection = Keypair().pubkey(), Pubkey.new_unique()
    req = core_req(owner, **EVENT)
    view = check(req, asset_of(req, collection=collection, frozen=True), collection=collection)
    assert view.ok and view.exists and view.held and view.metadata_ok and view.supply == 1
    assert check(req, asset_of(req, collection=collection)).ok  # collection not named: unchecked
    alone = core_req(owner)
    assert check(alone, asset_of(alone), frozen=False).ok


@pytest.mark.parametrize(
    ("changes", "kw", "reason"),
    [
        ({"name": "Ticket #13"}, {}, "metadata is ('Ticket #13', "),
        ({"uri": "https://x"}, {}, "metadata is ('Ticket #12', 'https://x'), asked"),
        ({"attributes": ATTRIBUTES[:2]}, {}, "attributes are [('event_id', 'E-7'), ('venue_id'"),
        ({"attributes": None}, {}, "attributes are None, asked [('event_id'"),
        ({"frozen": False}, {"frozen": True}, "frozen is False, asked True"),
        ({"frozen": None}, {"frozen": True}, "frozen is None, asked True"),
    ],
)
def test_what_differs_from_the_request_is_named(changes, kw, reason):
    req = core_req(Keypair().pubkey(), **EVENT)
    view = check(req, asset_of(req, **changes), **kw)
    assert view.exists and view.held and not view.metadata_ok
    assert view.reasons[0].startswith(reason), view.reasons


def test_collections_are_checked():
    named, other = Pubkey.new_unique(), Pubkey.new_unique()
    req = core_req(Keypair().pubkey(), **EVENT)
    wrong = check(req, asset_of(req, collection=other), collection=named)
    assert wrong.reasons == [f"collection is {other}, asked {named}"]
    outside = check(req, asset_of(req), collection=named)
    assert outside.reasons == [f"collection is None, asked {named}"]
    alone = core_req(Keypair().pubkey())  # no event: no collection
    assert check(alone, asset_of(alone, collection=other)).reasons == [
        f"collection is {other}, asked None"
    ]


def test_a_ticket_held_by_another_wallet_is_not_held():
    req, someone = core_req(Keypair().pubkey()), Keypair().pubkey()
    view = check(req, asset_of(req, owner=someone))
    assert view.reasons == [f"asset is held by {someone}, not {req.owner}"]
    assert view.metadata_ok and not view.held
    assert check(req, asset_of(req, owner=someone), someone).ok  # the holder the caller names


def test_an_absent_foreign_burned_or_unreadable_account_is_not_the_ticket():
    req = core_req(Keypair().pubkey())
    assert check(req, None).reasons == ["asset account does not exist"]
    assert not check(req, None).exists
    foreign = Account(897_840, bytes(asset_of(req).data), Pubkey.new_unique(), False, 0)
    assert check(req, foreign).reasons[0].startswith("asset is owned by ")
    burned = Account(897_840, b"\0", CORE_PROGRAM_ID, False, 0)
    assert check(req, burned).reasons == ["asset was burned"]
    garbage = Account(897_840, b"\5" + bytes(8), CORE_PROGRAM_ID, False, 0)
    assert check(req, garbage).reasons[0].startswith("asset account is not a Core asset")
    for view in (check(req, foreign), check(req, burned), check(req, garbage)):
        assert view.exists and view.supply == 0 and not view.ok


# -- the world: Core tickets in the ledger, their assets on the fake chain -------------------------


def core_ticket(world: World, ticket_id: str, owner: Pubkey, *, event=None, **asset) -> Pubkey:
    """A completed Core mint in the ledger (recorded directly, as intake would) and its asset
    on chain; ``event`` = (collection address, policy) registers the ticket's event."""
    req = core_req(owner, ticket_id, **(EVENT if event else {}))
    address = Pubkey.new_unique()
    payload = req.to_ledger_payload()
    with world.uow() as uow:
        if event and uow.collections.get("E-7") is None:
            uow.collections.add_intents([collection_row(*event)])
        uow.mints.add_intents(
            [
                {
                    "ticket_id": ticket_id,
                    "mint_address": str(address),
                    "owner_address": str(owner),
                    "standard": "core",
                    "metadata": payload["metadata"],
                    "event_id": req.event_id,
                    "venue_id": req.venue_id,
                    "payload": payload,
                }
            ]
        )
        uow.mints.mark_completed(ticket_id, expected=Status.PENDING)
        uow.commit()
    collection = event[0] if event else None
    world.chain.put(address, asset_of(req, collection=collection, **asset))
    return address


def collection_row(address: Pubkey, policy: str) -> dict:
    return {
        "event_id": "E-7",
        "collection_address": str(address),
        "standard": "core",
        "name": "Event E-7",
        "symbol": "",
        "uri": "https://tickets.example/events/E-7.json",
        "venue_id": "V-3",
        "transfer_policy": policy,
        "payload": {},
    }


def move(world: World, address: Pubkey, to: Pubkey) -> None:
    """The asset's owner becomes ``to``; all else stays."""
    (state,) = world.chain.accounts([address])
    data = bytes(state.data)
    moved = data[:1] + bytes(to) + data[33:]  # the owner follows the key byte
    world.chain.put(address, Account(state.lamports, moved, state.owner, False, 0))


# -- transfers ------------------------------------------------------------------------------------


def sent_transfer(world: World) -> tuple:
    msg = VersionedTransaction.from_bytes(world.chain.sent[-1]).message
    keys = msg.account_keys
    (ix,) = [i for i in msg.instructions if keys[i.program_id_index] == CORE_PROGRAM_ID]
    return ix.data[0], [keys[i] for i in ix.accounts]


def test_a_custody_claim_is_a_transfer_v1_naming_the_assets_collection(world):
    collection = Pubkey.new_unique()
    payer = world.payer.pubkey
    asset = core_ticket(world, "T-1", payer, event=(collection, "transferable"))
    buyer = Keypair().pubkey()
    world.claim("X-1", "T-1", to=buyer)
    assert world.process_transfer("X-1") == Status.SUBMITTED
    op, accounts = sent_transfer(world)
    # asset, collection, payer, authority (the owner: custody), new owner, system, log wrapper
    assert op == TRANSFER_V1
    assert accounts[:5] == [asset, collection, payer, payer, buyer]
    with world.uow() as uow:
        row = uow.transfers.get("X-1")
        assert TRANSFERS.happened(uow, world.chain, [row]) == [False]
        move(world, asset, buyer)
        assert TRANSFERS.happened(uow, world.chain, [row]) == [True]


def test_a_core_ticket_outside_a_collection_names_none():
    t = CoreTicketTransfer(*(Pubkey.new_unique() for _ in range(4)))
    (ix,) = transfer_instructions(t)
    assert ix.accounts[1].pubkey == CORE_PROGRAM_ID and t.mint == t.asset  # "absent"


def test_a_core_claim_already_delivered_completes_without_sending(world):
    asset = core_ticket(world, "T-1", world.payer.pubkey)
    buyer = Keypair().pubkey()
    world.claim("X-1", "T-1", to=buyer)
    move(world, asset, buyer)
    assert world.process_transfer("X-1") == Status.COMPLETED
    assert world.chain.sent == []


def test_a_core_claim_whose_source_lost_the_ticket_fails(world):
    asset = core_ticket(world, "T-1", world.payer.pubkey)
    world.claim("X-1", "T-1")
    move(world, asset, Keypair().pubkey())
    assert world.process_transfer("X-1") == Status.FAILED
    assert world.ledger.transfer("X-1").last_error == "source does not hold the token"
    world.chain.put(asset, None)
    with world.uow() as uow:
        assert TRANSFERS.happened(uow, world.chain, [uow.transfers.get("X-1")]) == [False]


# -- reconciliation -------------------------------------------------------------------------------


class CountingChain:
    """The fake chain, counting the token-holder reads a Core ticket must not need."""

    def __init__(self, chain) -> None:
        self._chain, self.largest = chain, 0

    def __getattr__(self, name):
        return getattr(self._chain, name)

    def largest_token_accounts(self, mint):
        self.largest += 1
        return self._chain.largest_token_accounts(mint)


def found(world: World, chain=None, **kw):
    report = reconcile(uow_factory=world.uow, chain=chain or world.chain, **kw)
    return report, [(d.kind, d.key, d.detail) for d in report.discrepancies]


def test_core_tickets_that_agree_report_nothing(world):
    event = (Pubkey.new_unique(), "locked_until_checkin")
    core_ticket(world, "T-1", Keypair().pubkey(), event=event, frozen=True)
    core_ticket(world, "T-2", Keypair().pubkey(), event=event, frozen=True)
    core_ticket(world, "T-3", Keypair().pubkey())
    report, _ = found(world)
    assert report.agrees and report.mints == 3


def test_an_outside_move_of_a_core_ticket_is_read_from_the_asset(world):
    owner, elsewhere = Keypair().pubkey(), Keypair().pubkey()
    asset = core_ticket(world, "T-1", owner)
    move(world, asset, elsewhere)
    chain = CountingChain(world.chain)
    _, seen = found(world, chain)
    assert seen == [(OWNER_CHANGED, "T-1", f"held by {elsewhere}; ledger says {owner}")]
    assert chain.largest == 0
    report, _ = found(world, chain, fix=True)
    assert report.discrepancies[0].fixed == f"recorded the move to {elsewhere}"
    with world.uow() as uow:
        (observed,) = uow.transfers.for_ticket("T-1")
    assert (observed.from_address, observed.to_address) == (str(owner), str(elsewhere))
    assert found(world, chain)[0].agrees and chain.largest == 0


def test_a_core_ticket_outside_its_events_collection_or_unfrozen_differs(world):
    collection, stray = Pubkey.new_unique(), Pubkey.new_unique()
    asset = core_ticket(world, "T-1", Keypair().pubkey(), event=(collection, "non_transferable"))
    _, seen = found(world)
    assert seen == [(DIFFERS, "T-1", "frozen is False, asked True")]
    req = core_req(Keypair().pubkey(), **EVENT)
    world.chain.put(asset, asset_of(req, owner=req.owner, collection=stray, frozen=True))
    ((kind, _, detail),) = found(world)[1]
    assert kind == DIFFERS and f"collection is {stray}, asked {collection}" in detail


def test_a_completed_core_ticket_without_its_asset_is_missing(world):
    asset = core_ticket(world, "T-1", Keypair().pubkey())
    world.chain.put(asset, None)
    assert found(world)[1] == [(MISSING, "T-1", "asset account does not exist")]


# -- status and health ----------------------------------------------------------------------------


def test_status_shows_the_assets_owner(world):
    owner, elsewhere = Keypair().pubkey(), Keypair().pubkey()
    asset = core_ticket(world, "T-1", owner, event=(Pubkey.new_unique(), "transferable"))
    report = ticket_status("T-1", uow_factory=world.uow, chain=world.chain)
    assert report["agrees"] and report["holder_on_chain"] == str(owner)
    move(world, asset, elsewhere)
    report = ticket_status("T-1", uow_factory=world.uow, chain=world.chain)
    assert report["holder_on_chain"] == str(elsewhere) and not report["agrees"]
    assert report["chain"] == f"asset is held by {elsewhere}, not {owner}"


def test_status_of_a_token_ticket_moved_outside_names_where_it_is(world):
    row = world.minted("T-1")
    elsewhere = Keypair().pubkey()
    mint = Pubkey.from_string(row.mint_address)
    world.chain.hold(mint, Pubkey.from_string(row.owner_address), TOKEN_2022_PROGRAM_ID, 0)
    world.chain.hold(mint, elsewhere, TOKEN_2022_PROGRAM_ID)
    report = ticket_status("T-1", uow_factory=world.uow, chain=world.chain)
    assert report["holder_on_chain"] == str(elsewhere) and not report["agrees"]


def health_of(world: World, standard: str) -> Health:
    settings = SimpleNamespace(
        minting=SimpleNamespace(standard=standard),
        signer=SimpleNamespace(payer=world.payer),
    )
    services = SimpleNamespace(settings=settings, chain=world.chain, uow_factory=world.uow)
    return Health(services, ping_redis=lambda: True)


def test_health_wants_the_core_program_deployed_and_knows_its_cost(world):
    health = health_of(world, "core")
    assert health.readiness()["checks"]["metadata_program"] == f"{CORE_PROGRAM_ID} is not deployed"
    world.chain.put(CORE_PROGRAM_ID, Account(1, b"", Pubkey.default(), True, 0))
    assert health.readiness()["checks"]["metadata_program"] == "ok"
    world.chain.balances[world.payer.pubkey] = 10 * KNOWN_COST["core"] + 1
    balance = health.balance()
    assert balance["cost_per_ticket_lamports"] == KNOWN_COST["core"]
    assert balance["mints_left"] == 10 and not balance["cost_measured"]
