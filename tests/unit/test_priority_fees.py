"""``SOLANA_COMPUTE_UNIT_PRICE=auto`` in the mint workflow over fakes: the price comes from the
recent fees of the transaction's own writable accounts at the percentile, is raised per
rebuild, and never costs more than the cap."""

from __future__ import annotations

from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from actors.workflows.mints import MintSigner, process_mint
from minter.fees import PriorityFeePolicy
from minter.localnet.fees import compute_unit_price
from minter.rpc import Simulation
from tests.unit.conftest import SECRET

FEES = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]  # recent slots


def mint_with(world, ticket_id: str, policy: PriorityFeePolicy) -> VersionedTransaction:
    signer = MintSigner(payer=world.payer, mint_secret=SECRET, fees=policy)
    assert process_mint(ticket_id, uow_factory=world.uow, chain=world.chain, signer=signer) == (
        "submitted"
    )
    return VersionedTransaction.from_bytes(world.chain.sent[-1])


def units_of(tx: VersionedTransaction) -> int:
    keys = tx.message.account_keys
    for ix in tx.message.instructions:
        if str(keys[ix.program_id_index]).startswith("ComputeBudget") and ix.data[0] == 2:
            return int.from_bytes(bytes(ix.data[1:5]), "little")
    raise AssertionError("no compute unit limit")


def test_the_price_is_the_percentile_of_the_writable_accounts_fees(world):
    world.chain.fees = FEES
    row = world.intent("PF-1")
    tx = mint_with(world, "PF-1", PriorityFeePolicy(percentile=75, max_lamports=10**9))
    assert compute_unit_price(tx.message) == 800  # nearest rank: the 9th of 12
    (asked,) = world.chain.fees_asked
    assert world.payer.pubkey in asked and Pubkey.from_string(row.mint_address) in asked
    assert all(str(k) != "ComputeBudget111111111111111111111111111111" for k in asked)


def test_the_cap_bounds_what_a_transaction_pays(world):
    world.chain.fees = [10**9]  # a congested cluster
    world.chain.simulation = Simulation(100_000, None, [])
    world.intent("PF-2")
    tx = mint_with(world, "PF-2", PriorityFeePolicy(percentile=50, max_lamports=5_000))
    price, units = compute_unit_price(tx.message), units_of(tx)
    assert price > 0 and price * units <= 5_000 * 1_000_000


def test_each_rebuild_raises_the_price(world):
    world.chain.fees = FEES
    world.intent("PF-3")
    world.ledger.mint("PF-3")  # a row that two expired attempts left pending
    world.ledger.tables["mints"]["PF-3"].attempts = 2
    tx = mint_with(world, "PF-3", PriorityFeePolicy(percentile=75, step=2.0, max_lamports=10**9))
    assert compute_unit_price(tx.message) == 800 * 4


def test_a_quiet_cluster_adds_no_price(world):
    world.chain.fees = [0, 0, 0]
    world.intent("PF-4")
    tx = mint_with(world, "PF-4", PriorityFeePolicy())
    assert compute_unit_price(tx.message) == 0
