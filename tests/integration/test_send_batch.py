"""Several signed transactions in one JSON-RPC batch request (ChainClient.send_many), against
the embedded validator behind a counting proxy: one HTTP request, each item answered for
itself, a batch refused whole sent again one by one."""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.signature import Signature

from minter.rpc import ChainClient, RetryPolicy, SendOutcomeUnknown, TransactionRejected
from tests.integration.test_rpc_failover import transfer_tx, wait_landed
from tests.support.rpc_proxy import RpcProxy


@pytest.fixture
def proxy(localnet):
    p = RpcProxy(localnet.url).start()
    yield p
    p.stop()


def test_one_request_carries_the_batch_and_each_item_answers_for_itself(
    proxy, localnet, funded_keypair
):
    chain = ChainClient(proxy.url, skip_preflight=True)
    receivers = [Keypair().pubkey() for _ in range(3)]
    txs = [transfer_tx(chain, funded_keypair, to, 1_000_000 + i) for i, to in enumerate(receivers)]
    executed = localnet.stats()["executed_ok"]
    posts = proxy.posts
    answers = chain.send_many([bytes(tx) for tx in txs])
    assert answers == [tx.signatures[0] for tx in txs]
    assert proxy.posts - posts == 1 and proxy.counts["sendTransaction"] == 3
    wait_landed(chain, [tx.signatures[0] for tx in txs])
    assert [chain.balance(to) for to in receivers] == [1_000_000, 1_000_001, 1_000_002]
    assert localnet.stats()["executed_ok"] - executed == 3

    # the same bytes again, beside a new one: the old are refused, each alone; the new lands
    fresh = transfer_tx(chain, funded_keypair, receivers[0], 7)
    again = chain.send_many([bytes(txs[0]), bytes(fresh), bytes(txs[2])])
    assert isinstance(again[0], TransactionRejected) and "AlreadyProcessed" in again[0].err
    assert again[1] == fresh.signatures[0]
    assert isinstance(again[2], TransactionRejected)
    wait_landed(chain, [fresh.signatures[0]])
    assert chain.balance(receivers[0]) == 1_000_007
    chain.close()


def test_a_batch_refused_whole_is_sent_again_one_by_one(proxy, localnet, funded_keypair):
    """Beyond the provider's sends per second the batch is refused with a 429 (each item
    counts): nothing was taken, so each goes alone, with its retries, and lands once."""
    chain = ChainClient(proxy.url, skip_preflight=True, retry=RetryPolicy(attempts=8, deadline=10))
    txs = [transfer_tx(chain, funded_keypair, Keypair().pubkey(), 10_000) for _ in range(4)]
    localnet.set_faults(send_rps=3)  # a batch of 4 is over it; one at a time is not
    posts = proxy.posts
    answers = chain.send_many([bytes(tx) for tx in txs])
    localnet.clear_faults()
    assert answers == [tx.signatures[0] for tx in txs]
    assert proxy.posts - posts >= 1 + 4  # the refused batch, then each alone
    statuses = wait_landed(chain, [tx.signatures[0] for tx in txs])
    assert all(s.err is None for s in statuses)
    chain.close()


def test_a_batch_whose_answer_is_lost_may_have_landed(proxy, funded_keypair):
    chain = ChainClient(proxy.url, skip_preflight=True, retry=RetryPolicy(attempts=2, deadline=1))
    txs = [transfer_tx(chain, funded_keypair, Keypair().pubkey(), 10_000) for _ in range(2)]
    proxy.set(drop_response=1.0)
    answers = chain.send_many([bytes(tx) for tx in txs])
    proxy.set()
    assert all(isinstance(a, SendOutcomeUnknown) for a in answers)
    landed = wait_landed(chain, [tx.signatures[0] for tx in txs])  # they ran all the same
    assert all(isinstance(tx.signatures[0], Signature) for tx in txs) and len(landed) == 2
    chain.close()
