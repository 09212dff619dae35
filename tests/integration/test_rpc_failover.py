"""FailoverChain over two proxies in front of one embedded validator (tests/support/rpc_proxy.py):
one proxy runs every request and drops the answer, the other is fine."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from actors.workflows.ports import Chain
from minter.errors import TransientRpcError
from minter.failover import FailoverChain
from minter.rpc import ChainClient, RetryPolicy, TransactionRejected
from tests.support.rpc_proxy import RpcProxy
from tests.support.validator import LAMPORTS_PER_SOL

PROBE_INTERVAL = 0.3
NO_PROBE = 60.0  # for tests whose first call must meet the endpoints as they are
FEE = 5000


def impatient(url: str) -> ChainClient:
    """Two tries, one second; no blockhash cache, so every read reaches a proxy."""
    return ChainClient(
        url, retry=RetryPolicy(attempts=2, deadline=1.0), timeout=2.0, blockhash_ttl=0.0
    )


@pytest.fixture
def proxies(localnet):
    a, b = RpcProxy(localnet.url).start(), RpcProxy(localnet.url).start()
    yield a, b
    a.stop()
    b.stop()


def failover_over(
    a: RpcProxy, b: RpcProxy, *, probe_interval: float = PROBE_INTERVAL
) -> SimpleNamespace:
    scores: list[tuple[str, float, bool]] = []
    chain = FailoverChain(
        [a.url, b.url],
        make_client=impatient,
        probe_interval=probe_interval,
        error_half_life=0.2,
        on_score=lambda *args: scores.append(args),
    )
    return SimpleNamespace(chain=chain, a=a, b=b, scores=scores)


@pytest.fixture
def f(proxies):
    ns = failover_over(*proxies)
    yield ns
    ns.chain.close()


def transfer_tx(chain, sender: Keypair, to: Pubkey, lamports: int) -> VersionedTransaction:
    blockhash, _ = chain.latest_blockhash()
    ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=to, lamports=lamports))
    return VersionedTransaction(
        MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash), [sender]
    )


def wait_landed(chain, signatures, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        statuses = chain.statuses(signatures)
        if all(s is not None for s in statuses):
            return statuses
        assert time.monotonic() < deadline, f"not landed: {statuses}"
        time.sleep(0.05)


def test_is_a_chain(f):
    assert isinstance(f.chain, Chain)


def test_reads_go_through_b_while_a_drops_every_answer(proxies, funded_keypair):
    # no probe before the first read, however slow the machine: A is met by a read
    f = failover_over(*proxies, probe_interval=NO_PROBE)
    f.a.set(drop_response=1.0)
    blockhash, last_valid = f.chain.latest_blockhash()  # A first (URL order), fails, then B
    assert last_valid > 0
    assert f.chain.balance(funded_keypair.pubkey()) == 100 * LAMPORTS_PER_SOL
    (account,) = f.chain.accounts([funded_keypair.pubkey()])
    assert account is not None and account.lamports == 100 * LAMPORTS_PER_SOL
    assert f.chain.statuses([Signature.default()]) == [None]
    a, b = f.chain.endpoints()
    assert (a["url"], a["healthy"], b["healthy"]) == (f.a.url, False, True)
    assert a["errors"] >= 1 and b["errors"] == 0 and a["score"] < b["score"]
    assert f.scores[0][0] == f.a.url and f.scores[0][2] is False
    assert 1 <= f.a.counts["getLatestBlockhash"] <= 2  # ChainClient's tries, then demoted
    assert f.a.counts["getBalance"] == 0 and f.b.counts["getBalance"] == 1
    assert f.chain.client is not None
    f.chain.close()


def test_sends_reach_both_and_land_once_while_a_drops_answers(proxies, localnet):
    a, b = proxies
    sender = localnet.fund(Keypair(), sol=1)
    direct = impatient(localnet.url)  # blockhashes without touching (and demoting) A
    a.set(drop_response=1.0)
    sent = []
    for i in range(3):  # a fresh chain each time: A is healthy again, so both get the bytes
        ns = failover_over(a, b, probe_interval=NO_PROBE)
        before = (a.counts["sendTransaction"], b.counts["sendTransaction"])
        tx = transfer_tx(direct, sender, Keypair().pubkey(), 10_000 + i)
        assert ns.chain.send(bytes(tx)) == tx.signatures[0]
        assert (a.counts["sendTransaction"], b.counts["sendTransaction"]) == (
            before[0] + 1,
            before[1] + 1,
        )
        assert ns.chain.endpoints()[0]["healthy"] is False  # the dropped send demoted A
        sent.append(tx)
        ns.chain.close()
    ns = failover_over(a, b)
    try:
        signatures = [tx.signatures[0] for tx in sent]
        assert all(s.err is None for s in wait_landed(ns.chain, signatures))
        for i, tx in enumerate(sent):  # each landed once: the recipient has exactly one transfer
            assert ns.chain.balance(tx.message.account_keys[1]) == 10_000 + i
            assert ns.chain.fee_payer_spent(tx.signatures[0]) == 10_000 + i + FEE
        spent = sum(10_000 + i + FEE for i in range(3))
        assert ns.chain.balance(sender.pubkey()) == LAMPORTS_PER_SOL - spent
        # sent again: B's preflight says AlreadyProcessed, which means taken, not rejected
        assert ns.chain.send(bytes(sent[0])) == sent[0].signatures[0]
        assert ns.chain.balance(sender.pubkey()) == LAMPORTS_PER_SOL - spent
    finally:
        ns.chain.close()
        direct.close()


def test_a_is_promoted_back_and_read_again_once_it_recovers(f, funded_keypair):
    f.a.set(drop_response=1.0)
    f.chain.balance(funded_keypair.pubkey())
    assert f.chain.endpoints()[0]["healthy"] is False
    time.sleep(PROBE_INTERVAL)
    f.chain.balance(funded_keypair.pubkey())  # A is probed, still dropping: stays demoted
    assert f.chain.endpoints()[0]["healthy"] is False
    assert f.a.counts["getHealth"] >= 1
    f.a.set()
    reads_on_a = f.a.counts["getBalance"]
    deadline = time.monotonic() + 10
    while f.a.counts["getBalance"] == reads_on_a:  # promoted; then its errors decay away
        assert time.monotonic() < deadline, f.chain.endpoints()
        assert f.chain.balance(funded_keypair.pubkey()) == 100 * LAMPORTS_PER_SOL
        time.sleep(0.05)
    a, b = f.chain.endpoints()
    assert a["healthy"] and b["healthy"] and a["slot_lag"] <= 150
    assert (f.a.url, True) in [(url, healthy) for url, _, healthy in f.scores]
    assert [healthy for url, _, healthy in f.scores if url == f.a.url] == [False, True]
    assert f.chain.client is f.chain._endpoints[0].chain.client  # A is the best again


def test_a_rejected_transaction_is_raised_once_and_demotes_nobody(f):
    tx = transfer_tx(f.chain, Keypair(), Keypair().pubkey(), 1000)  # an unfunded payer
    with pytest.raises(TransactionRejected):
        f.chain.send(bytes(tx))
    assert f.a.counts["sendTransaction"] == 1 and f.b.counts["sendTransaction"] == 1
    assert [(e["healthy"], e["errors"]) for e in f.chain.endpoints()] == [(True, 0), (True, 0)]
    assert f.scores == []


def test_one_url_is_a_pass_through(proxies, funded_keypair):
    proxy, _ = proxies
    chain = FailoverChain([proxy.url], make_client=impatient, probe_interval=0.0)
    try:
        assert isinstance(chain, Chain)
        assert chain.health() == "ok"
        assert chain.balance(funded_keypair.pubkey()) == 100 * LAMPORTS_PER_SOL
        tx = transfer_tx(chain, funded_keypair, Keypair().pubkey(), 4321)
        assert chain.send(bytes(tx)) == tx.signatures[0]
        assert wait_landed(chain, [tx.signatures[0]])[0].err is None
        assert chain.block_height() > 0
        with pytest.raises(TransactionRejected):  # the same bytes again: as ChainClient says
            chain.send(bytes(tx))
        # no probes of its own: getHealth only when asked, getBlockHeight only when read
        assert proxy.counts["getHealth"] == 1 and proxy.counts["getBlockHeight"] == 1
        proxy.set(drop_response=1.0)
        with pytest.raises(TransientRpcError):
            chain.balance(funded_keypair.pubkey())
        assert proxy.counts["getBalance"] == 3  # one good read, then ChainClient's two tries
        (only,) = chain.endpoints()
        assert only["healthy"] and only["errors"] == 1
    finally:
        chain.close()
