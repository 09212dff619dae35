"""JSON-RPC 2.0 over HTTP on loopback, a slot ticker, and fault injection.

Faults (probabilities 0..1, ``latency_ms`` a value), from ``--fault NAME=RATE`` or the admin
method ``localnet_setFaults`` at run time; one seeded RNG so a failing run can be replayed:

* ``drop_response``: execute a sendTransaction, then close the connection without answering
  (the client sees a dropped connection; the transaction landed).
* ``blockhash_not_found``: refuse a sendTransaction with BlockhashNotFound before executing it.
* ``http_429``: answer any request with HTTP 429 Too Many Requests.
* ``node_behind``: answer any request with error -32005 "Node is behind by N slots".
* ``latency_ms``: add that many milliseconds before every answer.
* ``send_rps``: a value: sendTransaction requests beyond that many in one second are answered
  HTTP 429 with ``Retry-After: 1``, as a rate-limited provider does (the point where 429s
  start, for the adaptive send rate to find).
* ``pubsub_drop``: drop a PubSub notification (the state it reports still changes).
* ``pubsub_delay_ms``: queue every PubSub notification that many milliseconds late.

Admin methods: ``localnet_setFaults`` (one object; replaces the set, ``{}`` clears; may carry a
``seed``), ``localnet_getFaults``, ``localnet_getStats``.
"""

from __future__ import annotations

import json
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from minter.localnet.chain import LocalChain
from minter.localnet.rpc import Methods, RpcError

FAULTS = (
    "drop_response",
    "blockhash_not_found",
    "http_429",
    "node_behind",
    "latency_ms",
    "send_rps",
    "pubsub_drop",
    "pubsub_delay_ms",
)
DEFAULT_SLOT_MS = 400
NODE_BEHIND_SLOTS = 42


class Faults:
    def __init__(self, rates: dict | None = None, *, seed: int | None = None) -> None:
        self.lock = threading.Lock()
        self.rates: dict[str, float] = {}
        self.rng = random.Random(seed)
        self._second, self._sends = 0, 0  # sendTransaction requests in the current second
        self.set(rates or {}, seed=seed)

    def set(self, rates: dict, *, seed: int | None = None) -> None:
        unknown = set(rates) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}; known: {', '.join(FAULTS)}")
        with self.lock:
            self.rates = {k: float(v) for k, v in rates.items() if float(v) > 0}
            if seed is not None:
                self.rng = random.Random(seed)

    def value(self, name: str) -> float:
        with self.lock:
            return self.rates.get(name, 0.0)

    def hit(self, name: str) -> bool:
        with self.lock:
            rate = self.rates.get(name, 0.0)
            return rate > 0 and self.rng.random() < rate

    @property
    def latency(self) -> float:
        return self.rates.get("latency_ms", 0.0) / 1000.0

    def over_send_rate(self, sends: int = 1) -> bool:
        """Count ``sends`` (one request, or a batch's items) in the current second; True when
        that is beyond ``send_rps`` (a provider counts each item of a batch)."""
        with self.lock:
            limit = self.rates.get("send_rps", 0.0)
            if not limit:
                return False
            second = int(time.monotonic())
            if second != self._second:
                self._second, self._sends = second, 0
            self._sends += sends
            return self._sends > limit


class _Drop(Exception):
    """Raised inside a handler to close the connection without an answer."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as clients expect
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls
    server: LocalnetServer

    def log_message(self, format, *args):  # noqa: A002 - quiet; stats say what happened
        pass

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        node = self.server.node
        try:
            request = json.loads(body)
        except ValueError:
            return self._json(200, _error(None, -32700, "Parse error"))
        delay = 0.0
        if not _is_admin(request):  # admin calls must work while faults are on
            delay = node.faults.latency  # slept before answering, after every draw is made
            sends = sum(map(_is_send, request)) if isinstance(request, list) else _is_send(request)
            if node.faults.hit("http_429") or (sends and node.faults.over_send_rate(sends)):
                node.chain.stats.refused["http_429"] += 1
                return self._send(
                    429,
                    b'{"error":{"code":429,"message":"Too many requests"}}',
                    headers={"Retry-After": "1"},
                )
        try:
            if isinstance(request, list):
                answer = (
                    node.chain.on_bank(lambda: [node.call(r) for r in request])
                    if request
                    else _error(None, -32600, "Invalid request")
                )
            else:
                answer = node.call(request)
        except _Drop:
            node.chain.stats.dropped_responses += 1
            self.close_connection = True
            time.sleep(delay)
            return None
        time.sleep(delay)
        return self._json(200, answer)

    def do_GET(self):  # noqa: N802 - /health as solana-test-validator serves it
        if self.path == "/health":
            return self._send(200, b"ok", "text/plain")
        return self._send(404, b"not found", "text/plain")

    def _json(self, code: int, payload) -> None:
        self._send(code, json.dumps(payload).encode())

    def _send(self, code: int, body: bytes, ctype: str = "application/json", headers=None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _is_send(request) -> bool:
    return isinstance(request, dict) and request.get("method") == "sendTransaction"


def _is_admin(request) -> bool:
    return isinstance(request, dict) and str(request.get("method", "")).startswith("localnet_")


def _error(req_id, code: int, message: str, data=None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "error": err, "id": req_id}


class Node:
    """The chain, its methods, and the fault policy in front of them."""

    def __init__(self, chain: LocalChain, faults: Faults) -> None:
        self.chain = chain
        self.faults = faults
        self.methods = Methods(chain)
        self.pubsub = None  # the PubSub server, when one runs: its counters join the stats

    def call(self, request) -> dict:
        if (
            not isinstance(request, dict)
            or request.get("jsonrpc") != "2.0"
            or "method" not in request
        ):
            return _error(None, -32600, "Invalid request")
        req_id, method, params = request.get("id"), request["method"], request.get("params")
        self.chain.stats.requests[method] += 1
        if method == "sendTransaction":
            self.chain.stats.send_requests += 1
        try:
            if method.startswith("localnet_"):
                return {"jsonrpc": "2.0", "result": self._admin(method, params), "id": req_id}
            if self.faults.hit("node_behind"):
                self.chain.stats.refused["node_behind"] += 1
                return _error(
                    req_id,
                    -32005,
                    f"Node is behind by {NODE_BEHIND_SLOTS} slots",
                    {"numSlotsBehind": NODE_BEHIND_SLOTS},
                )
            if method == "sendTransaction" and self.faults.hit("blockhash_not_found"):
                self.chain.stats.refused["blockhash_not_found"] += 1
                return _error(
                    req_id,
                    -32002,
                    "Transaction simulation failed: Blockhash not found",
                    {
                        "err": "BlockhashNotFound",
                        "logs": [],
                        "accounts": None,
                        "unitsConsumed": 0,
                        "returnData": None,
                        "innerInstructions": None,
                    },
                )
            handler = getattr(self.methods, method, None)
            if handler is None or method.startswith("_"):
                return _error(req_id, -32601, "Method not found")
            result = handler(params)
            if method == "sendTransaction" and self.faults.hit("drop_response"):
                raise _Drop
            return {"jsonrpc": "2.0", "result": result, "id": req_id}
        except RpcError as exc:
            return _error(req_id, exc.code, exc.message, exc.data)
        except (TypeError, ValueError, AttributeError):
            return _error(req_id, -32602, "Invalid params")

    def _admin(self, method: str, params):
        if method == "localnet_setFaults":
            (rates,) = params or [{}]
            rates = dict(rates or {})
            seed = rates.pop("seed", None)
            try:
                self.faults.set(rates, seed=seed)
            except ValueError as exc:
                raise RpcError(-32602, str(exc)) from None
            return self.faults.rates
        if method == "localnet_getFaults":
            return self.faults.rates
        if method == "localnet_getSlotTimes":  # [first, last] -> {slot: unix seconds, float}
            first, last = (int(x) for x in params)
            started = self.chain.slot_started
            return {str(n): started[n] for n in range(first, last + 1) if n in started}
        if method == "localnet_getStats":
            pubsub = self.pubsub.stats() if self.pubsub else None
            return {**self.chain.stats.as_json(), "slot": self.chain.slot, "pubsub": pubsub}
        raise RpcError(-32601, "Method not found")


class LocalnetServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], node: Node) -> None:
        super().__init__(address, _Handler)
        self.node = node


class Ticker(threading.Thread):
    """Advances one slot every ``slot_ms`` of wall time."""

    def __init__(self, chain: LocalChain, slot_ms: int) -> None:
        super().__init__(name="slot-ticker", daemon=True)
        self.chain, self.interval = chain, slot_ms / 1000.0
        self.stopped = threading.Event()

    def run(self) -> None:
        due = time.monotonic()
        while not self.stopped.is_set():
            due += self.interval
            self.stopped.wait(max(0.0, due - time.monotonic()))
            self.chain.advance()
