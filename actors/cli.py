"""The ``minter`` console command: parse, call one function, map errors to a line and exit code.

The command table is DESIGN.md's interface contract. Commands whose workflow has not landed yet
are listed as such and exit 2 with a message instead of pretending to work.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from actors import settings as cfg
from actors.errors import SettingsError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

NOT_YET = {
    "worker": "the exactly-once mint pipeline (issue 5)",
    "api": "the operations surface (issue 7)",
    "enqueue": "the exactly-once mint pipeline (issue 5)",
    "status": "the exactly-once mint pipeline (issue 5)",
    "transfer": "idempotent ticket transfers (issue 6)",
    "health": "the operations surface (issue 7)",
    "balance": "the operations surface (issue 7)",
    "reconcile": "the operations surface (issue 7)",
}


def _err(message: str) -> None:
    print(f"minter: {message}", file=sys.stderr)


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = cfg.load_settings(require=cfg.DATABASE)
    from ledger.migrate import upgrade

    upgrade(settings.database_url, revision=args.revision)
    print(f"database at revision {args.revision}")
    return EXIT_OK


def cmd_localnet(args: argparse.Namespace) -> int:
    from minter.localnet.cli import run

    return run(args)


def _not_yet(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        _err(f"'{name}' is not available in this build; it arrives with {NOT_YET[name]}")
        return EXIT_USAGE

    return run


def _add_localnet(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("localnet", help="the embedded Solana validator, in the foreground")
    try:
        from minter.localnet.cli import add_arguments
    except ImportError:  # the validator module has not landed in this build
        p.set_defaults(func=_not_yet_localnet)
        return
    add_arguments(p)
    p.set_defaults(func=cmd_localnet)


def _not_yet_localnet(args: argparse.Namespace) -> int:
    _err("'localnet' is not available in this build")
    return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minter",
        description="Mint one Solana NFT per sold ticket, exactly once, with a Postgres ledger.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_localnet(sub)

    p = sub.add_parser("migrate", help="alembic upgrade on DATABASE_URL")
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.set_defaults(func=cmd_migrate)

    def later(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=f"{help_text} (not in this build yet)")
        p.set_defaults(func=_not_yet(name))
        return p

    p = later("worker", "Dramatiq workers for all actors")
    p.add_argument("--processes", type=int)
    p.add_argument("--threads", type=int)
    p = later("api", "the HTTP service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p = later("enqueue", "record mint intent and enqueue it")
    p.add_argument("--ticket-id")
    p.add_argument("--owner")
    p.add_argument("--name")
    p.add_argument("--symbol")
    p.add_argument("--uri")
    p.add_argument("--standard", choices=cfg.STANDARDS)
    p.add_argument("--csv")
    p = later("status", "the ledger row and its chain state")
    p.add_argument("ticket_id")
    p = later("transfer", "record transfer intent and enqueue it")
    p.add_argument("--transfer-id", required=True)
    p.add_argument("--ticket-id", required=True)
    p.add_argument("--to", required=True)
    later("health", "cluster and dependency health")
    later("balance", "payer balance and how many more mints it pays for")
    p = later("reconcile", "ledger against chain")
    p.add_argument("--fix", action="store_true")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SettingsError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
