"""Compute budget instructions shared by every transaction the service signs."""

from __future__ import annotations

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import Instruction


def compute_budget(limit: int, price: int | None = None) -> list[Instruction]:
    """The unit limit (from a simulation), and a unit price when a priority fee is asked."""
    budget = [set_compute_unit_limit(limit)]
    if price:
        budget.append(set_compute_unit_price(price))
    return budget
