"""Slot, blockhash and confirmation behaviour, and what each fault knob does to a real client.

A dedicated validator with 10 ms slots, so 150 blocks pass in about 1.5 s."""

from __future__ import annotations

import time

import httpx
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.api import Client
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.rpc.errors import NodeUnhealthyMessage
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from minter.localnet import admin
from minter.localnet.process import LocalnetProcess


@pytest.fixture(scope="module")
def url():
    with LocalnetProcess(slot_ms=10, seed=3) as proc:
        yield proc.url


@pytest.fixture
def client(url):
    yield Client(url, timeout=5)
    admin.set_faults(url)


@pytest.fixture
def payer(client):
    kp = Keypair()
    client.confirm_transaction(
        client.request_airdrop(kp.pubkey(), 10**10).value, "confirmed", sleep_seconds=0.02
    )
    return kp


def signed_transfer(client, payer, blockhash=None, lamports=1000):
    blockhash = blockhash or client.get_latest_blockhash().value.blockhash
    ix = transfer(
        TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports)
    )
    return VersionedTransaction(MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash), [payer])


def wait_for_height(client, height):
    while client.get_block_height("processed").value <= height:
        time.sleep(0.05)


def is_blockhash_valid(url, blockhash) -> bool:  # not in solana-py 0.36's Client
    body = {"jsonrpc": "2.0", "id": 1, "method": "isBlockhashValid", "params": [str(blockhash)]}
    return httpx.post(url, json=body, timeout=5).json()["result"]["value"]


def test_blockhash_older_than_150_blocks_is_refused(client, payer, url):
    latest = client.get_latest_blockhash("processed").value
    tx = signed_transfer(client, payer, latest.blockhash)
    assert is_blockhash_valid(url, latest.blockhash) is True
    wait_for_height(client, latest.last_valid_block_height)
    assert is_blockhash_valid(url, latest.blockhash) is False
    with pytest.raises(RPCException) as err:
        client.send_transaction(tx)
    assert "BlockhashNotFound" in str(err.value.args[0].data.err)
    assert client.get_signature_statuses([tx.signatures[0]]).value == [None]


def test_last_valid_block_height_is_150_ahead(client):
    height = client.get_block_height("processed").value
    last_valid = client.get_latest_blockhash("processed").value.last_valid_block_height
    assert 150 <= last_valid - height <= 152


def test_status_goes_processed_confirmed_finalized(client, payer):
    sig = client.send_transaction(signed_transfer(client, payer)).value
    seen = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        (status,) = client.get_signature_statuses([sig]).value
        level = str(status.confirmation_status).rsplit(".", 1)[-1].lower()
        if not seen or seen[-1][0] != level:
            seen.append((level, status.confirmations))
        if level == "finalized":
            break
        time.sleep(0.005)
    levels = [lvl for lvl, _ in seen]
    assert levels[-1] == "finalized" and levels == sorted(set(levels), key=levels.index)
    assert seen[-1][1] is None  # finalized: confirmations null
    assert set(levels) >= {"confirmed", "finalized"}


def test_drop_response_lands_but_client_gets_no_answer(client, payer, url):
    admin.set_faults(url, drop_response=1.0)
    tx = signed_transfer(client, payer)
    with pytest.raises(SolanaRpcException) as err:
        client.send_transaction(tx, TxOpts(skip_confirmation=True))
    assert isinstance(err.value.__cause__, httpx.TransportError)
    admin.set_faults(url)
    (status,) = client.get_signature_statuses([tx.signatures[0]]).value
    assert status is not None and status.err is None  # it landed
    assert admin.get_stats(url)["dropped_responses"] >= 1


def test_blockhash_not_found_fault_refuses_without_executing(client, payer, url):
    admin.set_faults(url, blockhash_not_found=1.0)
    executed = admin.get_stats(url)["executed_ok"]
    tx = signed_transfer(client, payer)
    with pytest.raises(RPCException) as err:
        client.send_transaction(tx, TxOpts(skip_confirmation=True))
    assert "BlockhashNotFound" in str(err.value.args[0].data.err)
    assert admin.get_stats(url)["executed_ok"] == executed
    assert client.get_signature_statuses([tx.signatures[0]]).value == [None]
    admin.set_faults(url)
    client.send_transaction(tx, TxOpts(skip_confirmation=True))  # off: the same bytes go through
    assert admin.get_stats(url)["executed_ok"] == executed + 1


def test_http_429(client, payer, url):
    admin.set_faults(url, http_429=1.0)
    with pytest.raises(SolanaRpcException) as err:
        client.get_balance(payer.pubkey())
    assert err.value.__cause__.response.status_code == 429
    admin.set_faults(url)
    assert client.get_balance(payer.pubkey()).value > 0


def test_node_behind(client, payer, url):
    admin.set_faults(url, node_behind=1.0)
    with pytest.raises(RPCException) as err:
        client.get_latest_blockhash()
    assert isinstance(err.value.args[0], NodeUnhealthyMessage)
    assert "behind" in err.value.args[0].message
    admin.set_faults(url)
    assert client.get_latest_blockhash().value.blockhash


def test_latency_makes_a_short_timeout_client_give_up(url, payer):
    impatient = Client(url, timeout=0.2)
    admin.set_faults(url, latency_ms=1500)
    with pytest.raises(SolanaRpcException) as err:
        impatient.get_balance(payer.pubkey())
    assert isinstance(err.value.__cause__, httpx.TimeoutException)
    admin.set_faults(url)
    assert impatient.get_balance(payer.pubkey()).value > 0


def test_seeded_faults_replay_the_same_sequence(url):
    def run():
        admin.set_faults(url, http_429=0.5, seed=42)
        out = []
        for _ in range(40):
            r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=5)
            out.append(r.status_code)
        return out

    first, second = run(), run()
    admin.set_faults(url)
    assert first == second and 429 in first and 200 in first


def test_unknown_fault_is_refused(url):
    with pytest.raises(RuntimeError, match="unknown faults"):
        admin.set_faults(url, meteor_strike=1.0)
