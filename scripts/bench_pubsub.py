"""signatureSubscribe under load on the embedded validator's PubSub WebSocket.

    .venv/bin/python -m scripts.bench_pubsub [--subscriptions 200] [--connections 20]
                                             [--rounds 5] [--slot-ms 400]

Each round: that many transfers, one signatureSubscribe each (``confirmed``) spread over the
connections, all sent in one batch. Prints how many notifications arrived, notifications per
second while they were being delivered (from the first commitment to the last arrival in each
round), and the delay from the commitment of each transaction's slot to its notification at the
client: p50, p99 and max. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio

from solana.rpc.api import Client
from solders.keypair import Keypair

from devtools.pubsub_load import percentile, run_round, signed_transfers
from minter.localnet import admin
from minter.localnet.chain import CONFIRMED_DEPTH
from minter.localnet.process import LocalnetProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slot-ms", type=int, default=400)
    args = parser.parse_args()

    with LocalnetProcess(slot_ms=args.slot_ms) as proc:
        client = Client(proc.url)
        payer = Keypair()
        sig = client.request_airdrop(payer.pubkey(), 1000 * 10**9).value
        client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
        delays: list[float] = []
        received = expected = 0
        delivering = 0.0
        for _ in range(args.rounds):
            txs = signed_transfers(client, payer, args.subscriptions)
            out = asyncio.run(run_round(proc.url, proc.ws_url, txs, connections=args.connections))
            received += len(out.notes)
            expected += len(txs)
            delays += out.delays
            # delivery window: first commitment of the round to the last arrival
            committed = {s + CONFIRMED_DEPTH for s in out.slots.values()}
            started = admin.get_slot_times(proc.url, min(committed), max(committed))
            delivering += max(out.arrived.values()) - min(started.values())
        stats = admin.get_stats(proc.url)["pubsub"]

    ms = [d * 1000 for d in delays]
    print(
        f"slot {args.slot_ms} ms, {args.rounds} rounds x {args.subscriptions} signatureSubscribe "
        f"over {args.connections} connections"
    )
    print(f"notifications received: {received}/{expected}")
    print(f"notifications per second while delivering: {received / delivering:,.0f}")
    print(
        "delay commitment -> notification at the client: "
        f"p50 {percentile(ms, 0.50):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
    print(f"server counters: {stats['notifications']}")


if __name__ == "__main__":
    main()
