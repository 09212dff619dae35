"""Bodies of ``minter event put`` and ``minter event show``: parse, call one workflow, print."""

from __future__ import annotations

import argparse
import json
import sys

from actors.entrypoints.services import services_for
from actors.infra.config import Settings, reveal
from actors.infra.errors import IntentConflict
from actors.infra.exit_codes import EXIT_DIFFERS, EXIT_OK
from actors.workflows.collections import get_event, put_event
from minter.errors import ValidationError
from minter.nft.flat import int_cell
from minter.nft.request import MAX_EXTRA, id_rule, is_identifier


def _body(args: argparse.Namespace) -> dict:
    """The flags in the JSON form of ``PUT /v1/events/{id}``: numbers as the API takes them."""
    body: dict = {
        "name": args.name,
        "symbol": args.symbol,
        "uri": args.uri,
        "venue_id": args.venue_id,
        "seller_fee_basis_points": int_cell(args.seller_fee_basis_points)
        if args.seller_fee_basis_points is not None
        else None,
        "capacity": int_cell(args.capacity) if args.capacity is not None else None,
        "transfer_policy": args.transfer_policy,
        "standard": args.standard,
    }
    if args.creator:
        body["creators"] = []
        for item in args.creator:
            address, _, share = item.partition(":")
            body["creators"].append({"address": address, "share": int_cell(share)})
    return {k: v for k, v in body.items() if v is not None}


def _check_id(event_id: str) -> None:
    if not is_identifier(event_id, limit=MAX_EXTRA):
        raise ValidationError("event_id", f"must be {id_rule(MAX_EXTRA)}")


def put_command(args: argparse.Namespace, settings: Settings) -> int:
    _check_id(args.event_id)
    services = services_for(settings, chain=False)
    try:
        put_event(
            args.event_id,
            _body(args),
            uow_factory=services.uow_factory,
            mint_secret=reveal(settings.signer.mint_key_secret),
            notify=services.notify_collections,
        )
        event = get_event(args.event_id, uow_factory=services.uow_factory)
    except IntentConflict as exc:
        print(f"minter: conflict: {exc.field}: {exc}", file=sys.stderr)
        return EXIT_DIFFERS
    finally:
        services.close()
    print(json.dumps(event, indent=2, default=str))
    return EXIT_OK


def show_command(args: argparse.Namespace, settings: Settings) -> int:
    services = services_for(settings, chain=False, broker=False)
    try:
        event = None
        if is_identifier(args.event_id, limit=MAX_EXTRA):
            event = get_event(args.event_id, uow_factory=services.uow_factory)
    finally:
        services.close()
    if event is None:
        print(f"minter: no event {args.event_id}", file=sys.stderr)
        return EXIT_DIFFERS
    print(json.dumps(event, indent=2, default=str))
    return EXIT_OK
