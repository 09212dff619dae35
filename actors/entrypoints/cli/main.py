"""The ``minter`` console command: parse, call one function, map errors to a line and exit code.

The command table is DESIGN.md's interface contract. Each command declares the settings it
cannot run without (``needs``); :func:`main` loads the one settings model for it, so every
variable that is set is checked before anything runs.

The command bodies (``cli.mints``, ``cli.ops``, ``http.app``) are imported when their command
runs, not here: they load prometheus-client, which picks single- or multi-process mode when it
is imported, and ``minter worker`` must set PROMETHEUS_MULTIPROC_DIR before that happens (else
its processes' series, ``minting_mints`` among them, never reach the shared endpoint).
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence

from actors.infra import config as cfg
from actors.infra.broker import WORKER_QUEUES
from actors.infra.config import Settings
from actors.infra.errors import SettingsError
from actors.infra.exit_codes import (
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    unreachable,
)
from actors.infra.logs import configure_logging, scrub
from ledger.migrate import upgrade
from minter.errors import ValidationError

DEFAULT_WORKER_PROCESSES = 2
DEFAULT_WORKER_THREADS = 8
DEFAULT_STUCK_AFTER_SECONDS = 600
Command = Callable[[argparse.Namespace, Settings], int]


def _err(message: str) -> None:
    print(f"minter: {message}", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:

    upgrade(settings.database.url, revision=args.revision)
    print(f"database at revision {args.revision}")
    return EXIT_OK


def _metrics_dir() -> str:
    """A fresh multiprocess directory of this worker group (another group on the host has its
    own); removed when the group exits."""

    path = tempfile.mkdtemp(prefix=f"minter-metrics-{os.getpid()}-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    # the settings were checked here, in one line; each worker process reads them again
    host = args.metrics_host or settings.worker.metrics_host
    port = args.metrics_port if args.metrics_port is not None else settings.worker.metrics_port
    # Process plumbing for this worker group's children, not operator settings (so not in the
    # settings model): set before anything imports prometheus_client, since every worker
    # process writes its series into that directory.
    path = _metrics_dir()
    os.environ.update(
        PROMETHEUS_MULTIPROC_DIR=path,
        dramatiq_prom_db=path,
        dramatiq_prom_host=host,
        dramatiq_prom_port=str(port),
        MINTER_WORKER_STARTED=str(time.time()),  # the reporter's latency watermark starts here
    )
    # the worker command alone needs Dramatiq's CLI; imported after the env above is set
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    argv = ["actors.entrypoints.worker.main:broker", "--queues", *WORKER_QUEUES]
    argv += ["--processes", str(args.processes), "--threads", str(args.threads)]
    return dramatiq_main(make_argument_parser().parse_args(argv))


def cmd_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    from actors.entrypoints.cli.mints import enqueue_command  # see the module docstring

    return enqueue_command(args, settings)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # the API command alone needs the server

    from actors.entrypoints.http.app import build_app  # see the module docstring

    uvicorn.run(
        build_app(settings), host=args.host, port=args.port, log_level="warning", log_config=None
    )
    return EXIT_OK


def cmd_transfer(args: argparse.Namespace, settings: Settings) -> int:

    from actors.entrypoints.cli.mints import transfer_command  # see the module docstring

    return transfer_command(args, settings)


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:

    from actors.entrypoints.cli.mints import status_command  # see the module docstring

    return status_command(args, settings)


def _events(name: str) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from actors.entrypoints.cli import events  # see the module docstring

        return getattr(events, name)(args, settings)

    return run


def _tickets(name: str) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from actors.entrypoints.cli import tickets  # see the module docstring

        return getattr(tickets, name)(args, settings)

    return run


def _webhooks(name: str) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from actors.entrypoints.cli import webhooks  # see the module docstring

        return getattr(webhooks, name)(args, settings)

    return run


def cmd_localnet(args: argparse.Namespace, settings: Settings) -> int:
    from minter.localnet.cli import run  # a development tool: loaded only for this command

    return run(args)


def _ops(name: str) -> Command:
    def run(args: argparse.Namespace, settings: Settings) -> int:

        from actors.entrypoints.cli import ops as ops_commands  # see the module docstring

        return getattr(ops_commands, name)(args, settings)

    return run


def _add_localnet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("localnet", help="the embedded Solana validator, in the foreground")
    # the validator's own flags: a development tool, its module named only here and in the command
    from minter.localnet.cli import add_arguments

    add_arguments(p)
    p.set_defaults(func=cmd_localnet, needs=())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minter",
        description="Mint one Solana NFT per sold ticket, exactly once, with a Postgres ledger.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_localnet(sub)

    p = sub.add_parser("migrate", help="alembic upgrade on DATABASE_URL")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(func=cmd_migrate, needs=cfg.DATABASE)

    p = sub.add_parser("worker", help="Dramatiq workers for all actors")
    p.add_argument("--processes", type=int, default=DEFAULT_WORKER_PROCESSES)
    p.add_argument("--threads", type=int, default=DEFAULT_WORKER_THREADS)
    p.add_argument(
        "--metrics-port",
        type=int,
        help="Prometheus endpoint of all worker processes "
        f"(default: WORKER_METRICS_PORT, else {cfg.DEFAULT_METRICS_PORT})",
    )
    p.add_argument(
        "--metrics-host",
        help=f"its address (default: WORKER_METRICS_HOST, else {cfg.DEFAULT_METRICS_HOST})",
    )
    p.set_defaults(func=cmd_worker, needs=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    p = sub.add_parser("api", help="the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.set_defaults(func=cmd_api, needs=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    p = sub.add_parser("enqueue", help="record mint intent and enqueue it (one ticket or a CSV)")
    p.add_argument("--ticket-id")
    p.add_argument("--owner")
    p.add_argument("--name")
    p.add_argument("--symbol")
    p.add_argument("--uri")
    p.add_argument("--standard", help="core, metaplex or token2022 (default: NFT_STANDARD)")
    # text, as a CSV cell: the request model gives the same answer for the same value
    p.add_argument("--seller-fee-basis-points", help="royalties in basis points (metaplex)")
    p.add_argument(
        "--creator",
        action="append",
        metavar="ADDRESS:SHARE",
        help="a creator and its share (metaplex; repeat for each, shares sum to 100)",
    )
    p.add_argument("--is-mutable", metavar="true|false", help="metadata stays updatable (metaplex)")
    p.add_argument("--event-id")
    p.add_argument("--venue-id")
    p.add_argument("--seat")
    p.add_argument("--attributes", metavar="JSON", help='extra attributes (core): {"row": "B"}')
    p.add_argument(
        "--csv",
        help="one ticket a row; columns as the JSON names, metadata flattened "
        "(creators as ADDRESS:SHARE;ADDRESS:SHARE)",
    )
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    p.set_defaults(func=cmd_enqueue, needs=cfg.DATABASE + cfg.QUEUE + ("MINT_KEY_SECRET",))
    p = sub.add_parser("status", help="the ledger row and its chain state")
    p.add_argument("ticket_id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status, needs=cfg.DATABASE + ("SOLANA_RPC_URL",))
    p = sub.add_parser("transfer", help="record transfer intent and enqueue it")
    p.add_argument("--transfer-id", required=True)
    p.add_argument("--ticket-id", required=True)
    p.add_argument("--to", required=True)
    p.add_argument(
        "--reason",
        help="claim (the default: out of custody); resale or support (a Core ticket from any "
        "holder, by the collection's permanent transfer delegate)",
    )
    p.set_defaults(func=cmd_transfer, needs=cfg.DATABASE + cfg.QUEUE + (cfg.PAYER_VARIABLE,))
    p = sub.add_parser("health", help="cluster and dependency health (exit 1 when not ready)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ops("health_command"), needs=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    p = sub.add_parser("balance", help="payer balance and how many more mints it pays for")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ops("balance_command"), needs=cfg.DATABASE + cfg.CHAIN)
    p = sub.add_parser(
        "reconcile", help="ledger against chain; exit 0 when they agree, 1 when they differ"
    )
    p.add_argument("--fix", action="store_true", help="repair what the chain proves")
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--stuck-after",
        type=float,
        default=DEFAULT_STUCK_AFTER_SECONDS,
        help="seconds a row may stay pending or submitted (default: %(default)s)",
    )
    # REDIS_URL too with --fix: the command asks for it (it re-enqueues what it repairs)
    p.set_defaults(func=_ops("reconcile_command"), needs=cfg.DATABASE + ("SOLANA_RPC_URL",))
    _add_event(sub)
    _add_webhooks(sub)
    _add_ticket(sub)
    p = sub.add_parser("config", help="the effective settings by section, secrets masked")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_ops("config_command"), needs=())
    return parser


def _add_event(sub: argparse._SubParsersAction) -> None:
    event = sub.add_parser("event", help="register an event (its collection) and read it")
    verbs = event.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("put", help="register or repeat an event, as PUT /v1/events/{id}")
    p.add_argument("event_id")
    p.add_argument("--name", required=True)
    p.add_argument("--symbol")
    p.add_argument("--uri", required=True)
    p.add_argument("--venue-id")
    p.add_argument("--seller-fee-basis-points")
    p.add_argument("--creator", action="append", metavar="ADDRESS:SHARE")
    p.add_argument("--capacity")
    p.add_argument(
        "--transfer-policy", help="transferable (default), locked_until_checkin, non_transferable"
    )
    p.add_argument("--standard", help="core (the only one with collections in this build)")
    p.set_defaults(
        func=_events("put_command"), needs=cfg.DATABASE + cfg.QUEUE + ("MINT_KEY_SECRET",)
    )
    p = verbs.add_parser("show", help="the event, its collection and its tickets by status")
    p.add_argument("event_id")
    p.set_defaults(func=_events("show_command"), needs=cfg.DATABASE)


def _add_ticket(sub: argparse._SubParsersAction) -> None:
    ticket = sub.add_parser("ticket", help="lifecycle operations, as the API's /v1/tickets")
    verbs = ticket.add_subparsers(dest="verb", required=True)
    needs = cfg.DATABASE + cfg.QUEUE + ("MINT_KEY_SECRET",)
    p = verbs.add_parser("check-in", help="scan a ticket: admitted (exit 0) or its first scan")
    p.add_argument("ticket_id")
    p.add_argument("--operation-id", required=True)
    p.add_argument("--gate", required=True)
    p.set_defaults(func=_tickets("check_in_command"), needs=needs)
    p = verbs.add_parser("invalidate", help="burn it (refund, fraud, cancelled event)")
    p.add_argument("ticket_id")
    p.add_argument("--operation-id", required=True)
    p.add_argument("--reason", required=True)
    p.set_defaults(func=_tickets("invalidate_command"), needs=needs)
    p = verbs.add_parser("reissue", help="mint the next version of an invalidated ticket")
    p.add_argument("ticket_id")
    p.add_argument("--operation-id", required=True)
    p.add_argument("--owner", help="the new holder (default: the last one)")
    p.set_defaults(func=_tickets("reissue_command"), needs=needs)
    p = verbs.add_parser("history", help="state, versions, holder and history")
    p.add_argument("ticket_id")
    p.set_defaults(func=_tickets("history_command"), needs=cfg.DATABASE + ("MINT_KEY_SECRET",))


def _add_webhooks(sub: argparse._SubParsersAction) -> None:
    hooks = sub.add_parser("webhooks", help="webhook endpoints and deliveries")
    verbs = hooks.add_subparsers(dest="verb", required=True)
    p = verbs.add_parser("list", help="endpoints, their status and deliveries by outcome")
    p.set_defaults(func=_webhooks("list_command"), needs=cfg.DATABASE)
    p = verbs.add_parser("replay", help="send an endpoint every event since a time again")
    p.add_argument("endpoint_id")
    p.add_argument("--since", required=True, help="ISO 8601 with a zone")
    p.set_defaults(func=_webhooks("replay_command"), needs=cfg.DATABASE + cfg.QUEUE)
    p = verbs.add_parser("test", help="send one signed webhook.test event now (exit 1: refused)")
    p.add_argument("endpoint_id")
    p.set_defaults(func=_webhooks("test_command"), needs=cfg.DATABASE + ("MINT_KEY_SECRET",))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    try:
        settings = cfg.load_settings(require=args.needs)
        configure_logging(fmt=settings.logging.format, level=settings.logging.level)
        return args.func(args, settings)
    except (SettingsError, ValidationError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001  (every failure gets its documented exit code)
        return _failed(exc)


def _failed(exc: Exception) -> int:
    """A dependency down is exit 3 with one line naming it; anything else is a bug (exit 4)."""
    dependency = unreachable(exc)
    if dependency is None:
        print(scrub("".join(traceback.format_exception(exc))), file=sys.stderr, end="")
        _err(f"unexpected {type(exc).__name__}; exit {EXIT_INTERNAL}")
        return EXIT_INTERNAL
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    _err(f"{dependency} unreachable: {scrub(first) or type(exc).__name__}")
    return EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(main())
