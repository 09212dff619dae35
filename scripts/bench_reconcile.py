"""Reconciliation speed: N completed ledger rows, each with its real mint on the validator.

    .venv/bin/python -m scripts.bench_reconcile [--rows 20000] [--send-threads 4] [--out bench-out]

Setup (not timed): intents recorded through the enqueue API, the mint transactions sent
straight to the embedded validator (no workers, to keep the setup short), then the rows marked
completed. Timed: ``minter reconcile --json`` as ops run it, twice. Prints rows per second;
asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from solders.keypair import Keypair
from solders.signature import Signature

from devtools.stack import Stack
from minter.keys import Payer, derive_mint_keypair
from minter.nft import build_mint_transaction, parse_mint_request
from minter.rpc import ChainClient

COMPUTE_UNITS = 80_000  # name/symbol/uri only: about 48k measured


def request(i: int) -> dict:
    return {
        "ticket_id": f"R-{i:06d}",
        "owner": str(Keypair().pubkey()),
        "standard": "token2022",
        "metadata": {"name": f"Ticket #{i}", "symbol": "TIX", "uri": f"https://t.example/{i}"},
    }


def record_intents(stack: Stack, items: list[dict]) -> None:
    from actors.entrypoints.services import services_for
    from actors.infra import config as cfg
    from actors.workflows.intake import enqueue_mints

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + ("MINT_KEY_SECRET",))
    services = services_for(settings, chain=False, broker=False)
    try:
        enqueue_mints(
            items,
            uow_factory=services.uow_factory,
            mint_secret=cfg.reveal(settings.signer.mint_key_secret),
            default_standard="token2022",
            notify=lambda ids: None,  # no workers: this script sends the transactions itself
        )
    finally:
        services.close()


def mint_on_chain(stack: Stack, items: list[dict], threads: int) -> list[str]:
    chain = ChainClient(stack.rpc_url, skip_preflight=True, blockhash_ttl=1.0)
    payer = Payer(stack.payer)
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=("MINT_KEY_SECRET",))
    secret = cfg.reveal(settings.signer.mint_key_secret)
    done, lock = [0], threading.Lock()

    def send(item: dict) -> str:
        req = parse_mint_request(item, default_standard="token2022")
        blockhash, _ = chain.latest_blockhash()
        tx = build_mint_transaction(
            req,
            payer=payer,
            mint=derive_mint_keypair(secret, req.ticket_id),
            recent_blockhash=blockhash,
            compute_unit_limit=COMPUTE_UNITS,
        )
        chain.send(bytes(tx))
        with lock:
            done[0] += 1
            if done[0] % 2000 == 0:
                print(f"  sent {done[0]}/{len(items)}", flush=True)
        return str(tx.signatures[0])

    with ThreadPoolExecutor(threads) as pool:
        sigs = list(pool.map(send, items))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the last ones are confirmed
        tail = chain.statuses([Signature.from_string(s) for s in sigs[-256:]])
        if all(s is not None for s in tail):
            break
        time.sleep(0.5)
    statuses = chain.statuses([Signature.from_string(s) for s in sigs])
    chain.close()
    failed = [st.err if st else "unknown" for st in statuses if st is None or st.err is not None]
    if failed:
        raise SystemExit(f"{len(failed)} setup mints did not land, e.g. {failed[:3]}")
    return sigs


def mark_completed(stack: Stack, items: list[dict], sigs: list[str]) -> None:
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE nft_mints SET status = 'completed', completed_at = now(), signature = %s"
                " WHERE ticket_id = %s",
                [(s, i["ticket_id"]) for i, s in zip(items, sigs, strict=True)],
            )


def timed_reconcile(stack: Stack) -> dict:
    start = time.perf_counter()
    res = stack.minter("reconcile", "--json", check=False)
    wall = time.perf_counter() - start
    report = json.loads(res.stdout)
    return {
        "exit": res.returncode,
        "rows": report["mints_checked"] + report["transfers_checked"],
        "discrepancies": len(report["discrepancies"]),
        "first": report["discrepancies"][:2],
        "reconcile_seconds": report["seconds"],
        "rows_per_second": report["rows_per_second"],
        "command_wall_seconds": round(wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--send-threads", type=int, default=4)
    parser.add_argument("--out", default="bench-out")
    args = parser.parse_args()
    items = [request(i) for i in range(args.rows)]
    with Stack(slot_ms=400) as stack:
        t0 = time.perf_counter()
        record_intents(stack, items)
        sigs = mint_on_chain(stack, items, args.send_threads)
        mark_completed(stack, items, sigs)
        print(f"setup: {args.rows} rows minted and recorded in {time.perf_counter() - t0:.0f} s")
        runs = [timed_reconcile(stack) for _ in range(2)]
    result = {"rows": args.rows, "runs": runs}
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    (out / "reconcile.json").write_text(json.dumps(result, indent=2))
    for r in runs:
        print(
            f"reconcile {r['rows']} rows: {r['reconcile_seconds']:.1f} s, "
            f"{r['rows_per_second']} rows/s (command wall {r['command_wall_seconds']} s), "
            f"exit {r['exit']}, {r['discrepancies']} discrepancies"
        )
        for d in r["first"]:
            print(f"  {d}")


if __name__ == "__main__":
    main()
