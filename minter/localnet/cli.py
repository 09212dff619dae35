"""``minter localnet``: the embedded validator in the foreground."""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading

from solders.pubkey import Pubkey

from minter.localnet.chain import LocalChain
from minter.localnet.pubsub import PubSub, bind
from minter.localnet.server import (
    DEFAULT_SLOT_MS,
    FAULTS,
    Faults,
    LocalnetServer,
    Node,
    Ticker,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8899
DEFAULT_PORT_TRIES = 20  # with --port 0: free HTTP ports tried until port + 1 is free too


def _program(value: str) -> tuple[Pubkey, str]:
    program_id, sep, path = value.partition("=")
    if not sep or not path:
        raise argparse.ArgumentTypeError("expected ID=PATH")
    try:
        return Pubkey.from_string(program_id), path
    except ValueError:
        raise argparse.ArgumentTypeError(f"{program_id!r} is not a program id") from None


def _fault(value: str) -> tuple[str, float]:
    name, sep, rate = value.partition("=")
    if not sep or name not in FAULTS:
        raise argparse.ArgumentTypeError(f"expected NAME=RATE with NAME one of {', '.join(FAULTS)}")
    try:
        return name, float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{rate!r} is not a number") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=DEFAULT_HOST)
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument(
        "--ws-port", type=int, default=None, help="PubSub port (default: port + 1; 0: a free one)"
    )
    p.add_argument("--slot-ms", type=int, default=DEFAULT_SLOT_MS, help="wall time per slot")
    p.add_argument(
        "--program",
        type=_program,
        action="append",
        default=[],
        metavar="ID=PATH",
        help="load a program binary (like solana-test-validator --bpf-program)",
    )
    p.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="NAME=RATE",
        help=f"inject a fault: {', '.join(FAULTS)}",
    )
    p.add_argument("--seed", type=int, default=None, help="seed of the fault RNG")


def run(args: argparse.Namespace) -> int:
    chain = LocalChain()
    for program_id, path in args.program:
        try:
            chain.svm.add_program_from_file(program_id, path)
        except Exception as exc:
            print(f"minter localnet: cannot load {path}: {exc}", file=sys.stderr)
            return 2
    node = Node(chain, Faults(dict(args.fault), seed=args.seed))
    try:
        server, sock = _listen(args, node)
    except OSError as exc:
        print(f"minter localnet: cannot listen: {exc}", file=sys.stderr)
        return 2
    pubsub = PubSub(chain, node.methods, sock, node.faults).start()
    node.pubsub = pubsub
    ticker = Ticker(chain, args.slot_ms)
    ticker.start()
    host, port = server.server_address[:2]
    ws_host, ws_port = pubsub.address
    print(f"localnet listening on http://{host}:{port}", flush=True)
    print(f"localnet pubsub on ws://{ws_host}:{ws_port}", flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        ticker.stopped.set()
        pubsub.stop()
        server.server_close()
    return 0


def _listen(args: argparse.Namespace, node: Node) -> tuple[LocalnetServer, socket.socket]:
    """The HTTP server and the PubSub socket; clients (web3.js) guess the latter at port + 1."""
    for _ in range(DEFAULT_PORT_TRIES):
        server = LocalnetServer((args.host, args.port), node)
        ws_port = args.ws_port
        if ws_port is None:
            ws_port = server.server_address[1] + 1
        try:
            return server, bind(args.host, ws_port)
        except OSError:
            server.server_close()
            if args.port != 0 or args.ws_port is not None:
                raise  # a port the user chose: no retry
    raise OSError(f"no free pair of ports after {DEFAULT_PORT_TRIES} tries")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="minter localnet", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
