"""What one ticket costs on chain, per standard, with the programs loaded today.

    MPL_CORE_SO=/path/to/mpl_core.so MPL_TOKEN_METADATA_SO=/path/to/mpl_token_metadata.so \\
        .venv/bin/python -m scripts.measure_costs [--tickets 20] [--json]

Starts the embedded validator (with the Core and Token Metadata programs from ``MPL_CORE_SO``
and ``MPL_TOKEN_METADATA_SO`` when they are set; a standard whose program is missing is skipped
with a message), funds a fresh payer, and
mints N tickets of each standard with the service's own builder
(``actors.workflows.mints.build_signed``:
compute budget from a simulation, as the workers do), the demo's metadata (event, venue and seat
set, as ``scripts/demo.py`` mints them), and then N more with the longest metadata the intake
accepts. Per ticket, from the landed transaction: the payer's balance change (rent + fees), the
transaction fee, the rent-exempt minimum of the accounts it created, what the payer lost beyond
both (Token Metadata's protocol fee, Core's creation fee), the transaction's size and compute
units. Core tickets go into their event's collection, created first (the demo event) and
measured on a row of its own. Prints min /
mean / max over N, beside the payer's balance change over the whole run; asserts nothing.
``actors.workflows.health.KNOWN_COST`` is set from these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.signature import Signature

from actors.workflows.collections import signed_collection
from actors.workflows.mints import MintSigner, build_signed
from minter.keys import Payer, derive_collection_keypair, derive_mint_keypair
from minter.localnet.process import LocalnetProcess
from minter.nft import parse_mint_request
from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.event import parse_event_request
from minter.nft.metaplex import TOKEN_METADATA_PROGRAM_ID
from minter.nft.request import MAX_EXTRA, MAX_NAME, MAX_SYMBOL, MAX_URI
from minter.nft.transaction import NO_EVENT, Placement, rent_exempt
from minter.rpc import ChainClient
from scripts.demo import DEMO_EVENT, demo_requests

PROGRAMS = {  # standard -> (program id, the variable naming its binary)
    "core": (str(CORE_PROGRAM_ID), "MPL_CORE_SO"),
    "metaplex": (str(TOKEN_METADATA_PROGRAM_ID), "MPL_TOKEN_METADATA_SO"),
}
DEFAULT_TICKETS = 20
DEFAULT_SLOT_MS = 50  # short slots: the figures do not depend on them, the wait does
DEFAULT_CONFIRM_TIMEOUT = 60.0  # seconds for a batch to be confirmed
LAMPORTS_PER_SOL = 1_000_000_000
AIRDROP_SOL = 100


def longest_requests(count: int, standard: str) -> list[dict]:
    """The demo's requests with every text field as long as the intake allows (UTF-8 bytes)."""
    out = []
    for i, req in enumerate(demo_requests(count, standard), start=1):
        tag = f"{i:04d}"
        meta = dict(req["metadata"])
        meta.update(
            name=("N" * MAX_NAME)[: -len(tag)] + tag,
            symbol="S" * MAX_SYMBOL,
            uri=("https://tickets.example/" + "u" * MAX_URI)[: MAX_URI - len(tag)] + tag,
        )
        if standard == "core":  # a Core asset has no symbol
            del meta["symbol"]
        out.append(
            dict(
                req,
                ticket_id=f"LONG-{tag}",
                event_id="E" * MAX_EXTRA,
                venue_id="V" * MAX_EXTRA,
                seat=("s" * MAX_EXTRA)[: -len(tag)] + tag,
                metadata=meta,
            )
        )
    return out


def mint_batch(
    chain: ChainClient, signer: MintSigner, items: list[dict], standard: str, place=NO_EVENT
) -> list:
    """Sign and send every request, wait until all are confirmed; their signatures and sizes."""
    sent = []
    for item in items:
        req = parse_mint_request(item, default_standard=standard)
        mint = derive_mint_keypair(signer.mint_secret, req.ticket_id)
        tx, _ = build_signed(req, chain=chain, signer=signer, mint=mint, place=place)
        raw = bytes(tx)
        sent.append((chain.send(raw), len(raw)))
    return confirmed(chain, sent)


def make_collection(chain: ChainClient, signer: MintSigner) -> tuple[Placement, list]:
    """The demo event's collection, as the workers create it; where its tickets go."""
    event = parse_event_request("E-7", DEMO_EVENT)
    keypair = derive_collection_keypair(signer.mint_secret, event.event_id)
    tx, _ = signed_collection(event, chain=chain, signer=signer, keypair=keypair)
    raw = bytes(tx)
    sent = confirmed(chain, [(chain.send(raw), len(raw))])
    return Placement(keypair.pubkey(), frozen=False), sent


def confirmed(chain: ChainClient, sent: list) -> list:
    deadline = time.monotonic() + DEFAULT_CONFIRM_TIMEOUT
    sigs = [s for s, _ in sent]
    while True:
        statuses = chain.statuses(sigs)
        if all(s is not None and s.confirmation_status is not None for s in statuses):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("mints not confirmed in time")
        time.sleep(0.05)
    failed = [str(sig) for sig, st in zip(sigs, statuses, strict=True) if st.err is not None]
    if failed:
        raise RuntimeError(f"{len(failed)} mints failed, e.g. {failed[0]}")
    return sent


def per_ticket(client: Client, chain: ChainClient, sent: list) -> list[dict]:
    """Each landed mint: the payer's loss, split into fee, rent and what is left (a program fee,
    held above the rent-exempt minimum in the accounts the mint created)."""
    rows = []
    for sig, size in sent:
        tx = client.get_transaction(
            Signature.from_string(str(sig)), "json", max_supported_transaction_version=0
        ).value
        meta = tx.transaction.meta
        keys = tx.transaction.transaction.message.account_keys
        spent = meta.pre_balances[0] - meta.post_balances[0]
        created = [
            (key, post)
            for key, pre, post in zip(keys, meta.pre_balances, meta.post_balances, strict=True)
            if pre == 0 and post > 0
        ]
        accounts = chain.accounts([key for key, _ in created])
        rent = sum(rent_exempt(len(acc.data)) for acc in accounts)
        rows.append(
            {
                "lamports": spent,
                "fee": meta.fee,
                "rent": rent,
                "program_fee": spent - meta.fee - rent,
                "bytes": size,
                "cu": meta.compute_units_consumed,
            }
        )
    return rows


def summary(rows: list[dict]) -> dict:
    return {
        key: {
            "min": min(r[key] for r in rows),
            "mean": statistics.fmean(r[key] for r in rows),
            "max": max(r[key] for r in rows),
        }
        for key in ("lamports", "fee", "rent", "program_fee", "bytes", "cu")
    }


def measure(url: str, standard: str, metadata: str, count: int) -> dict:
    payer = Keypair()
    client = Client(url, commitment="confirmed")
    client.confirm_transaction(
        client.request_airdrop(payer.pubkey(), AIRDROP_SOL * LAMPORTS_PER_SOL).value,
        commitment="confirmed",
        sleep_seconds=0.05,
    )
    chain = ChainClient(url, commitment="confirmed")
    signer = MintSigner(payer=Payer(payer), mint_secret=os.urandom(32))
    items = (longest_requests if metadata == "longest" else demo_requests)(count, standard)
    collection = None
    try:
        place = NO_EVENT
        if standard == "core":
            place, created = make_collection(chain, signer)
            collection = {"standard": "core", "metadata": "collection", "tickets": 1}
            collection |= {
                "balance_change_per_ticket": 0.0,
                **summary(per_ticket(client, chain, created)),
            }
        before = chain.balance(payer.pubkey())
        sent = mint_batch(chain, signer, items, standard, place)
        after = chain.balance(payer.pubkey())
        rows = per_ticket(client, chain, sent)
    finally:
        chain.close()
    return collection, {
        "standard": standard,
        "metadata": metadata,
        "tickets": len(rows),
        "balance_change_per_ticket": (before - after) / len(rows),
        **summary(rows),
    }


def fmt(s: dict, key: str) -> str:
    return f"{s[key]['min']:,} / {s[key]['mean']:,.0f} / {s[key]['max']:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument("--json", action="store_true", help="one JSON object per row as well")
    args = parser.parse_args()
    standards, programs = ["token2022"], {}
    for standard, (program_id, variable) in PROGRAMS.items():
        path = os.environ.get(variable)
        if path:
            standards.insert(0, standard)
            programs[program_id] = path
            print(f"{standard}: program {path} ({os.path.getsize(path):,} bytes)")
        else:
            print(f"{standard} skipped: set {variable} to the program binary")
    results = []
    with LocalnetProcess(programs=programs, slot_ms=DEFAULT_SLOT_MS) as validator:
        for standard in sorted(standards):
            for metadata in ("demo", "longest"):
                collection, tickets = measure(validator.url, standard, metadata, args.tickets)
                results += [collection, tickets] if collection else [tickets]
    print(
        "| standard | metadata | N | lamports per ticket (min / mean / max) | fee | rent"
        " | program fee | tx bytes | CU |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['standard']} | {r['metadata']} | {r['tickets']} | {fmt(r, 'lamports')}"
            f" | {fmt(r, 'fee')} | {fmt(r, 'rent')} | {fmt(r, 'program_fee')}"
            f" | {fmt(r, 'bytes')} | {fmt(r, 'cu')} |"
        )
    print("payer balance change over each run, per ticket: ", end="")
    print(
        ", ".join(
            f"{r['standard']}/{r['metadata']} {r['balance_change_per_ticket']:,.0f}"
            for r in results
        )
    )
    if args.json:
        for r in results:
            print(json.dumps(r))


if __name__ == "__main__":
    main()
