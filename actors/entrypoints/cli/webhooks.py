"""Bodies of ``minter webhooks list|replay|test``: parse, call one workflow, print."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from actors.entrypoints import services as wiring
from actors.entrypoints.http.webhooks import parse_since
from actors.infra.config import Settings
from actors.infra.exit_codes import EXIT_DIFFERS, EXIT_OK, EXIT_USAGE
from actors.workflows.webhooks import endpoints


def list_command(args: argparse.Namespace, settings: Settings) -> int:
    services = wiring.services_for(settings, chain=False, broker=False)
    try:
        rows = endpoints.list_endpoints(uow_factory=services.uow_factory)
    finally:
        services.close()
    print(json.dumps(rows, indent=2))
    return EXIT_OK


def replay_command(args: argparse.Namespace, settings: Settings) -> int:
    since = parse_since(args.since)
    if since is None:
        print("minter: --since must be an ISO 8601 time with a zone", file=sys.stderr)
        return EXIT_USAGE
    services = wiring.services_for(settings, chain=False)
    try:
        n = endpoints.replay(
            args.endpoint_id, since, uow_factory=services.uow_factory, wake=services.notify_webhooks
        )
    finally:
        services.close()
    if n is None:
        print(f"minter: no webhook endpoint {args.endpoint_id}", file=sys.stderr)
        return EXIT_DIFFERS
    print(json.dumps({"id": args.endpoint_id, "replayed": n}))
    return EXIT_OK


def test_command(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 when the endpoint answered 2xx in time, 1 otherwise."""
    services = wiring.services_for(settings, chain=False, broker=False)
    sender = wiring.sender(settings)
    try:
        result = endpoints.send_test(
            args.endpoint_id,
            uow_factory=services.uow_factory,
            sender=sender,
            secret_for=wiring.secret_for(settings),
        )
    finally:
        sender.close()
        services.close()
    if result is None:
        print(f"minter: no webhook endpoint {args.endpoint_id}", file=sys.stderr)
        return EXIT_DIFFERS
    print(json.dumps(asdict(result)))
    return EXIT_OK if result.delivered else EXIT_DIFFERS
