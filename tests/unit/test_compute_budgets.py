"""Compute unit limits learned per transaction shape: a new shape is simulated once per process,
however many worker threads meet it at once."""

from __future__ import annotations

import threading
import time

from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer

from actors.workflows.lifecycle import CACHED_CU_HEADROOM, ComputeBudgets, compute_units
from minter.nft.transaction import compute_budget
from minter.rpc import Simulation


class SlowChain:
    """Only what compute_units asks of a chain: a simulation, slow enough for threads to meet."""

    def __init__(self) -> None:
        self.simulations = 0
        self._lock = threading.Lock()

    def simulate(self, tx) -> Simulation:
        with self._lock:
            self.simulations += 1
        time.sleep(0.05)
        return Simulation(40_000, None, [])


def build(units: int):
    payer = Keypair()
    ix = transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=payer.pubkey(), lamports=1))
    return MessageV0.try_compile(
        payer.pubkey(), compute_budget(units, None) + [ix], [], Hash.default()
    )


def test_threads_meeting_a_new_shape_simulate_it_once():
    chain, budgets = SlowChain(), ComputeBudgets()
    limits: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: limits.append(
                compute_units(build, chain=chain, budgets=budgets, sign=lambda m: m)
            )
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert chain.simulations == 1
    learned = int(40_000 * 1.15)
    assert sorted(limits) == [learned] + [learned + CACHED_CU_HEADROOM] * 7
    # a rebuild that ran out is simulated again, whatever the cache knows
    compute_units(build, chain=chain, budgets=budgets, sign=lambda m: m, resize=True)
    assert chain.simulations == 2
