"""The ports workflows run against (DESIGN.md, "Layers"): the ledger's unit of work and the chain.

They name exactly what the workflows call, nothing more. ``ledger.unit_of_work.UnitOfWork`` and
``minter.rpc.ChainClient`` satisfy them structurally (``tests/unit/test_ports.py`` checks it);
``tests/fakes.py`` implements them in memory, so the unit tests run every workflow without a
database or a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, runtime_checkable

from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionStatus

from ledger.models import Submission, Watched
from minter.rpc import Simulation

# ---------------------------------------------------------------------------------------------
# rows: the columns workflows read (writes go through the repositories' guarded transitions)


class IntentRow(Protocol):
    KEY: str  # the name of the row's id attribute: ticket_id or transfer_id
    id: int  # the order rows were recorded in
    created_at: datetime
    status: str
    payload: dict[str, Any]
    signature: str | None
    signed_tx: bytes | None
    last_valid_block_height: int | None
    attempts: int
    last_error: str | None
    updated_at: datetime
    completed_at: datetime | None


class MintRow(IntentRow, Protocol):
    ticket_id: str
    mint_address: str
    owner_address: str
    standard: str
    event_id: str | None
    venue_id: str | None
    state: str
    version: int
    checked_in_at: datetime | None
    checked_in_gate: str | None


class TransferRow(IntentRow, Protocol):
    transfer_id: str
    ticket_id: str
    token_address: str
    from_address: str
    to_address: str


class CollectionRow(IntentRow, Protocol):
    event_id: str
    collection_address: str
    standard: str
    name: str
    symbol: str
    uri: str
    venue_id: str | None
    capacity: int | None
    transfer_policy: str


class OperationRow(IntentRow, Protocol):
    operation_id: str
    ticket_id: str
    kind: str
    version: int
    address: str
    id: int


class AttemptRow(Protocol):
    kind: str
    ref_id: str
    signature: str
    last_valid_block_height: int
    sent_at: datetime | None
    outcome: str | None
    error: str | None
    payer: str | None  # the fee payer of that transaction (None: recorded before 0005)
    created_at: datetime


Row = TypeVar("Row", bound=IntentRow, covariant=True)


# ---------------------------------------------------------------------------------------------
# the ledger


@runtime_checkable
class IntentRepository(Protocol[Row]):
    """Mints and transfers alike: a transition is ``UPDATE … WHERE status = :expected`` and says
    whether the row moved; claims skip rows another worker holds."""

    def add_intents(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Row, bool]]: ...
    def get(self, key: str) -> Row | None: ...
    def get_many(self, keys: Sequence[str]) -> list[Row]: ...
    def claim_pending(self, key: str) -> Row | None: ...
    def claim_pending_many(self, keys: Sequence[str]) -> list[Row]: ...
    def has_status(self, status: str) -> bool: ...
    def claim_submitted(self, *, limit: int) -> list[Watched]: ...
    def signed_txs(self, keys: Sequence[str]) -> dict[str, bytes]: ...
    def mark_checked(self, keys: Sequence[str]) -> None: ...
    def requeue_stale_pending(self, *, older_than: timedelta, limit: int) -> list[str]: ...
    def mark_submitted(
        self,
        key: str,
        *,
        expected: str,
        signature: str,
        signed_tx: bytes,
        last_valid_block_height: int,
    ) -> bool: ...
    def mark_submitted_many(self, items: Sequence[Submission], *, expected: str) -> list[str]: ...
    def mark_completed(
        self, key: str, *, expected: str, signature: str | None = None, slot: int | None = None
    ) -> bool: ...
    def mark_completed_many(
        self, slots: Mapping[str, int | None], *, expected: str
    ) -> list[str]: ...
    def mark_failed(self, key: str, *, expected: str, reason: str) -> bool: ...
    def reset_to_pending(self, key: str, *, expected: str, reason: str) -> bool: ...
    def note_error(self, key: str, reason: str) -> None: ...
    def count_by_status(self) -> dict[str, int]: ...
    def db_now(self) -> datetime: ...
    def iter_pages(self, *, page: int = ...) -> Iterator[list[Row]]: ...


@runtime_checkable
class MintRepository(IntentRepository[MintRow], Protocol):
    def count_by_status_and_standard(self) -> dict[tuple[str, str], int]: ...
    def recent_signatures(self, *, standard: str, limit: int) -> list[str]: ...
    def completed_since(self, since: datetime) -> list[tuple[str, float, datetime]]: ...
    def count_for_event(self, event_id: str) -> int: ...
    def count_by_status_for_event(self, event_id: str) -> dict[str, int]: ...
    def pending_for_event(self, event_id: str, *, limit: int = ...) -> list[str]: ...
    def change_state(
        self, ticket_id: str, *, expected: Sequence[str], state: str, **values: Any
    ) -> MintRow | None: ...
    def reissue(self, ticket_id: str, *, expected: Sequence[str]) -> MintRow | None: ...
    def admit(self, ticket_id: str, *, expected: Sequence[str], gate: str) -> MintRow | None: ...


@runtime_checkable
class OperationRepository(IntentRepository[OperationRow], Protocol):
    def for_ticket(self, ticket_id: str) -> list[OperationRow]: ...
    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[OperationRow]]: ...
    def next_pending(self, ticket_ids: Sequence[str]) -> list[str]: ...


@runtime_checkable
class CollectionRepository(IntentRepository[CollectionRow], Protocol):
    def lock(self, event_id: str) -> CollectionRow | None: ...
    def replace_pending(self, event_id: str, values: Mapping[str, Any]) -> bool: ...


@runtime_checkable
class TransferRepository(IntentRepository[TransferRow], Protocol):
    def for_ticket(self, ticket_id: str) -> list[TransferRow]: ...
    def for_tickets(self, ticket_ids: Sequence[str]) -> dict[str, list[TransferRow]]: ...
    def record_observed(self, row: Mapping[str, Any]) -> bool: ...


@runtime_checkable
class AttemptRepository(Protocol):
    """One row per signed transaction; ``sent_at`` is only ever set once."""

    def record(
        self,
        kind: str,
        ref_id: str,
        signature: str,
        last_valid_block_height: int,
        payer: str | None = None,
    ) -> None: ...
    def record_many(self, kind: str, items: Sequence[Submission]) -> None: ...
    def mark_sent(self, signatures: str | Sequence[str]) -> None: ...
    def set_outcome(self, signature: str, outcome: str, error: str | None = None) -> None: ...
    def set_outcomes(self, signatures: Sequence[str], outcome: str) -> None: ...
    def list_for(self, kind: str, ref_id: str) -> list[AttemptRow]: ...


@runtime_checkable
class MetricsRepository(Protocol):
    def insert_batch(self, rows: Sequence[Mapping[str, Any]]) -> int: ...
    def ping(self) -> None: ...


@runtime_checkable
class UnitOfWork(Protocol):
    """One transaction: what is not committed when the block ends is rolled back."""

    mints: MintRepository
    transfers: TransferRepository
    attempts: AttemptRepository
    collections: CollectionRepository
    operations: OperationRepository
    metrics: MetricsRepository

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# ---------------------------------------------------------------------------------------------
# the chain


@runtime_checkable
class Chain(Protocol):
    """The cluster as workflows see it. ``send`` raises ``minter.rpc.SendOutcomeUnknown`` when
    the bytes may or may not have landed and ``minter.rpc.TransactionRejected`` when they were
    refused for good; ``statuses`` answers ``None`` for a signature the cluster never saw."""

    def latest_blockhash(self) -> tuple[Hash, int]: ...
    def block_height(self) -> int: ...
    def health(self) -> str: ...
    def balance(self, pubkey: Pubkey) -> int: ...
    def accounts(self, pubkeys: Sequence[Pubkey]) -> list[Account | None]: ...
    def largest_token_accounts(self, mint: Pubkey) -> list[tuple[Pubkey, int]]: ...
    def fee_payer_spent(self, signature: Signature) -> int | None: ...
    def statuses(self, signatures: Sequence[Signature]) -> list[TransactionStatus | None]: ...
    def simulate(self, tx: VersionedTransaction) -> Simulation: ...
    def send(self, raw: bytes) -> Signature: ...
    def send_many(self, raws: Sequence[bytes]) -> list[Signature | Exception]:
        """Each item's signature, or the error :meth:`send` would raise for it, in order."""
        ...

    def recent_fees(self, accounts: Sequence[Pubkey]) -> list[int]: ...
