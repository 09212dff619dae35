"""Bodies of ``minter enqueue`` and ``minter status``: parse, call one workflow, print."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence

from tqdm import tqdm

from actors.entrypoints.services import services_for
from actors.infra.config import Settings, reveal
from actors.infra.errors import CapacityReached, IntentConflict
from actors.infra.exit_codes import EXIT_DIFFERS, EXIT_OK
from actors.workflows.intake import CONFLICT, CREATED, REPEAT, Enqueued, enqueue_mints
from actors.workflows.status import ticket_status
from actors.workflows.transfers import TransferSigner, enqueue_transfer
from minter.nft import from_flat


def format_table(rows: Sequence[Mapping], columns: Sequence[str]) -> str:
    """A plain fixed-width table for a terminal."""
    cells = [[str(r.get(c) if r.get(c) is not None else "") for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, "  ".join("-" * w for w in widths), *body])


def read_csv(path: str) -> list[dict]:
    """One mint request per row, in the JSON form; empty cells are absent fields."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            from_flat({k.strip(): v for k, v in row.items() if k and v not in (None, "")})
            for row in csv.DictReader(f)
        ]


def _item_from_flags(args: argparse.Namespace) -> dict:
    """The flags as a CSV row would give them (text cells), in the JSON form."""
    cells = {
        "ticket_id": args.ticket_id,
        "owner": args.owner,
        "standard": args.standard,
        "event_id": args.event_id,
        "venue_id": args.venue_id,
        "seat": args.seat,
        "name": args.name,
        "symbol": args.symbol,
        "uri": args.uri,
        "seller_fee_basis_points": args.seller_fee_basis_points,
        "creators": ";".join(args.creator) if args.creator else None,
        "is_mutable": args.is_mutable,
        "attributes": args.attributes,
    }
    return from_flat({k: v for k, v in cells.items() if v is not None})


class _Progress:
    """The CSV's progress bar, with the running counts; each conflict is said as it happens."""

    def __init__(self, total: int) -> None:

        self.bar = tqdm(total=total, unit="ticket", disable=not sys.stderr.isatty() or total < 2)
        self.counts = {CREATED: 0, REPEAT: 0, CONFLICT: 0}
        self.done = 0

    def __call__(self, chunk: list[Enqueued]) -> None:
        for r in chunk:
            self.done += 1
            self.counts[r.outcome] += 1
            if r.conflict:  # said now, through the bar, so a long CSV shows it as it goes
                self.bar.write(
                    f"minter: row {self.done}: conflict: ticket {r.ticket_id} was already "
                    "requested with another payload",
                    file=sys.stderr,
                )
        self.bar.set_postfix(self.counts, refresh=False)
        self.bar.update(len(chunk))

    def close(self) -> None:
        self.bar.close()


def summary(results: Sequence[Enqueued]) -> str:
    n = {o: sum(r.outcome == o for r in results) for o in (CREATED, REPEAT, CONFLICT)}
    return f"{len(results)} tickets: {n[CREATED]} new, {n[REPEAT]} repeats, {n[CONFLICT]} conflicts"


def enqueue_command(args: argparse.Namespace, settings: Settings) -> int:
    items = read_csv(args.csv) if args.csv else [_item_from_flags(args)]
    services = services_for(settings, chain=False)
    progress = _Progress(len(items))
    try:
        results = enqueue_mints(
            items,
            uow_factory=services.uow_factory,
            mint_secret=reveal(settings.signer.mint_key_secret),
            default_standard=settings.minting.standard,
            notify=services.notify,
            on_progress=progress,
        )
    except CapacityReached as exc:  # rows before the chunk that overflowed stay recorded
        print(f"minter: conflict: {exc.field}: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        progress.close()
        services.close()
    rows = [
        {
            "ticket_id": r.ticket_id,
            "mint_address": r.mint_address,
            "status": r.status,
            "result": r.outcome,
            "new": r.created,
        }
        for r in results
    ]
    _print(rows, ("ticket_id", "mint_address", "status", "result"), as_json=args.json)
    print(summary(results), file=sys.stderr)
    return EXIT_DIFFERS if any(r.conflict for r in results) else EXIT_OK


def status_command(args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings, broker=False)
    try:
        report = ticket_status(
            args.ticket_id, uow_factory=services.uow_factory, chain=services.chain
        )
    finally:
        services.close()
    if report is None:
        print(f"minter: no ticket {args.ticket_id} in the ledger", file=sys.stderr)
        return EXIT_DIFFERS
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        width = max(len(k) for k in report)
        for key, value in report.items():
            print(f"{key.ljust(width)}  {value}")
    return EXIT_OK if report.get("agrees") else EXIT_DIFFERS


def _print(rows: Iterable[Mapping], columns: Sequence[str], *, as_json: bool) -> None:
    rows = list(rows)
    if as_json:
        for r in rows:
            print(json.dumps(r, default=str))
    else:
        print(format_table(rows, columns))


def transfer_command(args: argparse.Namespace, settings: Settings) -> int:

    services = services_for(settings, chain=False)
    try:
        result = enqueue_transfer(
            {
                "transfer_id": args.transfer_id,
                "ticket_id": args.ticket_id,
                "to": args.to,
                **({"reason": args.reason} if args.reason is not None else {}),
            },
            uow_factory=services.uow_factory,
            signer=TransferSigner(payer=settings.signer.authority),
            notify=services.notify_transfers,
            mint_secret=reveal(settings.signer.mint_key_secret)
            if settings.signer.mint_key_secret
            else b"",
        )
    except IntentConflict as exc:
        print(f"minter: conflict: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        services.close()
    print(
        json.dumps(
            {
                "transfer_id": result.transfer_id,
                "ticket_id": result.ticket_id,
                "status": result.status,
                "new": result.created,
            }
        )
    )
    return EXIT_OK
