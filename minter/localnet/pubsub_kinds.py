"""PubSub building blocks: the subscription record, a client's outbox, message shapes, and the
``logsSubscribe`` kind (``"all"`` or ``{"mentions": [one address]}``).

A logs subscription at ``processed`` is notified as the transaction executes; at a higher
commitment its notifications wait in ``pending`` until that level reaches the transaction's slot.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field

from solders.pubkey import Pubkey

COMMITMENTS = ("processed", "confirmed", "finalized")
DEFAULT_COMMITMENT = "finalized"  # the real node's default, used when a client sends none


@dataclass
class Sub:
    id: int
    kind: str  # "signature", "slot", "root", "account", "logs", "program"
    conn: Conn
    commitment: str = DEFAULT_COMMITMENT
    key: object = None  # Signature, Pubkey; logs: Pubkey or None ("all"); program: (id, filters)
    encoding: str | None = None
    received: bool = False  # signature: send "receivedSignature" first
    pending: list = field(default_factory=list)  # account/logs: [(slot, value)]


class Conn:
    """One client: its outbox (drained in order by a writer task) and its subscriptions."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.subs: set[int] = set()

    def push(self, message: dict, delay: float = 0.0) -> None:
        """Queue from any thread; the loop keeps the order of pushes (``delay`` seconds late)."""
        text = json.dumps(message)
        if delay > 0:
            later = self.loop.call_later
            self.loop.call_soon_threadsafe(later, delay, self.outbox.put_nowait, text)
        else:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, text)


class InvalidParams(ValueError):
    pass


def logs_filter(spec) -> Pubkey | None:
    """``"all"`` -> None; ``{"mentions": [address]}`` -> that address (exactly one, as the node)."""
    if spec in ("all", "allWithVotes"):
        return None
    if isinstance(spec, dict) and isinstance(spec.get("mentions"), list):
        mentions = spec["mentions"]
        if len(mentions) != 1:
            raise InvalidParams("Invalid Request: Only 1 address supported")
        return Pubkey.from_string(mentions[0])
    raise InvalidParams("Invalid params")


def logs_value(sig, record) -> dict:
    return {"signature": str(sig), "err": record.err, "logs": list(record.logs)}


def logs_wants(sub: Sub, keys) -> bool:
    return sub.key is None or sub.key in keys


def reached(level: str, wanted: str) -> bool:
    return COMMITMENTS.index(level) >= COMMITMENTS.index(wanted)


def result(req_id, value) -> dict:
    return {"jsonrpc": "2.0", "result": value, "id": req_id}


def error(req_id, code: int, message: str, data=None) -> dict:
    err = {"code": code, "message": message}
    if data is not None:
        err["data"] = data
    return {"jsonrpc": "2.0", "error": err, "id": req_id}


def notify(kind: str, sub_id: int, slot: int | None, value) -> dict:
    # slot and root notifications carry the bare value; the others a context
    res = value if slot is None else {"context": {"slot": slot}, "value": value}
    return {
        "jsonrpc": "2.0",
        "method": f"{kind}Notification",
        "params": {"result": res, "subscription": sub_id},
    }


def program_filters(opts: dict) -> list[tuple]:
    """``filters`` as getProgramAccounts takes them: ``[("size", n) | ("memcmp", off, bytes)]``."""
    out: list[tuple] = []
    for f in opts.get("filters") or []:
        if isinstance(f, dict) and isinstance(f.get("dataSize"), int):
            out.append(("size", f["dataSize"]))
        elif isinstance(f, dict) and isinstance(f.get("memcmp"), dict):
            m = f["memcmp"]
            encoding = m.get("encoding") or "base58"
            if encoding == "base58":
                raw = _b58decode(m["bytes"])
            elif encoding == "base64":
                raw = base64.b64decode(m["bytes"])
            else:
                raise InvalidParams(f"Invalid params: unsupported memcmp encoding {encoding!r}")
            out.append(("memcmp", int(m["offset"]), raw))
        else:
            raise InvalidParams("Invalid params: unknown filter")
    return out


def program_matches(filters: list[tuple], data: bytes) -> bool:
    for f in filters:
        if f[0] == "size" and len(data) != f[1]:
            return False
        if f[0] == "memcmp" and data[f[1] : f[1] + len(f[2])] != f[2]:
            return False
    return True


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body
