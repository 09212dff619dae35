"""Real clients on the embedded validator's PubSub WebSocket: web3.js and solana-py."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from solana.rpc.api import Client
from solana.rpc.websocket_api import connect
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.rpc.responses import (
    AccountNotification,
    SignatureNotification,
    SubscriptionResult,
)
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from minter.localnet import admin
from minter.localnet.process import LocalnetProcess

WEB3 = Path(__file__).resolve().parents[1] / "js" / "web3"
FAST_SLOT_MS = 40  # the brief's fast setting: confirmations race the subscription set-up
TIMEOUT = 15.0


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=FAST_SLOT_MS) as proc:
        yield proc


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_web3js_confirms_by_subscription_at_fast_slots(fast_localnet):
    if not (WEB3 / "node_modules").exists():
        pytest.skip("tests/js/web3/node_modules missing: scripts/setup.sh installs it")
    before = admin.get_stats(fast_localnet.url)["pubsub"]["notifications"]
    res = subprocess.run(
        ["node", str(WEB3 / "smoke.mjs"), fast_localnet.url],  # ws: port + 1, as web3.js guesses
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["receiverBalance"] == 54321
    assert out["accountChange"]["lamports"] == 54321
    assert out["status"]["err"] is None
    after = admin.get_stats(fast_localnet.url)["pubsub"]["notifications"]
    # web3.js was answered over the socket, not only by its getSignatureStatus fallback
    assert after.get("accountNotification", 0) > before.get("accountNotification", 0)
    assert after.get("signatureNotification", 0) > before.get("signatureNotification", 0)


async def _recv(ws, kind) -> object:
    while True:
        for msg in await asyncio.wait_for(ws.recv(), TIMEOUT):
            if isinstance(msg, kind):
                return msg


async def _recv_all(ws, *kinds) -> list:
    """One message of each kind, whatever order they come in."""
    found: dict = {}
    while len(found) < len(kinds):
        for msg in await asyncio.wait_for(ws.recv(), TIMEOUT):
            found.setdefault(type(msg), msg)
    return [found[k] for k in kinds]


def test_solana_py_signature_and_account_subscribe(fast_localnet):
    client = Client(fast_localnet.url)
    sender, receiver = Keypair(), Keypair().pubkey()
    sig = client.request_airdrop(sender.pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    blockhash = client.get_latest_blockhash().value.blockhash
    ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=receiver, lamports=777))
    tx = VersionedTransaction(MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash), [sender])

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            await ws.account_subscribe(receiver, commitment="confirmed", encoding="base64")
            account_sub = await _recv(ws, SubscriptionResult)
            await ws.signature_subscribe(tx.signatures[0], commitment="confirmed")
            signature_sub = await _recv(ws, SubscriptionResult)
            client.send_raw_transaction(bytes(tx))
            notes = await _recv_all(ws, SignatureNotification, AccountNotification)
            await ws.account_unsubscribe(account_sub.result)
            return account_sub, signature_sub, notes

    account_sub, signature_sub, (sig_note, acc_note) = asyncio.run(scenario())
    assert sig_note.subscription == signature_sub.result
    assert sig_note.result.value.err is None
    status = client.get_signature_statuses([tx.signatures[0]]).value[0]
    assert sig_note.result.context.slot >= status.slot
    assert acc_note.subscription == account_sub.result
    assert acc_note.result.value.lamports == 777
