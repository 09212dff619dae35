"""A world of fakes for the workflow unit tests: an in-memory ledger, a chain the test arranges,
the worker's signers, and what the workflows woke up. No services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.workflows.confirmer import ConfirmStats, confirm_submitted
from actors.workflows.intake import enqueue_mints
from actors.workflows.lifecycle import Kind
from actors.workflows.mints import MINTS, MintSigner, process_mint
from actors.workflows.transfers import (
    TRANSFERS,
    TransferSigner,
    enqueue_transfer,
    process_transfer,
)
from ledger.models import Status
from minter.keys import Payer
from tests.fakes import FakeChain, FakeLedger, token2022_mint
from tests.fakes.ledger import MintRow, TransferRow

SECRET = b"s" * 32
METADATA = {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"}


@dataclass
class World:
    ledger: FakeLedger = field(default_factory=FakeLedger)
    chain: FakeChain = field(default_factory=FakeChain)
    payer: Payer = field(default_factory=lambda: Payer(Keypair()))
    woken: list[str] = field(default_factory=list)  # mints the lifecycle sent back to workers
    woken_transfers: list[str] = field(default_factory=list)
    woken_collections: list[str] = field(default_factory=list)
    woken_operations: list[str] = field(default_factory=list)

    @property
    def uow(self):
        """The ``uow_factory`` every workflow takes."""
        return self.ledger.uow

    @property
    def signer(self) -> MintSigner:
        return MintSigner(payer=self.payer, mint_secret=SECRET)

    @property
    def transfer_signer(self) -> TransferSigner:
        return TransferSigner(payer=self.payer)  # custody is the payer

    # -- mints ---------------------------------------------------------------------------------
    def intent(self, ticket_id: str, *, owner: Pubkey | None = None, **item) -> MintRow:
        body = {
            "ticket_id": ticket_id,
            "owner": str(owner or Keypair().pubkey()),
            "standard": "token2022",
            "metadata": dict(METADATA),
            **item,
        }
        enqueue_mints(
            [body],
            uow_factory=self.uow,
            mint_secret=SECRET,
            default_standard="token2022",
            notify=lambda ids: None,
        )
        return self.ledger.mint(ticket_id)

    def process_mint(self, ticket_id: str) -> str:
        return process_mint(ticket_id, uow_factory=self.uow, chain=self.chain, signer=self.signer)

    def submitted_mint(self, ticket_id: str, **kw) -> MintRow:
        self.intent(ticket_id, **kw)
        assert self.process_mint(ticket_id) == Status.SUBMITTED
        return self.ledger.mint(ticket_id)

    def put_nft(self, row: MintRow, *, holder: Pubkey | None = None, **changes) -> Pubkey:
        """The NFT the row asked for, on chain and held by ``holder`` (the owner by default)."""
        mint = Pubkey.from_string(row.mint_address)
        self.chain.put(mint, token2022_mint(mint, **{**row.payload["metadata"], **changes}))
        owner = holder or Pubkey.from_string(row.owner_address)
        self.chain.hold(mint, owner, TOKEN_2022_PROGRAM_ID)
        return mint

    def minted(self, ticket_id: str, **kw) -> MintRow:
        """A completed mint: sent, landed, confirmed."""
        row = self.submitted_mint(ticket_id, **kw)
        self.chain.land(row.signature)
        self.put_nft(row)
        self.confirm(MINTS)
        assert self.ledger.mint(ticket_id).status == Status.COMPLETED
        return self.ledger.mint(ticket_id)

    # -- transfers -----------------------------------------------------------------------------
    def claim(self, transfer_id: str, ticket_id: str, *, to: Pubkey | None = None) -> TransferRow:
        item = {
            "transfer_id": transfer_id,
            "ticket_id": ticket_id,
            "to": str(to or Keypair().pubkey()),
        }
        enqueue_transfer(
            item, uow_factory=self.uow, signer=self.transfer_signer, notify=lambda ids: None
        )
        return self.ledger.transfer(transfer_id)

    def process_transfer(self, transfer_id: str) -> str:
        return process_transfer(
            transfer_id, uow_factory=self.uow, chain=self.chain, signer=self.transfer_signer
        )

    def custody_ticket(self, ticket_id: str) -> MintRow:
        """A minted ticket held by custody (the payer), ready to be claimed."""
        return self.minted(ticket_id, owner=self.payer.pubkey)

    def submitted_transfer(self, transfer_id: str, *, ticket_id: str | None = None) -> TransferRow:
        ticket_id = ticket_id or f"T-{transfer_id}"
        self.custody_ticket(ticket_id)
        self.claim(transfer_id, ticket_id)
        assert self.process_transfer(transfer_id) == Status.SUBMITTED
        return self.ledger.transfer(transfer_id)

    def move_on_chain(self, row: TransferRow, *, to: str | None = None) -> None:
        """The token leaves ``row``'s source for its destination (or ``to``)."""
        mint = Pubkey.from_string(row.token_address)
        self.chain.hold(mint, Pubkey.from_string(row.from_address), TOKEN_2022_PROGRAM_ID, 0)
        self.chain.hold(mint, Pubkey.from_string(to or row.to_address), TOKEN_2022_PROGRAM_ID)

    # -- the lifecycle -------------------------------------------------------------------------
    def confirm(self, kind, **kw) -> ConfirmStats:
        wake = self.woken if kind is MINTS else self.woken_transfers
        return confirm_submitted(
            uow_factory=self.uow, chain=self.chain, kind=kind, notify=wake.extend, **kw
        )

    def row(self, kind, key: str):
        return self.ledger.mint(key) if kind is MINTS else self.ledger.transfer(key)

    def attempts(self, kind, key: str) -> list[tuple[str, str | None]]:
        return [(a.signature, a.outcome) for a in self.ledger.attempts(kind.name, key)]


@pytest.fixture
def world() -> World:
    return World()


@dataclass(frozen=True)
class Case:
    kind: Kind
    submit: Callable  # (world, key) -> the submitted row
    process: Callable  # (world, key) -> what the worker did
    happen: Callable  # (world, row): its effect is on chain, whichever attempt made it


CASES = [
    pytest.param(
        Case(
            MINTS,
            lambda w, key: w.submitted_mint(key),
            lambda w, key: w.process_mint(key),
            lambda w, row: w.put_nft(row),
        ),
        id="mint",
    ),
    pytest.param(
        Case(
            TRANSFERS,
            lambda w, key: w.submitted_transfer(key),
            lambda w, key: w.process_transfer(key),
            lambda w, row: w.move_on_chain(row),
        ),
        id="transfer",
    ),
]


@pytest.fixture(params=CASES)
def case(request) -> Case:
    """Mints and transfers alike: what the shared lifecycle and reconciliation must hold to."""
    return request.param
