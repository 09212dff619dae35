"""A real webhook endpoint for tests: verifies Standard Webhooks signatures and misbehaves on
purpose (500s, stalls past the sender's timeout, downtime), recording every request it saw.

The sender POSTs `{"id", "type", "created_at", "sequence", "data"}` with the headers
webhook-id / webhook-timestamp / webhook-signature. A request is *authenticated* when its
signature verifies and body["id"] equals the webhook-id header; only authenticated requests
draw a fault and count in `requests_by_id()`.
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import httpx
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Answer = Literal["ok", "fail500", "stall", "bad_signature", "incomplete"]


@dataclass(frozen=True)
class Record:
    """One request as the receiver saw and answered it."""

    event_id: str | None
    type: str | None
    sequence: int | None
    subject: str | None  # data["ticket_id"], else "event:" + data["event_id"], else None
    answer: Answer
    status: int
    received_at: float  # time.monotonic()
    body: dict | None


def new_secret() -> str:
    """A fresh secret in the Standard Webhooks format: "whsec_" + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def signed_headers(secret: str, event_id: str, body: str, *, at: datetime | None = None) -> dict:
    """The three webhook-* headers for `body`, signed with `secret` at `at` (default: now)."""
    at = at or datetime.now(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, body),
        "content-type": "application/json",
    }


def forged_request(
    url: str,
    secret: str,
    body: dict,
    *,
    event_id: str,
    age_seconds: float = 0,
    wrong_secret: bool = False,
) -> int:
    """POST `body` (with "id" defaulting to `event_id`) signed `age_seconds` ago, with `secret`
    or, if `wrong_secret`, with another one; return the status code (401 for a forgery)."""
    text = json.dumps({"id": event_id, **body})
    key = new_secret() if wrong_secret else secret
    at = datetime.now(UTC) - timedelta(seconds=age_seconds)
    response = httpx.post(url, content=text, headers=signed_headers(key, event_id, text, at=at))
    return response.status_code


def _subject(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if data.get("ticket_id") is not None:
        return str(data["ticket_id"])
    if data.get("event_id") is not None:
        return f"event:{data['event_id']}"
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # going down never waits for a stalled answer
    request_queue_size = 128
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (broken pipe) is expected; stay quiet


class Receiver:
    """A webhook endpoint on 127.0.0.1 that verifies every request with standardwebhooks and can
    misbehave on purpose.

    Per authenticated request, draws from a seeded RNG: with probability `timeout_rate` it records
    "stall", sleeps `stall` seconds, then answers 200 (the sender has given up by then: a
    deliberate failure); else with probability `fail_rate` it answers 500 ("fail500"); else 200
    ("ok"). A bad/late signature answers 401, an id mismatch or non-JSON body 400; both record
    "bad_signature". A body shorter than its Content-Length (the sender died while writing it)
    records "incomplete" and is not answered.
    """

    def __init__(
        self,
        secret: str,
        *,
        fail_rate: float = 0.0,
        timeout_rate: float = 0.0,
        stall: float = 2.0,
        seed: int = 0,
        port: int = 0,
    ) -> None:
        self.secret = secret
        self.fail_rate = fail_rate
        self.timeout_rate = timeout_rate
        self.stall = stall
        self.port = port
        self.records: list[Record] = []
        self._webhook = Webhook(secret)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Receiver:
        """Listen (on `port`, or a free one when 0) and serve in a daemon thread."""
        self.come_up()
        return self

    def stop(self) -> None:
        """Stop listening; the records stay."""
        self.go_down()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def go_down(self) -> None:
        """Close the listening socket (connections are refused); keep records and the port."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def come_up(self, *, bind_timeout: float = 5.0) -> None:
        """Listen again on the same port, retrying the bind briefly (SO_REUSEADDR is set)."""
        if self._server is not None:
            return
        deadline = time.monotonic() + bind_timeout
        while True:
            try:
                server = _Server(("127.0.0.1", self.port), self._handler_class())
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"webhook-receiver-{self.port}",
        )
        self._thread.start()

    def use_secret(self, secret: str) -> None:
        """Verify with ``secret`` from now on (an endpoint's, known once it is registered)."""
        self._webhook = Webhook(secret)

    def set_faults(
        self, *, fail_rate: float | None = None, timeout_rate: float | None = None
    ) -> None:
        """Change the fault rates for the requests that arrive from now on."""
        with self._lock:
            if fail_rate is not None:
                self.fail_rate = fail_rate
            if timeout_rate is not None:
                self.timeout_rate = timeout_rate

    # -- request handling --------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # one request per connection: down means down

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if len(raw) < length:  # the connection closed mid-body: nothing to verify
                    receiver._record(None, "incomplete", 0, time.monotonic())
                    return
                status = receiver._handle(raw, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def _handle(self, raw: bytes, headers: dict[str, str]) -> int:
        """Verify, decide, record; return the status to answer (after any stall)."""
        arrived = time.monotonic()
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        try:
            self._webhook.verify(text, headers, json_parse=False)
            status = 400 if body is None or body.get("id") != headers.get("webhook-id") else 0
        except (WebhookVerificationError, ValueError):  # ValueError: malformed signature header
            status = 401
        if status:
            self._record(body, "bad_signature", status, arrived)
            return status
        with self._lock:
            stall_draw, fail_draw = self._rng.random(), self._rng.random()
            stall, fail = stall_draw < self.timeout_rate, fail_draw < self.fail_rate
        if stall:
            self._record(body, "stall", 200, arrived)
            time.sleep(self.stall)
            return 200
        answer, status = ("fail500", 500) if fail else ("ok", 200)
        self._record(body, answer, status, arrived)
        return status

    def _record(self, body: dict | None, answer: Answer, status: int, arrived: float) -> None:
        b = body or {}
        seq = b.get("sequence")
        record = Record(
            event_id=b.get("id") if isinstance(b.get("id"), str) else None,
            type=b.get("type") if isinstance(b.get("type"), str) else None,
            sequence=seq if isinstance(seq, int) else None,
            subject=_subject(b.get("data")),
            answer=answer,
            status=status,
            received_at=arrived,
            body=body,
        )
        with self._lock:
            self.records.append(record)

    # -- queries -----------------------------------------------------------------------------

    def snapshot(self) -> list[Record]:
        """A copy of the records, in arrival order."""
        with self._lock:
            return list(self.records)

    def ok_ids(self) -> set[str]:
        """Event ids answered "ok" at least once."""
        return {r.event_id for r in self.snapshot() if r.answer == "ok" and r.event_id}

    def requests_by_id(self) -> dict[str, int]:
        """Authenticated requests per event id (bad signatures count in `bad_signatures()`)."""
        counts: dict[str, int] = {}
        for r in self.snapshot():
            if r.event_id and r.answer != "bad_signature":
                counts[r.event_id] = counts.get(r.event_id, 0) + 1
        return counts

    def failures_by_id(self) -> dict[str, int]:
        """Deliberate failures ("fail500" or "stall") per event id."""
        counts: dict[str, int] = {}
        for r in self.snapshot():
            if r.event_id and r.answer in ("fail500", "stall"):
                counts[r.event_id] = counts.get(r.event_id, 0) + 1
        return counts

    def bad_signatures(self) -> int:
        """Requests refused as unauthenticated (401 or 400)."""
        return sum(1 for r in self.snapshot() if r.answer == "bad_signature")

    def incomplete(self) -> int:
        """Requests whose sender died before its body was written whole."""
        return sum(1 for r in self.snapshot() if r.answer == "incomplete")

    def out_of_order(self) -> list[tuple[str, int, int]]:
        """(subject, earlier_seq, later_seq) wherever, among the first "ok" of each event id in
        arrival order, a subject's sequence went below the highest one already seen."""
        seen: set[str] = set()
        high: dict[str, int] = {}
        found: list[tuple[str, int, int]] = []
        for r in self.snapshot():
            if r.answer != "ok" or not r.event_id or r.event_id in seen:
                continue
            seen.add(r.event_id)
            if r.subject is None or r.sequence is None:
                continue
            top = high.get(r.subject)
            if top is not None and r.sequence < top:
                found.append((r.subject, top, r.sequence))
            else:
                high[r.subject] = r.sequence
        return found

    def wait_for(self, ids: set[str], *, timeout: float) -> set[str]:
        """Poll until every id has an "ok" (or `timeout` seconds pass); return the missing ids."""
        deadline = time.monotonic() + timeout
        while True:
            missing = set(ids) - self.ok_ids()
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.05)
