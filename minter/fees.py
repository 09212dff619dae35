"""The priority-fee policy: which compute-unit price to bid, from the cluster's recent fees.

The bid is a percentile of the recent ``getRecentPrioritizationFees`` values for the accounts
the transaction write-locks, raised by ``step`` each time an expired transaction is rebuilt,
and capped so that the priority fee of one transaction never exceeds ``max_lamports``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from solders.message import Message, MessageV0
from solders.pubkey import Pubkey

MICRO_LAMPORTS_PER_LAMPORT = 1_000_000
DEFAULT_PERCENTILE = 75  # of the recent per-slot fees: above most, without paying the outliers
DEFAULT_STEP = 1.5  # multiplier per rebuild after an expiry: x1.5, x2.25, x3.4 ...
# Lamports per transaction paid as priority fee, at most: 0.001 SOL, 200 times the 5000-lamport
# base fee. At a 200k-CU mint it still allows 5,000,000 micro-lamports per CU, above what busy
# mainnet slots ask; it bounds what a fee spike, or repeated rebuilds, can cost per ticket.
DEFAULT_MAX_PRIORITY_LAMPORTS = 1_000_000


@dataclass(frozen=True)
class PriorityFeePolicy:
    """How the compute-unit price is chosen from recent fees, raised on rebuilds, and capped."""

    percentile: float = DEFAULT_PERCENTILE
    step: float = DEFAULT_STEP
    max_lamports: int = DEFAULT_MAX_PRIORITY_LAMPORTS

    def __post_init__(self) -> None:
        if not 0 <= self.percentile <= 100:
            raise ValueError(f"percentile must be within 0..100, not {self.percentile}")
        if self.step < 1:
            raise ValueError(f"step must be at least 1, not {self.step}")
        if self.max_lamports < 0:
            raise ValueError(f"max_lamports must not be negative, not {self.max_lamports}")

    def price(self, recent: Sequence[int], *, units: int, rebuilds: int = 0) -> int:
        """Micro-lamports per CU: the nearest-rank percentile of ``recent`` (0 if empty), times
        ``step ** rebuilds``, capped so that ``price * units / 1e6 <= max_lamports`` (floor)."""
        if units < 0 or rebuilds < 0:
            raise ValueError("units and rebuilds must not be negative")
        price = math.floor(nearest_rank(recent, self.percentile) * self.step**rebuilds)
        if units > 0:
            price = min(price, self.max_lamports * MICRO_LAMPORTS_PER_LAMPORT // units)
        return price


def nearest_rank(values: Sequence[int], percentile: float) -> int:
    """The smallest value with at least ``percentile`` % of ``values`` at or below it; 0 if none."""
    if not values:
        return 0
    ordered = sorted(values)
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return ordered[rank - 1]


def writable_keys(message: Message | MessageV0) -> list[Pubkey]:
    """The static account keys the message write-locks, by its header.

    Keys loaded from address lookup tables are not resolved (the service does not use them)."""
    header, keys = message.header, list(message.account_keys)
    signed = header.num_required_signatures
    signed_writable = signed - header.num_readonly_signed_accounts
    unsigned_writable = len(keys) - header.num_readonly_unsigned_accounts
    return [
        k for i, k in enumerate(keys) if (i < signed_writable) or (signed <= i < unsigned_writable)
    ]
