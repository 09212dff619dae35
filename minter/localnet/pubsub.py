"""Solana PubSub JSON-RPC over WebSocket (RPC port + 1), driven by :class:`LocalChain`'s events.

Methods: signatureSubscribe, slotSubscribe, rootSubscribe, accountSubscribe, logsSubscribe,
programSubscribe (filters dataSize and memcmp) and their ``*Unsubscribe`` (true, or false for
an unknown id). Shapes are the real node's: the subscribe answer is the subscription id;
notifications are ``<x>Notification`` with ``{"result": ..., "subscription": id}``.

The chain calls :meth:`PubSub.on_slot` and :meth:`PubSub.on_transaction` under its lock, after
its state changed, so a notification for a level is queued only once getSignatureStatuses
already reports that level. Lock order: the chain's lock, then this server's. The server's
Faults (``pubsub_drop``, ``pubsub_delay_ms``) apply to notifications, never to answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading

from solders.pubkey import Pubkey
from solders.signature import Signature
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from minter.localnet.chain import LocalChain
from minter.localnet.pubsub_kinds import (
    COMMITMENTS,
    DEFAULT_COMMITMENT,
    Conn,
    InvalidParams,
    Sub,
    logs_filter,
    logs_value,
    logs_wants,
    program_filters,
    program_matches,
)
from minter.localnet.pubsub_kinds import error as _error
from minter.localnet.pubsub_kinds import notify as _notify
from minter.localnet.pubsub_kinds import reached as _reached
from minter.localnet.pubsub_kinds import result as _result
from minter.localnet.rpc import Methods, RpcError

DEFAULT_ACCOUNT_ENCODING = "base64"  # as this server's getAccountInfo
DEFAULT_START_TIMEOUT = 10.0  # seconds to wait for the event loop thread to listen
# quiet like the HTTP side (its log_message is off): only warnings; the stats say what happened
LOG = logging.getLogger("minter.localnet.pubsub")
LOG.setLevel(logging.WARNING)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, bound now so the caller learns at once whether the port is free."""
    sock = socket.create_server((host, port), reuse_port=False)
    sock.setblocking(False)
    return sock


class PubSub:
    def __init__(
        self, chain: LocalChain, methods: Methods, sock: socket.socket, faults=None
    ) -> None:
        self.chain, self.methods, self.sock = chain, methods, sock
        self.faults = faults  # server.Faults: pubsub_drop, pubsub_delay_ms
        self.lock = threading.Lock()
        self.subs: dict[int, Sub] = {}
        self.by_signature: dict[Signature, set[int]] = {}
        self.by_account: dict[Pubkey, set[int]] = {}
        self.connections = 0
        self.sent: dict[str, int] = {}  # notifications by method, for tests and the benchmark
        self.next_id = 1
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="pubsub", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()[:2]

    def start(self) -> PubSub:
        self.chain.listeners.append(self)
        self._thread.start()
        if not self._ready.wait(DEFAULT_START_TIMEOUT):
            raise RuntimeError("pubsub server did not start")
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(DEFAULT_START_TIMEOUT)

    def stats(self) -> dict:
        with self.lock:
            return {
                "connections": self.connections,
                "subscriptions": len(self.subs),
                "notifications": dict(self.sent),
            }

    # event loop ------------------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._client, sock=self.sock, logger=LOG):
            self._ready.set()
            await self._stop.wait()

    async def _client(self, ws: ServerConnection) -> None:
        conn = Conn(self.loop)
        with self.lock:
            self.connections += 1
        writer = asyncio.create_task(self._write(ws, conn))
        try:
            async for raw in ws:
                answer = self._handle(conn, raw)
                if answer is not None:
                    conn.outbox.put_nowait(json.dumps(answer))
        except ConnectionClosed:
            pass
        finally:
            with self.lock:  # a client that leaves frees its subscriptions
                self.connections -= 1
                for sub_id in list(conn.subs):
                    self._drop(sub_id)
            writer.cancel()

    async def _write(self, ws: ServerConnection, conn: Conn) -> None:
        while True:
            message = await conn.outbox.get()
            try:
                await ws.send(message)
            except ConnectionClosed:
                return

    # requests --------------------------------------------------------------------------------
    def _handle(self, conn: Conn, raw) -> dict | None:
        try:
            request = json.loads(raw)
        except ValueError:
            return _error(None, -32700, "Parse error")
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return _error(None, -32600, "Invalid request")
        if "id" not in request:
            return None  # a notification (web3.js sends "ping" ones): no answer
        req_id, method = request["id"], request.get("method")
        params = request.get("params") or []
        handler = _METHODS.get(method)
        if handler is None:
            return _error(req_id, -32601, "Method not found")
        try:
            # the subscribe answer goes out before any notification of that subscription
            return handler(self, conn, req_id, list(params))
        except RpcError as exc:
            return _error(req_id, exc.code, exc.message, exc.data)
        except InvalidParams as exc:
            return _error(req_id, -32602, str(exc))
        except (TypeError, ValueError, AttributeError, IndexError):
            return _error(req_id, -32602, "Invalid params")

    def _new(self, conn: Conn, kind: str, opts, **kw) -> Sub:
        opts = opts if isinstance(opts, dict) else {}
        commitment = opts.get("commitment") or DEFAULT_COMMITMENT
        if commitment not in COMMITMENTS:
            raise RpcError(-32602, f"Invalid params: unknown commitment {commitment!r}")
        sub = Sub(self.next_id, kind, conn, commitment, **kw)
        self.next_id += 1
        return sub

    def _add(self, sub: Sub) -> None:
        self.subs[sub.id] = sub
        sub.conn.subs.add(sub.id)
        if sub.kind == "signature":
            self.by_signature.setdefault(sub.key, set()).add(sub.id)
        elif sub.kind == "account":
            self.by_account.setdefault(sub.key, set()).add(sub.id)

    def _drop(self, sub_id: int) -> Sub | None:
        sub = self.subs.pop(sub_id, None)
        if sub is None:
            return None
        sub.conn.subs.discard(sub_id)
        index = {"signature": self.by_signature, "account": self.by_account}.get(sub.kind)
        if index is not None and sub.key in index:
            index[sub.key].discard(sub_id)
            if not index[sub.key]:
                del index[sub.key]
        return sub

    def signature_subscribe(self, conn, req_id, params):
        sig = Signature.from_string(params[0])
        opts = params[1] if len(params) > 1 else None
        received = bool(isinstance(opts, dict) and opts.get("enableReceivedNotification"))
        with self.chain.lock, self.lock:  # status and registration at one instant
            sub = self._new(conn, "signature", opts, key=sig, received=received)
            conn.outbox.put_nowait(json.dumps(_result(req_id, sub.id)))
            status = self.chain.status(sig)
            if status is not None and _reached(status["confirmationStatus"], sub.commitment):
                # already there: the real node still notifies once
                self._send(conn, self._signature_done(sub, status))
            else:
                self._add(sub)
        return None

    def account_subscribe(self, conn, req_id, params):
        key = Pubkey.from_string(params[0])
        opts = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = opts.get("encoding") or DEFAULT_ACCOUNT_ENCODING
        if encoding not in ("base64", "base58", "jsonParsed"):
            raise RpcError(-32602, f"Invalid params: unsupported encoding {encoding!r}")
        with self.lock:
            sub = self._new(conn, "account", opts, key=key, encoding=encoding)
            self._add(sub)
        return _result(req_id, sub.id)

    def logs_subscribe(self, conn, req_id, params):
        key = logs_filter(params[0])
        opts = params[1] if len(params) > 1 else None
        with self.lock:
            sub = self._new(conn, "logs", opts, key=key)
            self._add(sub)
        return _result(req_id, sub.id)

    def program_subscribe(self, conn, req_id, params):
        program = Pubkey.from_string(params[0])
        opts = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
        encoding = opts.get("encoding") or DEFAULT_ACCOUNT_ENCODING
        if encoding not in ("base64", "base58", "jsonParsed"):
            raise RpcError(-32602, f"Invalid params: unsupported encoding {encoding!r}")
        filters = program_filters(opts)
        with self.lock:
            sub = self._new(conn, "program", opts, key=(program, filters), encoding=encoding)
            self._add(sub)
        return _result(req_id, sub.id)

    def slot_subscribe(self, conn, req_id, params):
        with self.lock:
            sub = self._new(conn, "slot", None)
            self._add(sub)
        return _result(req_id, sub.id)

    def root_subscribe(self, conn, req_id, params):
        with self.lock:
            sub = self._new(conn, "root", None)
            self._add(sub)
        return _result(req_id, sub.id)

    # chain events (under the chain's lock) ---------------------------------------------------
    def on_transaction(self, sig: Signature, slot: int, keys) -> None:
        with self.lock:
            for sub_id in list(self.by_signature.get(sig, ())):
                sub = self.subs[sub_id]
                if sub.received:
                    sub.received = False
                    self._send(sub.conn, _notify("signature", sub.id, slot, "receivedSignature"))
                if sub.commitment == "processed":
                    self._send(sub.conn, self._signature_done(sub, self.chain.status(sig)))
                    self._drop(sub_id)
            self._logs_on_transaction(sig, slot, keys)
            self._program_on_transaction(slot, keys)
            for key in keys:
                ids = self.by_account.get(key)
                if not ids:
                    continue
                account = self.chain.account(key)
                for sub_id in ids:
                    sub = self.subs[sub_id]
                    if sub.commitment == "processed":
                        self._send(sub.conn, self._account_note(sub, slot, account))
                    elif sub.pending and sub.pending[-1][0] == slot:
                        sub.pending[-1] = (slot, account)  # one notification per slot
                    else:
                        sub.pending.append((slot, account))

    def _logs_on_transaction(self, sig, slot: int, keys) -> None:
        record = None
        for sub in list(self.subs.values()):
            if sub.kind != "logs" or not logs_wants(sub, keys):
                continue
            record = record or self.chain.record(sig)
            if record is None:
                return
            value = logs_value(sig, record)
            if sub.commitment == "processed":
                self._send(sub.conn, _notify("logs", sub.id, slot, value))
            else:
                sub.pending.append((slot, value))

    def _program_on_transaction(self, slot: int, keys) -> None:
        subs = [s for s in self.subs.values() if s.kind == "program"]
        for key in keys if subs else ():
            account = self.chain.account(key)
            if account is None:
                continue  # closed: no longer the program's
            for sub in subs:
                program, filters = sub.key
                if account.owner != program or not program_matches(filters, bytes(account.data)):
                    continue
                if sub.commitment == "processed":
                    self._send(sub.conn, self._program_note(sub, slot, key, account))
                elif sub.pending and sub.pending[-1][:2] == (slot, key):
                    sub.pending[-1] = (slot, key, account)  # one notification per slot
                else:
                    sub.pending.append((slot, key, account))

    def _program_note(self, sub: Sub, slot: int, key, account) -> dict:
        value = {"pubkey": str(key), "account": self.methods._account_json(account, sub.encoding)}
        return _notify("program", sub.id, slot, value)

    def on_slot(self, slot: int) -> None:
        root = self.chain.commitment_slot("finalized")
        with self.lock:
            for sub in list(self.subs.values()):
                if sub.kind == "slot":
                    value = {"parent": slot - 1, "root": root, "slot": slot}
                    self._send(sub.conn, _notify("slot", sub.id, None, value))
                elif sub.kind == "root" and root > 0:
                    self._send(sub.conn, _notify("root", sub.id, None, root))
                elif sub.kind == "signature" and sub.commitment != "processed":
                    status = self.chain.status(sub.key)
                    if status and _reached(status["confirmationStatus"], sub.commitment):
                        self._send(sub.conn, self._signature_done(sub, status))
                        self._drop(sub.id)
                elif sub.kind == "account" and sub.pending:
                    level = self.chain.commitment_slot(sub.commitment)
                    while sub.pending and sub.pending[0][0] <= level:
                        _, account = sub.pending.pop(0)
                        self._send(sub.conn, self._account_note(sub, level, account))
                elif sub.kind == "program" and sub.pending:
                    level = self.chain.commitment_slot(sub.commitment)
                    while sub.pending and sub.pending[0][0] <= level:
                        _, key, account = sub.pending.pop(0)
                        self._send(sub.conn, self._program_note(sub, level, key, account))
                elif sub.kind == "logs" and sub.pending:
                    level = self.chain.commitment_slot(sub.commitment)
                    while sub.pending and sub.pending[0][0] <= level:
                        tx_slot, value = sub.pending.pop(0)
                        self._send(sub.conn, _notify("logs", sub.id, tx_slot, value))

    def _send(self, conn: Conn, message: dict) -> None:
        """Queue a notification (the caller holds the lock) and count it; faults may drop it."""
        if self.faults is not None and self.faults.hit("pubsub_drop"):
            self.sent["dropped"] = self.sent.get("dropped", 0) + 1
            return
        self.sent[message["method"]] = self.sent.get(message["method"], 0) + 1
        delay = self.faults.value("pubsub_delay_ms") / 1000.0 if self.faults else 0.0
        conn.push(message, delay)

    def _signature_done(self, sub: Sub, status: dict) -> dict:
        # context.slot: the slot of the bank at the asked commitment, as on the real node
        slot = self.chain.commitment_slot(sub.commitment)
        return _notify("signature", sub.id, slot, {"err": status["err"]})

    def _account_note(self, sub: Sub, slot: int, account) -> dict:
        value = self.methods._account_json(account, sub.encoding)
        if value is None:  # closed: the real node sends the empty system-owned account
            value = {
                "data": ["", sub.encoding if sub.encoding != "jsonParsed" else "base64"],
                "executable": False,
                "lamports": 0,
                "owner": "11111111111111111111111111111111",
                "rentEpoch": 0,
                "space": 0,
            }
        return _notify("account", sub.id, slot, value)


def _unsubscriber(kind: str):
    """The ``<kind>Unsubscribe`` method: true if this client held that subscription."""

    def unsubscribe(self, conn, req_id, params):
        sub_id = params[0]
        with self.lock:
            sub = self.subs.get(sub_id)
            ok = sub is not None and sub.kind == kind and sub.conn is conn
            if ok:
                self._drop(sub_id)
        return _result(req_id, ok)

    return unsubscribe


_METHODS = {
    "signatureSubscribe": PubSub.signature_subscribe,
    "accountSubscribe": PubSub.account_subscribe,
    "slotSubscribe": PubSub.slot_subscribe,
    "rootSubscribe": PubSub.root_subscribe,
    "logsSubscribe": PubSub.logs_subscribe,
    "programSubscribe": PubSub.program_subscribe,
    **{
        f"{kind}Unsubscribe": _unsubscriber(kind)
        for kind in ("signature", "account", "slot", "root", "logs", "program")
    },
}
