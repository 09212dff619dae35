"""Recent prioritization fees, kept as a real node's fee cache keeps them.

Per landed transaction: its compute-unit price (ComputeBudget ``SetComputeUnitPrice``, 0 when
absent) and the accounts it write-locks. Per slot the cache keeps the minimum price of all its
transactions and, per write-locked account, the minimum price of the transactions locking it.
``getRecentPrioritizationFees`` answers, per slot, what Agave's ``PrioritizationFeeCache``
answers: the block minimum, raised to the highest per-account minimum among the accounts asked
about ("the fee to land a transaction write-locking all of them"); 0 for a slot with none.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

from minter.fees import writable_keys

COMPUTE_BUDGET_PROGRAM = Pubkey.from_string("ComputeBudget111111111111111111111111111111")
SET_COMPUTE_UNIT_PRICE = 3  # the ComputeBudget instruction tag; a u64 LE price follows
MAX_RECENT_SLOTS = 150  # blocks a node's fee cache remembers
MAX_ACCOUNTS = 128  # accounts one request may name


def compute_unit_price(message: Message | MessageV0) -> int:
    """Micro-lamports per compute unit the message bids; 0 without ``SetComputeUnitPrice``."""
    keys = message.account_keys
    for ix in message.instructions:
        data = bytes(ix.data)
        if (
            keys[ix.program_id_index] == COMPUTE_BUDGET_PROGRAM
            and len(data) >= 9
            and data[0] == SET_COMPUTE_UNIT_PRICE
        ):
            return int.from_bytes(data[1:9], "little")
    return 0


@dataclass
class SlotFees:
    """The minimum prices seen in one slot: of all its transactions, and per written account."""

    minimum: int | None = None
    by_account: dict[Pubkey, int] = field(default_factory=dict)

    def add(self, price: int, writable: Iterable[Pubkey]) -> None:
        self.minimum = price if self.minimum is None else min(self.minimum, price)
        for key in writable:
            seen = self.by_account.get(key)
            self.by_account[key] = price if seen is None else min(seen, price)

    def fee(self, accounts: Iterable[Pubkey]) -> int:
        fee = self.minimum or 0
        for key in accounts:
            fee = max(fee, self.by_account.get(key, 0))
        return fee


class FeeCache:
    """The last ``MAX_RECENT_SLOTS`` slots' fees; the caller holds the chain's lock."""

    def __init__(self, window: int = MAX_RECENT_SLOTS) -> None:
        self.window = window
        self.slots: OrderedDict[int, SlotFees] = OrderedDict()

    def record(self, slot: int, message: Message | MessageV0) -> None:
        """One transaction landed in ``slot`` (failed or not: it paid its fee and its locks)."""
        self.slots.setdefault(slot, SlotFees()).add(
            compute_unit_price(message), writable_keys(message)
        )
        while self.slots and next(iter(self.slots)) <= slot - self.window:
            self.slots.popitem(last=False)

    def recent(self, first: int, last: int, accounts: list[Pubkey]) -> list[dict]:
        """``getRecentPrioritizationFees`` items for slots ``first..last`` (at most the window)."""
        first = max(first, last - self.window + 1)
        empty = SlotFees()
        return [
            {"slot": s, "prioritizationFee": self.slots.get(s, empty).fee(accounts)}
            for s in range(first, last + 1)
        ]
