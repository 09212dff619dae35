"""sendTransaction through the embedded validator's HTTP API beside direct LiteSVM execution.

    .venv/bin/python -m scripts.bench_localnet [--count 2000] [--threads 4]

Both sides run the same kind of transaction (a SOL transfer, and a Token-2022 ticket mint) in
the same run, so the ratio says what the JSON-RPC layer costs. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.message import MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from minter.keys import Payer
from minter.localnet.process import LocalnetProcess
from minter.nft import build_mint_transaction, parse_mint_request


def transfers(payer: Keypair, blockhash, n: int):
    # distinct lamports make distinct signatures
    return [
        VersionedTransaction(
            MessageV0.try_compile(
                payer.pubkey(),
                [
                    transfer(
                        TransferParams(
                            from_pubkey=payer.pubkey(),
                            to_pubkey=Keypair().pubkey(),
                            lamports=1_000_000 + i,
                        )
                    )
                ],
                [],
                blockhash,
            ),
            [payer],
        )
        for i in range(n)
    ]


def mints(payer: Keypair, blockhash, n: int):
    out = []
    for i in range(n):
        req = parse_mint_request(
            {
                "ticket_id": f"B-{i}",
                "owner": str(Keypair().pubkey()),
                "event_id": "E-7",
                "venue_id": "V-3",
                "seat": f"S{i}",
                "metadata": {
                    "name": f"Ticket {i}",
                    "symbol": "TIX",
                    "uri": f"https://t.example/{i}",
                },
            },
            default_standard="token2022",
        )
        out.append(
            build_mint_transaction(
                req,
                payer=Payer(payer),
                mint=Keypair(),
                recent_blockhash=blockhash,
                compute_unit_limit=120_000,
            )
        )
    return out


def direct(kind: str, n: int) -> float:
    svm = LiteSVM()
    payer = Keypair()
    svm.airdrop(payer.pubkey(), 10**13)
    txs = (transfers if kind == "transfer" else mints)(payer, svm.latest_blockhash(), n)
    start = time.perf_counter()
    for tx in txs:
        res = svm.send_transaction(tx)
        assert not hasattr(res, "err"), res
    return n / (time.perf_counter() - start)


def over_http(url: str, kind: str, n: int, threads: int, *, skip_preflight: bool) -> float:
    client = Client(url)
    payer = Keypair()
    client.confirm_transaction(
        client.request_airdrop(payer.pubkey(), 10**13).value, "confirmed", sleep_seconds=0.05
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    bodies = [
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "sendTransaction",
                "params": [
                    base64.b64encode(bytes(tx)).decode(),
                    {"encoding": "base64", "skipPreflight": skip_preflight},
                ],
            }
        )
        for i, tx in enumerate((transfers if kind == "transfer" else mints)(payer, blockhash, n))
    ]
    local = threading.local()

    def send(body: str) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(timeout=30)
        out = local.http.post(
            url, content=body, headers={"Content-Type": "application/json"}
        ).json()
        assert "result" in out, out

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, bodies))
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    rows = []
    with LocalnetProcess() as ln:
        for kind in ("transfer", "mint"):
            n = args.count if kind == "transfer" else args.count // 2
            rows.append((kind, "LiteSVM in-process", direct(kind, n)))
            for skip in (True, False):
                label = f"HTTP, {args.threads} threads, " + (
                    "skipPreflight" if skip else "preflight"
                )
                rows.append(
                    (kind, label, over_http(ln.url, kind, n, args.threads, skip_preflight=skip))
                )
    print(f"{'transaction':<10} {'path':<40} {'tx/s':>8}")
    for kind, label, rate in rows:
        print(f"{kind:<10} {label:<40} {rate:>8.0f}")


if __name__ == "__main__":
    main()
