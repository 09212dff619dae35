"""Bodies of ``minter health``, ``minter balance``, ``minter reconcile`` and ``minter config``:
parse, call, print."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import timedelta

from tqdm import tqdm

from actors.entrypoints.cli.mints import format_table
from actors.entrypoints.services import payer_pool, services_for
from actors.infra import config as cfg
from actors.infra.config import Settings
from actors.infra.exit_codes import EXIT_DIFFERS, EXIT_OK, EXIT_UNREACHABLE
from actors.workflows.health import Health
from actors.workflows.reconcile import reconcile


def _health(services):
    return Health(
        services,
        ping_redis=lambda: bool(services.broker.client.ping()),
        payers=payer_pool(services),
    )


def health_command(args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings)
    try:
        report = _health(services).readiness()
    finally:
        services.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, detail in report["checks"].items():
            mark = "ok " if name not in report["not_ready"] else "NOT"
            print(f"{mark}  {name.ljust(16)}  {detail}")
        print("ready" if report["ready"] else f"not ready: {', '.join(report['not_ready'])}")
    if report["ready"]:
        return EXIT_OK
    return EXIT_UNREACHABLE if report["unreachable"] else EXIT_DIFFERS


def balance_command(args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings, broker=False)
    try:
        report = _health(services).balance()
    finally:
        services.close()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for p in report["payers"]:
            state = "funded" if p["funded"] else "SKIPPED (below MINT_PAYER_MIN_LAMPORTS)"
            print(f"payer          {p['address']}  {p['lamports']} lamports  {state}")
            print(f"  mints left   {p['mints_left']}")
        print(f"balance        {report['sol']:.9f} SOL ({report['total_lamports']} lamports)")
        if "authority" in report:
            auth = report["authority"]
            print(f"authority      {auth['address']}  {auth['lamports']} lamports")
        how = "measured" if report["cost_measured"] else "known"
        print(f"cost/ticket    {report['cost_per_ticket_lamports']} lamports ({how})")
        print(f"mints left     {report['mints_left']}")
    return EXIT_OK


def reconcile_command(args: argparse.Namespace, settings: Settings) -> int:

    if args.fix:  # repairs are re-enqueued, and their webhook events name ticket versions
        settings.require(cfg.QUEUE + ("MINT_KEY_SECRET",))
    services = services_for(settings, broker=args.fix)
    try:
        with services.uow_factory() as uow:
            total = sum(uow.mints.count_by_status().values())
            total += sum(uow.transfers.count_by_status().values())
            total += sum(uow.collections.count_by_status().values())
            total += sum(uow.operations.count_by_status().values())
        quiet = args.json or not sys.stderr.isatty()
        with tqdm(total=total, unit="row", disable=quiet, desc="reconcile") as bar:
            report = reconcile(
                uow_factory=services.uow_factory,
                chain=services.chain,
                fix=args.fix,
                notify=services.notify,
                notify_transfers=services.notify_transfers,
                notify_collections=services.notify_collections,
                notify_operations=services.notify_operations,
                stuck_after=timedelta(seconds=args.stuck_after),
                max_attempts=settings.minting.max_attempts,  # the workers' cap
                on_progress=bar.update,
            )
    finally:
        services.close()
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        _print_report(report)
    return EXIT_OK if report.agrees else EXIT_DIFFERS


def _print_report(report) -> None:
    found = report.discrepancies
    if found:
        rows = [
            {
                "class": d.kind,
                "table": d.table,
                "key": d.key,
                "status": d.status,
                "detail": d.detail,
                "fixed": d.fixed or "",
            }
            for d in found
        ]
        print(format_table(rows, ["class", "table", "key", "status", "detail", "fixed"]))
    rows = report.mints + report.transfers + report.collections + report.operations
    rate = rows / report.seconds if report.seconds else 0
    print(
        f"checked {report.mints} mints, {report.transfers} transfers, {report.collections} "
        f"collections and {report.operations} operations in "
        f"{report.seconds:.1f} s ({rate:.0f} rows/s): {len(found)} discrepancies, "
        f"{len(found) - len(report.open)} fixed, {len(report.open)} open"
    )
    print("ledger and chain agree" if report.agrees else "ledger and chain DIFFER")


def config_command(args: argparse.Namespace, settings: Settings) -> int:
    """The effective settings by section, secrets and URL passwords masked."""
    shown = settings.shown()
    if args.json:
        print(json.dumps(shown, indent=2))
        return EXIT_OK
    rows = [
        {
            "setting": f"{section}.{name}",
            "variable": cfg.FIELD_VARIABLES[section, name],
            "value": "-"
            if value is None
            else ",".join(map(str, value))
            if isinstance(value, list | tuple)
            else value,
        }
        for section, values in shown.items()
        for name, value in values.items()
    ]
    print(format_table(rows, ["setting", "variable", "value"]))
    return EXIT_OK
