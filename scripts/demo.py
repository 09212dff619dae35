"""The main job on embedded defaults: mint a batch of demo tickets end to end and show them.

    bash scripts/demo.sh [--tickets 12] [--standard token2022|metaplex]

Brings up PostgreSQL, Redis, the embedded Solana validator and the workers, enqueues the tickets
through the same API the ticket service uses, waits for the ledger to resolve them, prints a
table, and stops everything. Metaplex runs only when ``MPL_TOKEN_METADATA_SO`` names the Token
Metadata program binary; Token-2022 runs anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from solders.keypair import Keypair

from scripts.stack import Stack

METAPLEX_PROGRAM = "metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s"
DEFAULT_TICKETS = 12


def demo_requests(count: int, standard: str) -> list[dict]:
    return [
        {
            "ticket_id": f"DEMO-{i:04d}",
            "owner": str(Keypair().pubkey()),
            "standard": standard,
            "event_id": "E-7",
            "venue_id": "V-3",
            "seat": f"B{i}",
            "metadata": {
                "name": f"Ticket #{i}",
                "symbol": "TIX",
                "uri": f"https://tickets.example/{i}.json",
                "seller_fee_basis_points": 250,
            },
        }
        for i in range(1, count + 1)
    ]


def main(argv: list[str] | None = None) -> int:
    mpl = os.environ.get("MPL_TOKEN_METADATA_SO")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument(
        "--standard", choices=("token2022", "metaplex"), default="metaplex" if mpl else "token2022"
    )
    args = parser.parse_args(argv)
    if args.standard == "metaplex" and not mpl:
        print(
            "metaplex needs MPL_TOKEN_METADATA_SO (the program binary); use token2022 here",
            file=sys.stderr,
        )
        return 2

    from actors import settings as cfg
    from actors.bootstrap import build_services
    from actors.commands import format_table
    from actors.enqueue import enqueue_mints

    programs = {METAPLEX_PROGRAM: mpl} if mpl else {}
    print("starting PostgreSQL, Redis and the embedded validator…", file=sys.stderr)
    with Stack(standard=args.standard, programs=programs) as stack:
        stack.start_workers(processes=1, threads=8)
        settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
        services = build_services(settings, chain=False)
        requests = demo_requests(args.tickets, args.standard)
        started = time.monotonic()
        results = enqueue_mints(
            requests,
            uow_factory=services.uow_factory,
            mint_secret=settings.mint_key_secret,
            default_standard=settings.standard,
            notify=services.notify,
        )
        print(f"enqueued {len(results)} tickets; waiting for the chain…", file=sys.stderr)
        stack.wait_until_resolved([r.ticket_id for r in results])
        elapsed = time.monotonic() - started
        with services.uow_factory() as uow:
            rows = uow.mints.get_many([r.ticket_id for r in results])
        services.close()
        table = [
            {
                "ticket": r.ticket_id,
                "owner": r.owner_address,
                "mint address": r.mint_address,
                "signature": r.signature,
                "status": r.status,
            }
            for r in rows
        ]
        print(format_table(table, ("ticket", "owner", "mint address", "signature", "status")))
        done = sum(r.status == "completed" for r in rows)
        print(
            f"\n{done}/{len(rows)} completed with {args.standard} in {elapsed:.1f}s "
            f"(validator {stack.rpc_url})"
        )
        return 0 if done == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
