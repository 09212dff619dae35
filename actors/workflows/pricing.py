"""The compute-unit price of a transaction the service signs (``SOLANA_COMPUTE_UNIT_PRICE``).

A fixed price (or none) is the same for every transaction. Under ``auto`` each transaction is
priced from the recent fees of the accounts it write-locks itself: a busy account (a hot
collection, the authority paying for many operations) raises only the transactions that lock
it, and a quiet one is not charged for the others' congestion.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.workflows.ports import Chain
from minter.fees import PriorityFeePolicy, writable_keys


def priced(
    build: Callable,
    *,
    chain: Chain,
    units: int,
    fees: PriorityFeePolicy | None,
    fixed_price: int | None,
    rebuilds: int = 0,
):
    """``build(units, price)`` at the price it should bid: ``fixed_price`` without a policy;
    with one, the policy's percentile of the recent fees of the transaction's own writable
    accounts, raised per rebuild (``rebuilds``: earlier attempts of its row, each signed and
    expired unseen), capped for ``units``. ``build`` may give a transaction or a message."""
    if fees is None:
        return build(units, fixed_price)
    # the accounts are read from a draft: the price instruction adds no writable account
    draft = build(units, None)
    writable = writable_keys(getattr(draft, "message", draft))
    price = fees.price(chain.recent_fees(writable), units=units, rebuilds=rebuilds)
    return build(units, price or None)  # 0: a quiet cluster, no price instruction at all
