"""The embedded validator's PubSub WebSocket server, spoken to with a raw `websockets` client."""

from __future__ import annotations

import asyncio
import json

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import connect

from minter.localnet import admin
from minter.localnet.process import LocalnetProcess

SLOT_MS = 20  # fast slots: finalized is 31 slots away
TIMEOUT = 10.0


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=SLOT_MS) as proc:
        yield proc


async def _request(ws, req_id: int, method: str, params=None) -> dict:
    """Send one request and return its answer; notifications meanwhile wait in a backlog."""
    await ws.send(json.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}))
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if msg.get("id") == req_id:
            return msg
        _BACKLOG.setdefault(id(ws), []).append(msg)


async def _notifications(ws, count: int, method: str) -> list[dict]:
    backlog = _BACKLOG.setdefault(id(ws), [])
    out = [m for m in backlog if m.get("method") == method][:count]
    backlog[:] = [m for m in backlog if not any(m is o for o in out)]
    while len(out) < count:
        msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if msg.get("method") == method:
            out.append(msg)
    return out


_BACKLOG: dict[int, list[dict]] = {}  # by connection: what _request read past


def _live(url: str) -> dict:
    stats = admin.get_stats(url)["pubsub"]
    return {k: stats[k] for k in ("connections", "subscriptions")}


def _status(url: str, sig) -> dict:
    return json.loads(Client(url).get_signature_statuses([sig]).to_json())["result"]["value"][0]


def test_ws_url_is_port_plus_one(fast_localnet):
    http_port = int(fast_localnet.url.rsplit(":", 1)[1])
    assert fast_localnet.ws_url == f"ws://127.0.0.1:{http_port + 1}"


def test_signature_levels_in_order_and_not_early(fast_localnet):
    url = fast_localnet.url

    tx = _transfer(Client(url))
    sig = tx.signatures[0]

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            subs = {}
            for i, level in enumerate(("processed", "confirmed", "finalized")):
                answer = await _request(
                    ws, i, "signatureSubscribe", [str(sig), {"commitment": level}]
                )
                subs[answer["result"]] = level
            Client(url).send_raw_transaction(bytes(tx))
            seen = []
            for _ in range(3):
                (note,) = await _notifications(ws, 1, "signatureNotification")
                # checked at once: the node must already report this level
                status = _status(url, sig)
                seen.append((subs[note["params"]["subscription"]], note, status))
            return seen

    seen = asyncio.run(scenario())
    assert [level for level, _, _ in seen] == ["processed", "confirmed", "finalized"]
    order = ["processed", "confirmed", "finalized"]
    for level, note, status in seen:
        result = note["params"]["result"]
        assert result["value"] == {"err": None}
        # the bank at the asked level (the tip less the level's depth) holds the transaction...
        assert result["context"]["slot"] >= status["slot"]
        # ...and getSignatureStatuses already says so
        assert order.index(status["confirmationStatus"]) >= order.index(level)


def test_already_confirmed_signature_still_notified(fast_localnet):
    client = Client(fast_localnet.url)
    sig = client.request_airdrop(Keypair().pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            answer = await _request(
                ws, 1, "signatureSubscribe", [str(sig), {"commitment": "confirmed"}]
            )
            (note,) = await _notifications(ws, 1, "signatureNotification")
            assert note["params"]["subscription"] == answer["result"]
            # one notification ends the subscription
            gone = await _request(ws, 2, "signatureUnsubscribe", [answer["result"]])
            assert gone["result"] is False

    asyncio.run(scenario())


def test_slot_notifications(fast_localnet):
    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            await _request(ws, 1, "slotSubscribe")
            return await _notifications(ws, 2, "slotNotification")

    first, second = [n["params"]["result"] for n in asyncio.run(scenario())]
    assert set(first) == {"parent", "root", "slot"}
    assert first["parent"] == first["slot"] - 1
    assert second["slot"] == first["slot"] + 1


def _transfer(client: Client) -> VersionedTransaction:
    """A signed, unsent SOL transfer from a fresh funded sender: its signature is known first."""
    sender = Keypair()
    sig = client.request_airdrop(sender.pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    blockhash = client.get_latest_blockhash().value.blockhash
    ix = transfer(
        TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1)
    )
    return VersionedTransaction(
        MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash), [sender]
    )


def test_received_then_confirmed(fast_localnet):
    client = Client(fast_localnet.url)
    tx = _transfer(client)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            opts = {"commitment": "confirmed", "enableReceivedNotification": True}
            await _request(ws, 1, "signatureSubscribe", [str(tx.signatures[0]), opts])
            client.send_raw_transaction(bytes(tx))
            return await _notifications(ws, 2, "signatureNotification")

    received, done = [n["params"]["result"]["value"] for n in asyncio.run(scenario())]
    assert received == "receivedSignature"
    assert done == {"err": None}


def test_account_subscribe_base58_and_base64(fast_localnet):
    client = Client(fast_localnet.url)
    owner = Keypair().pubkey()

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            ids = {}
            for i, encoding in enumerate(("base64", "base58")):
                opts = {"encoding": encoding, "commitment": "confirmed"}
                ids[(await _request(ws, i, "accountSubscribe", [str(owner), opts]))["result"]] = (
                    encoding
                )
            client.request_airdrop(owner, 12345)
            notes = await _notifications(ws, 2, "accountNotification")
            return ids, notes

    ids, notes = asyncio.run(scenario())
    assert len(notes) == 2
    for note in notes:
        encoding = ids[note["params"]["subscription"]]
        value = note["params"]["result"]["value"]
        assert value["lamports"] == 12345
        assert value["data"] == ["", encoding]
        assert value["owner"] == "11111111111111111111111111111111"


def test_unsubscribe_unknown_method_and_disconnect(fast_localnet):
    url = fast_localnet.url
    before = _live(url)

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            slot_id = (await _request(ws, 1, "slotSubscribe"))["result"]
            root_id = (await _request(ws, 2, "rootSubscribe"))["result"]
            acc = str(Keypair().pubkey())
            acc_id = (await _request(ws, 3, "accountSubscribe", [acc]))["result"]
            assert len({slot_id, root_id, acc_id}) == 3
            assert (await _request(ws, 4, "slotUnsubscribe", [slot_id]))["result"] is True
            assert (await _request(ws, 5, "slotUnsubscribe", [slot_id]))["result"] is False
            # the id of another kind is not a slot subscription
            assert (await _request(ws, 6, "slotUnsubscribe", [root_id]))["result"] is False
            unknown = await _request(ws, 7, "blockSubscribe", [])
            assert unknown["error"]["code"] == -32601
            live = _live(url)
            assert live["subscriptions"] == before["subscriptions"] + 2
            assert live["connections"] == before["connections"] + 1

    asyncio.run(scenario())
    for _ in range(100):  # the server notices the close a moment later
        after = _live(url)
        if after == before:
            break
        asyncio.run(asyncio.sleep(0.02))
    assert after == before


def test_account_notified_on_each_change_at_processed(fast_localnet):
    client = Client(fast_localnet.url)
    owner = Keypair().pubkey()

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            opts = {"encoding": "base64", "commitment": "processed"}
            await _request(ws, 1, "accountSubscribe", [str(owner), opts])
            client.request_airdrop(owner, 100)
            client.request_airdrop(owner, 200)
            return await _notifications(ws, 2, "accountNotification")

    first, second = [n["params"]["result"] for n in asyncio.run(scenario())]
    assert [first["value"]["lamports"], second["value"]["lamports"]] == [100, 300]
    assert first["context"]["slot"] <= second["context"]["slot"]
