"""Bodies of ``minter ticket check-in|invalidate|reissue|history``: the API's lifecycle
operations for ops (no venue scoping: the operator holds the service's own settings)."""

from __future__ import annotations

import argparse
import json
import sys

from actors.entrypoints.services import services_for
from actors.infra.config import Settings, reveal
from actors.infra.errors import IntentConflict
from actors.infra.exit_codes import EXIT_DIFFERS, EXIT_OK
from actors.workflows.tickets import AlreadyCheckedIn, TicketNotFound, operate, ticket_view
from minter.nft.operation import CHECK_IN, INVALIDATE, REISSUE


def _operate(kind: str, body: dict, args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings, chain=False)
    try:
        done = operate(
            kind,
            args.ticket_id,
            body,
            uow_factory=services.uow_factory,
            mint_secret=reveal(settings.signer.mint_key_secret),
            notify=services.notify_operations,
            actor="minter-cli",
        )
    except AlreadyCheckedIn as exc:
        print(
            f"minter: conflict: already checked in at {exc.first_checked_in_at} ({exc.gate})",
            file=sys.stderr,
        )
        return EXIT_DIFFERS
    except IntentConflict as exc:
        print(f"minter: conflict: {exc.field}: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    except TicketNotFound:
        print(f"minter: no ticket {args.ticket_id} in the ledger", file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        services.close()
    op = done.operation
    out = {
        "operation_id": op.operation_id,
        "ticket_id": op.ticket_id,
        "kind": op.kind,
        "version": op.version,
        "status": op.status,
        "state": done.ticket.state,
        "new": done.created,
    }
    print(json.dumps(out))
    return EXIT_OK


def check_in_command(args: argparse.Namespace, settings: Settings) -> int:
    body = {"operation_id": args.operation_id, "gate": args.gate}
    return _operate(CHECK_IN, body, args, settings)


def invalidate_command(args: argparse.Namespace, settings: Settings) -> int:
    body = {"operation_id": args.operation_id, "reason": args.reason}
    return _operate(INVALIDATE, body, args, settings)


def reissue_command(args: argparse.Namespace, settings: Settings) -> int:
    body = {"operation_id": args.operation_id}
    if args.owner:
        body["owner"] = args.owner
    return _operate(REISSUE, body, args, settings)


def history_command(args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings, chain=False, broker=False)
    try:
        view = ticket_view(
            args.ticket_id,
            uow_factory=services.uow_factory,
            mint_secret=reveal(settings.signer.mint_key_secret),
        )
    finally:
        services.close()
    if view is None:
        print(f"minter: no ticket {args.ticket_id} in the ledger", file=sys.stderr)
        return EXIT_DIFFERS
    print(json.dumps(view, indent=2, default=str))
    return EXIT_OK
