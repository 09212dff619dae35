"""PubSub logsSubscribe and the PubSub fault knobs, with a raw `websockets` client."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import connect

from minter.localnet import admin
from minter.localnet.process import LocalnetProcess
from tests.integration.test_localnet_pubsub import _notifications, _request, _status

SLOT_MS = 20
SYSTEM = "11111111111111111111111111111111"


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=SLOT_MS) as proc:
        yield proc


def _transfer_to(client: Client, to: Pubkey) -> VersionedTransaction:
    sender = Keypair()
    sig = client.request_airdrop(sender.pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    blockhash = client.get_latest_blockhash().value.blockhash
    ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=to, lamports=10**6))
    return VersionedTransaction(
        MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash), [sender]
    )


def test_logs_all_processed_shape(fast_localnet):
    client = Client(fast_localnet.url)
    tx = _transfer_to(client, Keypair().pubkey())

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            answer = await _request(ws, 1, "logsSubscribe", ["all", {"commitment": "processed"}])
            sub_id = answer["result"]
            client.send_raw_transaction(bytes(tx))
            while True:
                (note,) = await _notifications(ws, 1, "logsNotification")
                if note["params"]["result"]["value"]["signature"] == str(tx.signatures[0]):
                    return sub_id, note

    sub_id, note = asyncio.run(scenario())
    assert note["params"]["subscription"] == sub_id
    result = note["params"]["result"]
    assert set(result) == {"context", "value"} and set(result["context"]) == {"slot"}
    value = result["value"]
    assert set(value) == {"signature", "err", "logs"}
    assert value["err"] is None
    assert value["logs"] == [f"Program {SYSTEM} invoke [1]", f"Program {SYSTEM} success"]
    assert result["context"]["slot"] == _status(fast_localnet.url, tx.signatures[0])["slot"]


def test_logs_mentions_only_that_address(fast_localnet):
    client = Client(fast_localnet.url)
    watched = Keypair().pubkey()
    other = _transfer_to(client, Keypair().pubkey())
    mine = _transfer_to(client, watched)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            opts = {"commitment": "processed"}
            await _request(ws, 1, "logsSubscribe", [{"mentions": [str(watched)]}, opts])
            client.send_raw_transaction(bytes(other))
            client.send_raw_transaction(bytes(mine))
            (note,) = await _notifications(ws, 1, "logsNotification")
            # nothing else mentions it: no second notification within a few slots
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_notifications(ws, 1, "logsNotification"), 0.3)
            return note

    note = asyncio.run(scenario())
    assert note["params"]["result"]["value"]["signature"] == str(mine.signatures[0])


def test_logs_mentions_more_than_one_address_refused(fast_localnet):
    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            keys = [str(Keypair().pubkey()), str(Keypair().pubkey())]
            bad = await _request(ws, 1, "logsSubscribe", [{"mentions": keys}])
            junk = await _request(ws, 2, "logsSubscribe", ["everything"])
            ok = await _request(ws, 3, "logsSubscribe", ["all"])
            unsub = await _request(ws, 4, "logsUnsubscribe", [ok["result"]])
            again = await _request(ws, 5, "logsUnsubscribe", [ok["result"]])
            return bad, junk, unsub, again

    bad, junk, unsub, again = asyncio.run(scenario())
    assert bad["error"]["code"] == -32602
    assert "Only 1 address" in bad["error"]["message"]
    assert junk["error"]["code"] == -32602
    assert unsub["result"] is True and again["result"] is False


def test_logs_confirmed_not_early(fast_localnet):
    client = Client(fast_localnet.url)
    watched = Keypair().pubkey()
    tx = _transfer_to(client, watched)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            opts = {"commitment": "confirmed"}
            await _request(ws, 1, "logsSubscribe", [{"mentions": [str(watched)]}, opts])
            client.send_raw_transaction(bytes(tx))
            (note,) = await _notifications(ws, 1, "logsNotification")
            return note, _status(fast_localnet.url, tx.signatures[0])

    note, status = asyncio.run(scenario())
    assert status["confirmationStatus"] in ("confirmed", "finalized")
    assert note["params"]["result"]["context"]["slot"] == status["slot"]


def test_pubsub_drop_silences_notifications_until_cleared(fast_localnet):
    url = fast_localnet.url
    client = Client(url)
    first = _transfer_to(client, Keypair().pubkey())
    second = _transfer_to(client, Keypair().pubkey())

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            admin.set_faults(url, pubsub_drop=1.0)
            try:
                sig = str(first.signatures[0])
                await _request(ws, 1, "signatureSubscribe", [sig, {"commitment": "confirmed"}])
                client.send_raw_transaction(bytes(first))
                with pytest.raises(TimeoutError):  # ~25 slots
                    await asyncio.wait_for(_notifications(ws, 1, "signatureNotification"), 0.5)
                dropped_status = _status(url, first.signatures[0])
            finally:
                admin.set_faults(url)
            sig = str(second.signatures[0])
            await _request(ws, 2, "signatureSubscribe", [sig, {"commitment": "confirmed"}])
            client.send_raw_transaction(bytes(second))
            (note,) = await _notifications(ws, 1, "signatureNotification")
            return dropped_status, note

    dropped_status, note = asyncio.run(scenario())
    assert dropped_status["confirmationStatus"] in ("confirmed", "finalized")
    assert note["params"]["result"]["value"] == {"err": None}
    assert admin.get_stats(url)["pubsub"]["notifications"].get("dropped", 0) >= 1


def test_pubsub_fault_names_accepted(fast_localnet):
    url = fast_localnet.url
    try:
        assert admin.set_faults(url, pubsub_drop=0.5, pubsub_delay_ms=5) == {
            "pubsub_drop": 0.5,
            "pubsub_delay_ms": 5.0,
        }
    finally:
        admin.set_faults(url)


def test_pubsub_delay_holds_notifications(fast_localnet):
    url = fast_localnet.url

    async def longest_gap(ws, seconds: float) -> float:
        loop = asyncio.get_running_loop()
        start = last = loop.time()
        gap = 0.0
        while loop.time() - start < seconds:
            await asyncio.wait_for(ws.recv(), 5)
            gap, last = max(gap, loop.time() - last), loop.time()
        return gap

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            await _request(ws, 1, "slotSubscribe", [])
            await _notifications(ws, 1, "slotNotification")
            admin.set_faults(url, pubsub_delay_ms=400)
            try:
                delayed = await longest_gap(ws, 0.6)
            finally:
                admin.set_faults(url)
            await asyncio.sleep(0.5)  # the delayed ones drain
            return delayed, await longest_gap(ws, 0.6)

    delayed, normal = asyncio.run(scenario())
    assert delayed >= 0.3  # slots tick every 20 ms; after the knob, nothing for ~400 ms
    assert normal < 0.2


WEB3 = Path(__file__).resolve().parents[1] / "js" / "web3"


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_web3js_confirm_with_notifications_dropped(fast_localnet):
    """web3.js has no polling fallback: one status check after subscribing, then the socket.

    A transaction already at the level resolves through that check; one that reaches it later
    is never seen, and confirmTransaction throws once the block height passes
    lastValidBlockHeight, as against a real node that loses the notification.
    """
    if not (WEB3 / "node_modules").exists():
        pytest.skip("tests/js/web3/node_modules missing: scripts/setup.sh installs it")
    url = fast_localnet.url
    admin.set_faults(url, pubsub_drop=1.0)
    try:
        res = subprocess.run(
            ["node", str(WEB3 / "dropped.mjs"), url], capture_output=True, text=True, timeout=120
        )
    finally:
        admin.set_faults(url)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["already"]["outcome"] == "resolved" and out["already"]["err"] is None
    pending = out["pending"]
    assert pending["outcome"] == "threw"
    assert pending["error"] == "TransactionExpiredBlockheightExceededError"
    assert pending["status"]["confirmationStatus"] == "finalized"  # it landed all the same


def _create_owned_by(client: Client, program: Pubkey, space: int) -> tuple:
    """A signed, unsent create_account of a ``space``-byte zeroed account owned by ``program``."""
    payer, new = Keypair(), Keypair()
    sig = client.request_airdrop(payer.pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    blockhash = client.get_latest_blockhash().value.blockhash
    ix = create_account(
        CreateAccountParams(
            from_pubkey=payer.pubkey(),
            to_pubkey=new.pubkey(),
            lamports=10**7,
            space=space,
            owner=program,
        )
    )
    msg = MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash)
    return VersionedTransaction(msg, [payer, new]), new.pubkey()


@pytest.mark.parametrize("commitment", ["processed", "confirmed"])
def test_program_subscribe_filters(fast_localnet, commitment):
    client = Client(fast_localnet.url)
    program = Keypair().pubkey()
    tx, created = _create_owned_by(client, program, 8)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            base = {"encoding": "base64", "commitment": commitment}
            match = [{"dataSize": 8}, {"memcmp": {"offset": 0, "bytes": "1111"}}]
            wrong_size = [{"dataSize": 9}]
            wrong_bytes = [{"memcmp": {"offset": 4, "bytes": "2"}}]
            subs = {}
            for i, filters in enumerate((match, wrong_size, wrong_bytes)):
                answer = await _request(
                    ws, i, "programSubscribe", [str(program), {**base, "filters": filters}]
                )
                subs[answer["result"]] = i
            other = await _request(ws, 9, "programSubscribe", [SYSTEM, {"filters": [match[0]]}])
            client.send_raw_transaction(bytes(tx))
            (note,) = await _notifications(ws, 1, "programNotification")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(_notifications(ws, 1, "programNotification"), 0.3)
            return subs, other, note

    subs, other, note = asyncio.run(scenario())
    assert "result" in other
    assert subs[note["params"]["subscription"]] == 0
    result = note["params"]["result"]
    assert set(result["context"]) == {"slot"}
    assert result["value"]["pubkey"] == str(created)
    account = result["value"]["account"]
    assert account["owner"] == str(program)
    assert account["data"] == ["AAAAAAAAAAA=", "base64"]
    assert account["lamports"] == 10**7 and account["space"] == 8
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getAccountInfo",
        "params": [str(created), {"encoding": "base64"}],
    }
    info = httpx.post(fast_localnet.url, json=body).json()  # raw: solana-py drops "space"
    assert info["result"]["value"] == account
