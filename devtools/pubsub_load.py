"""Many signatureSubscribe clients on the embedded validator at once, for the load test and
``scripts/bench_pubsub.py``.

Each round signs ``subscriptions`` SOL transfers, subscribes to their signatures (``confirmed``)
spread over ``connections`` WebSocket connections, sends them in one JSON-RPC batch and waits
for every notification. The delay of a notification is measured from the moment its
transaction's slot reached the commitment (the validator's own slot start times, same clock) to
its arrival at the client.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field

import httpx
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import connect

from minter.localnet import admin
from minter.localnet.chain import CONFIRMED_DEPTH

DEFAULT_TIMEOUT = 60.0
COMMITMENT = "confirmed"


@dataclass
class Round:
    """What one round saw: per signature, its notification and when it arrived."""

    signatures: list[str]
    notes: dict[str, dict] = field(default_factory=dict)  # signature -> notification result
    arrived: dict[str, float] = field(default_factory=dict)  # signature -> unix seconds
    sent_at: float = 0.0
    slots: dict[str, int] = field(default_factory=dict)  # signature -> slot it landed in
    delays: list[float] = field(default_factory=list)  # seconds, commitment -> arrival


def signed_transfers(client: Client, payer: Keypair, n: int) -> list[VersionedTransaction]:
    blockhash = client.get_latest_blockhash().value.blockhash
    txs = []
    for i in range(n):  # distinct lamports: distinct signatures
        ix = transfer(
            TransferParams(
                from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1_000_000 + i
            )
        )
        msg = MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash)
        txs.append(VersionedTransaction(msg, [payer]))
    return txs


async def _subscribe(ws, signatures: list[str]) -> dict[int, str]:
    for i, sig in enumerate(signatures):
        body = {"jsonrpc": "2.0", "id": i, "method": "signatureSubscribe"}
        await ws.send(json.dumps({**body, "params": [sig, {"commitment": COMMITMENT}]}))
    by_sub: dict[int, str] = {}
    while len(by_sub) < len(signatures):
        msg = json.loads(await ws.recv())
        if "id" in msg:
            by_sub[msg["result"]] = signatures[msg["id"]]
    return by_sub


async def _listen(ws, by_sub: dict[int, str], out: Round, timeout: float) -> None:
    waiting = set(by_sub)
    while waiting:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if msg.get("method") != "signatureNotification":
            continue
        sub_id = msg["params"]["subscription"]
        waiting.discard(sub_id)
        sig = by_sub[sub_id]
        out.arrived[sig] = time.time()
        out.notes[sig] = msg["params"]["result"]


async def run_round(
    rpc_url: str,
    ws_url: str,
    txs: list[VersionedTransaction],
    *,
    connections: int,
    timeout: float = DEFAULT_TIMEOUT,
) -> Round:
    """Subscribe to every transaction's signature, send them all, wait for every notification."""
    sigs = [str(tx.signatures[0]) for tx in txs]
    out = Round(signatures=sigs)
    shards = [sigs[i::connections] for i in range(connections)]
    sockets = [await connect(ws_url, max_queue=None) for _ in shards]
    try:
        subs = await asyncio.gather(
            *(_subscribe(ws, s) for ws, s in zip(sockets, shards, strict=True))
        )
        batch = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "sendTransaction",
                "params": [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
            }
            for i, tx in enumerate(txs)
        ]
        listeners = [
            asyncio.create_task(_listen(ws, by_sub, out, timeout))
            for ws, by_sub in zip(sockets, subs, strict=True)
        ]
        out.sent_at = time.time()
        async with httpx.AsyncClient(timeout=timeout) as http:
            answers = (await http.post(rpc_url, json=batch)).json()
        refused = [a for a in answers if "error" in a]
        if refused:
            raise RuntimeError(f"{len(refused)} sends refused: {refused[0]['error']}")
        await asyncio.gather(*listeners)
    finally:
        for ws in sockets:
            await ws.close()
    _measure(rpc_url, out)
    return out


def _measure(rpc_url: str, out: Round) -> None:
    """Each signature's landing slot from getSignatureStatuses; delay from its commitment."""
    for i in range(0, len(out.signatures), 256):
        chunk = out.signatures[i : i + 256]
        body = {"jsonrpc": "2.0", "id": 1, "method": "getSignatureStatuses", "params": [chunk]}
        statuses = httpx.post(rpc_url, json=body).json()["result"]["value"]
        out.slots.update({sig: st["slot"] for sig, st in zip(chunk, statuses, strict=True) if st})
    if not out.slots:
        return
    committed = {s + CONFIRMED_DEPTH for s in out.slots.values()}
    started = admin.get_slot_times(rpc_url, min(committed), max(committed))
    for sig, when in out.arrived.items():
        at = started.get(out.slots[sig] + CONFIRMED_DEPTH)
        if at is not None:
            out.delays.append(when - at)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")
