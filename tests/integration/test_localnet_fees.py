"""getRecentPrioritizationFees on the embedded validator: the prices of the transactions that
landed, as a real node's fee cache reports them (Agave's ``PrioritizationFeeCache``).

Per slot: the minimum compute-unit price of the slot's transactions, raised to the highest
per-account minimum among the accounts asked about (the transactions write-locking each).
A validator of its own, so that only this module's transactions set the fees.
"""

from __future__ import annotations

import math

import httpx
import pytest
from solana.rpc.api import Client
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from minter.errors import PermanentRpcError
from minter.fees import PriorityFeePolicy
from minter.localnet.process import LocalnetProcess
from minter.rpc import ChainClient
from tests.support.validator import LAMPORTS_PER_SOL

SAME_SLOT_TRIES = 5


def fees(url: str, *params) -> list[dict]:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getRecentPrioritizationFees",
        "params": list(params),
    }
    answer = httpx.post(url, json=body, timeout=10).json()
    assert "error" not in answer, answer
    return answer["result"]


def by_slot(url: str, *addresses: Pubkey) -> dict[int, int]:
    params = [[str(a) for a in addresses]] if addresses else []
    return {item["slot"]: item["prioritizationFee"] for item in fees(url, *params)}


def priced_transfer(
    client: Client, payer: Keypair, price: int
) -> tuple[VersionedTransaction, Pubkey]:
    to = Keypair().pubkey()
    ixs = [
        set_compute_unit_limit(10_000),
        set_compute_unit_price(price),
        transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=to, lamports=1_000_000)),
    ]
    blockhash = client.get_latest_blockhash().value.blockhash
    message = MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash)
    return VersionedTransaction(message, [payer]), to


def land(client: Client, sent: list[tuple[Keypair, int]]) -> list[tuple[int, Pubkey]]:
    """Send priced transfers back to back; (landed slot, recipient) of each, once confirmed."""
    txs = [priced_transfer(client, payer, price) for payer, price in sent]
    sigs = [client.send_transaction(tx).value for tx, _ in txs]
    for sig in sigs:
        client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    statuses = client.get_signature_statuses(sigs).value
    assert all(s is not None and s.err is None for s in statuses)
    return [(s.slot, to) for s, (_, to) in zip(statuses, txs, strict=True)]


@pytest.fixture(scope="module")
def url():
    with LocalnetProcess() as proc:
        yield proc.url


def funded(client: Client) -> Keypair:
    kp = Keypair()
    sig = client.request_airdrop(kp.pubkey(), 10 * LAMPORTS_PER_SOL).value
    client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    return kp


@pytest.fixture(scope="module")
def landed(url):
    """x pays 5_000 and 50_000, y pays 1_000: three transfers landed in one slot."""
    client = Client(url, timeout=10)
    x, y = funded(client), funded(client)
    for _ in range(SAME_SLOT_TRIES):
        found = land(client, [(x, 5_000), (x, 50_000), (y, 1_000)])
        slots = {slot for slot, _ in found}
        if len(slots) == 1:
            return {"x": x.pubkey(), "y": y.pubkey(), "slot": slots.pop(), "to": found}
    pytest.fail("three back-to-back transfers never landed in one slot")


def test_per_account_minimum_in_the_slot_where_they_landed(url, landed):
    slot, x, y = landed["slot"], landed["x"], landed["y"]
    (_, to_5k), (_, to_50k), (_, to_1k) = landed["to"]
    assert by_slot(url, x)[slot] == 5_000  # x's two: the minimum of 5_000 and 50_000
    assert by_slot(url, y)[slot] == 1_000
    assert by_slot(url, to_50k)[slot] == 50_000  # only the 50_000 transfer locks it
    assert by_slot(url, to_5k)[slot] == 5_000
    assert by_slot(url, to_1k)[slot] == 1_000
    assert by_slot(url, x, y)[slot] == 5_000  # a transaction locking both must beat both
    assert by_slot(url, y, to_50k)[slot] == 50_000


def test_unrelated_account_and_no_accounts_report_the_slot_minimum(url, landed):
    slot = landed["slot"]
    assert by_slot(url)[slot] == 1_000  # the cheapest transaction of the slot
    assert by_slot(url, Keypair().pubkey())[slot] == 1_000  # no lock on it: the slot minimum
    system = Pubkey.from_string("11111111111111111111111111111111")
    assert by_slot(url, system)[slot] == 1_000  # invoked, read-only: not a write lock


def test_slots_without_transactions_report_zero(url, landed):
    answer = fees(url, [str(landed["x"])])
    slots = [item["slot"] for item in answer]
    assert slots == sorted(slots) and len(slots) == len(set(slots))
    assert len(answer) <= 150
    assert slots == list(range(slots[0], slots[-1] + 1))  # every recent slot, 0 when quiet
    current = Client(url).get_slot("processed").value
    assert slots[-1] < current  # only completed blocks, as a node's cache
    others = {item["slot"]: item["prioritizationFee"] for item in answer}
    others.pop(landed["slot"])
    assert set(others.values()) == {0}  # x wrote nothing else


def test_fees_age_out_after_150_slots_at_most(url, landed):
    answer = fees(url)
    assert len(answer) <= 150 and answer[-1]["slot"] - answer[0]["slot"] < 150


def test_invalid_params(url):
    body = {"jsonrpc": "2.0", "id": 1, "method": "getRecentPrioritizationFees"}
    too_many = [str(Keypair().pubkey()) for _ in range(129)]
    for params in ([too_many], [["not-a-key"]], ["not-a-list"]):
        answer = httpx.post(url, json={**body, "params": params}, timeout=10).json()
        assert answer["error"]["code"] == -32602, params
    answer = httpx.post(url, json={**body, "params": [too_many[:128]]}, timeout=10).json()
    assert "result" in answer


def test_chain_client_recent_fees_and_the_policy(url, landed):
    x, to_50k = landed["x"], landed["to"][1][1]
    chain = ChainClient(url)
    try:
        for _ in range(5):  # the same window twice: no slot completed in between
            before, values, after = by_slot(url, x), chain.recent_fees([x]), by_slot(url, x)
            if before == after:
                break
        assert values == [before[s] for s in sorted(before)]  # oldest slot first
        assert sorted(values)[-2:] == [0, 5_000]  # x's slot, and quiet ones
        assert max(chain.recent_fees([to_50k])) == 50_000
        assert max(chain.recent_fees([])) == 1_000

        policy = PriorityFeePolicy(percentile=75, max_lamports=1_000)
        p75 = sorted(values)[math.ceil(0.75 * len(values)) - 1]  # nearest rank
        assert policy.price(values, units=200_000) == p75
        assert policy.price([5_000, 1_000, 50_000, 0], units=100_000) == 5_000
        top = PriorityFeePolicy(percentile=100, max_lamports=1_000)
        assert top.price(values, units=100_000) == 5_000  # 0.5 lamports: under the cap
        assert top.price(values, units=50_000, rebuilds=2) == 11_250  # x 1.5**2
        assert top.price(values, units=400_000) == 2_500  # capped: 2_500 * 0.4 = 1_000 lamports
        assert top.price(chain.recent_fees([to_50k]), units=200_000) == 5_000  # capped too
        with pytest.raises(PermanentRpcError):
            chain.recent_fees([Keypair().pubkey() for _ in range(129)])
    finally:
        chain.close()


def test_solana_py_has_no_client_method():
    # solana-py 0.36 cannot ask for these fees itself: ChainClient.recent_fees sends the request
    assert not hasattr(Client, "get_recent_prioritization_fees")
