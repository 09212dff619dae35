"""The main job on embedded defaults: the whole service on this machine, a batch of demo tickets
minted through its HTTP API, then the service left up for you to call.

    bash scripts/demo.sh [--tickets 12] [--standard core|token2022|metaplex] [--port N] [--once]

Brings up PostgreSQL, Redis, the embedded Solana validator, the migrations, the workers and the
HTTP API (``minter api`` on a free loopback port, or ``--port``), mints the tickets with
``POST /v1/mints`` as the ticket service does, waits until the ledger resolves them and prints a
table. Then it prints the API's URL, a development token and a ``curl`` line that mints one more
ticket, and stays up until Ctrl-C (or SIGTERM), which stops everything it started. ``--once``
stops after the table instead, exiting 0 only when every ticket completed. Core (the default
when ``MPL_CORE_SO`` names the Core program binary) registers the demo event first and mints
into its collection; Metaplex runs only when ``MPL_TOKEN_METADATA_SO`` names the Token Metadata
binary; Token-2022 runs anywhere (the default otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time

import httpx
from solders.keypair import Keypair

from devtools.stack import DEFAULT_WAIT, TERMINAL, Stack
from ledger.models import Status
from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.metaplex import TOKEN_METADATA_PROGRAM_ID

METAPLEX_PROGRAM = str(TOKEN_METADATA_PROGRAM_ID)
BINARIES = {  # the standards that need a program binary: (program, variable)
    "core": (str(CORE_PROGRAM_ID), "MPL_CORE_SO"),
    "metaplex": (METAPLEX_PROGRAM, "MPL_TOKEN_METADATA_SO"),
}
DEMO_EVENT = {
    "name": "Demo concert",
    "symbol": "TIX",
    "uri": "https://tickets.example/event.json",
    "venue_id": "V-3",
    "seller_fee_basis_points": 250,
    "capacity": 1000,
    "standard": "core",
}
DEFAULT_TICKETS = 12
DEFAULT_POLL = 0.25  # seconds between status reads while waiting, and between liveness checks
DEFAULT_HTTP_TIMEOUT = 30.0  # seconds for one call to the API
EXIT_INTERRUPTED = 130  # the shell's code for a Ctrl-C before the demo was up
COLUMNS = ("ticket", "owner", "mint address", "signature", "status")


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT or SIGTERM) turned into an exception, so the stack unwinds."""


def demo_request(i: int, standard: str) -> dict:
    metadata = {"name": f"Ticket #{i}", "symbol": "TIX", "uri": f"https://tickets.example/{i}.json"}
    if standard == "metaplex":  # royalties are a Metaplex field; Token-2022 refuses it (422)
        metadata["seller_fee_basis_points"] = 250
    if standard == "core":  # no symbol on a Core asset; royalties are the event's collection's
        del metadata["symbol"]
    return {
        "ticket_id": f"DEMO-{i:04d}",
        "owner": str(Keypair().pubkey()),  # a fresh wallet per ticket
        "standard": standard,
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": f"B{i}",
        "metadata": metadata,
    }


def demo_requests(count: int, standard: str) -> list[dict]:
    return [demo_request(i, standard) for i in range(1, count + 1)]


def _on_stop_signal(signum, frame) -> None:
    # Later signals are ignored, so a second Ctrl-C cannot cut the teardown short and leave
    # servers behind; children started from now on (pg_ctl stop) inherit the ignore too.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(signal.Signals(signum).name)


def mint_batch(api: httpx.Client, requests: list[dict]) -> list[str]:
    """POST each request; returns the ticket ids the API accepted (202, or 200 for a repeat)."""
    ids = []
    for body in requests:
        res = api.post("/v1/mints", json=body)
        if res.status_code not in (200, 202):
            raise RuntimeError(f"POST /v1/mints {body['ticket_id']}: {res.status_code} {res.text}")
        ids.append(res.json()["ticket_id"])
    return ids


def wait_for_rows(
    api: httpx.Client, ticket_ids: list[str], *, timeout: float = DEFAULT_WAIT
) -> list[dict]:
    """Read each ticket with ``GET /v1/mints/{id}`` until all are completed or failed."""
    deadline = time.monotonic() + timeout
    rows: dict[str, dict] = {}
    while True:
        for ticket_id in ticket_ids:
            if rows.get(ticket_id, {}).get("status") not in TERMINAL:
                res = api.get(f"/v1/mints/{ticket_id}")
                res.raise_for_status()
                rows[ticket_id] = res.json()
        if all(r["status"] in TERMINAL for r in rows.values()) or time.monotonic() > deadline:
            return [rows[t] for t in ticket_ids]
        time.sleep(DEFAULT_POLL)


def table_of(rows: list[dict]) -> list[dict]:
    return [
        {
            "ticket": r["ticket_id"],
            "owner": r.get("owner"),
            "mint address": r["mint_address"],
            "signature": r.get("signature"),
            "status": r["status"],
        }
        for r in rows
    ]


def curl_mint(url: str, token: str, body: dict) -> str:
    """One shell line that POSTs ``body`` to the API with the token, quoted for pasting."""
    return shlex.join(
        [
            "curl", "-sS", "-X", "POST", f"{url}/v1/mints",
            "-H", f"Authorization: Bearer {token}",
            "-H", "Content-Type: application/json",
            "-d", json.dumps(body, separators=(",", ":")),
        ]
    )  # fmt: skip


def curl_read(url: str, token: str, ticket_id: str) -> str:
    auth = f"Authorization: Bearer {token}"
    return shlex.join(["curl", "-sS", "-H", auth, f"{url}/v1/mints/{ticket_id}"])


def serve(stack: Stack, *, tickets: int, standard: str) -> int:
    """Print how to call the running service, then watch it until a stop signal."""
    token = stack.token(sub="demo", role="service")
    extra = demo_request(tickets + 1, standard)
    print(
        "\nThe service is up (Ctrl-C stops everything):\n"
        f"  API:      {stack.api_url}   (OpenAPI: {stack.api_url}/docs)\n"
        f"  token:    {token}\n"
        f"  ledger:   {stack.database_url}\n"
        f"  redis:    {stack.redis.url()}\n"
        f"  solana:   {stack.rpc_url}\n"
        f"  logs:     {stack.workdir}\n"
        "Mint one more ticket:\n"
        f"{curl_mint(stack.api_url, token, extra)}\n"
        "and read it:\n"
        f"{curl_read(stack.api_url, token, extra['ticket_id'])}",
        flush=True,
    )
    while True:  # until Interrupted; a child that dies on its own ends the demo
        for name, proc in stack.processes().items():
            if proc.poll() is not None:
                print(
                    f"demo: {name} exited with {proc.returncode}; see {stack.workdir}",
                    file=sys.stderr,
                )
                return 1
        time.sleep(DEFAULT_POLL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=DEFAULT_TICKETS)
    parser.add_argument(
        "--standard",
        choices=("core", "token2022", "metaplex"),
        default="core" if os.environ.get("MPL_CORE_SO") else "token2022",
    )
    parser.add_argument("--port", type=int, default=None, help="API port (default: a free one)")
    parser.add_argument(
        "--once", action="store_true", help="stop after the table; exit 0 if all completed"
    )
    args = parser.parse_args(argv)
    if args.standard in BINARIES and not os.environ.get(BINARIES[args.standard][1]):
        variable = BINARIES[args.standard][1]
        print(
            f"{args.standard} needs {variable} (the program binary); use token2022 here",
            file=sys.stderr,
        )
        return 2

    from actors.entrypoints.cli.mints import format_table

    sys.stdout.reconfigure(line_buffering=True)  # lines show up at once through a pipe too
    signal.signal(signal.SIGINT, _on_stop_signal)
    signal.signal(signal.SIGTERM, _on_stop_signal)
    programs = {
        program: os.environ[variable]
        for program, variable in BINARIES.values()
        if os.environ.get(variable)
    }
    stack = Stack(standard=args.standard, programs=programs)
    serving = False
    try:
        print("starting PostgreSQL, Redis and the embedded validator…", file=sys.stderr)
        stack.start()
        stack.start_workers(processes=1, threads=8)
        stack.start_api(port=args.port)
        auth = {"Authorization": f"Bearer {stack.token(sub='demo', role='service')}"}
        client = httpx.Client(base_url=stack.api_url, headers=auth, timeout=DEFAULT_HTTP_TIMEOUT)
        with client as api:
            started = time.monotonic()
            if args.standard == "core":  # its tickets go into the event's collection
                api.put("/v1/events/E-7", json=DEMO_EVENT).raise_for_status()
            ids = mint_batch(api, demo_requests(args.tickets, args.standard))
            print(f"POSTed {len(ids)} tickets to {stack.api_url}; waiting…", file=sys.stderr)
            rows = wait_for_rows(api, ids)
        elapsed = time.monotonic() - started
        print(format_table(table_of(rows), COLUMNS))
        done = sum(r["status"] == Status.COMPLETED for r in rows)
        print(
            f"\n{done}/{len(rows)} completed with {args.standard} in {elapsed:.1f}s "
            f"(validator {stack.rpc_url})"
        )
        if args.once:
            return 0 if done == len(rows) else 1
        serving = True
        return serve(stack, tickets=args.tickets, standard=args.standard)
    except Interrupted as exc:
        print(f"\n{exc}: stopping…", file=sys.stderr)
        return 0 if serving else EXIT_INTERRUPTED
    except RuntimeError as exc:  # a service that would not start (port taken, …): one line
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing may cut the teardown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.stop()
        print("stopped everything the demo started", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
