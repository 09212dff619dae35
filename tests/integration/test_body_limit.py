"""The body limit under a real uvicorn server: oversized bodies are refused while they stream.

A small FastAPI app (a POST route that echoes the size and hash of its body) runs behind
:class:`actors.entrypoints.http.body_limit.BodyLimit` in a uvicorn server on a free loopback
port, in a thread.
A raw socket client sends chunked bodies and looks for an answer between chunks, as a server
that answers early and closes would make a naive client fail on write. The last tests drive the
middleware directly, for what no HTTP/1.1 parser lets through and for how much it reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI, Request

from actors.entrypoints.http.body_limit import DEFAULT_MAX_BODY, BodyLimit
from devtools.local_services import free_port
from scripts.bench_body_limit import body_chunks, post_chunked

LIMIT = DEFAULT_MAX_BODY
BIG = 50_000_000  # bytes: a body the server must never hold


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request):
        body = await request.body()
        return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    app.add_middleware(BodyLimit, max_body=LIMIT)
    return app


@pytest.fixture(scope="module")
def port():
    port = free_port()
    config = uvicorn.Config(
        echo_app(), host="127.0.0.1", port=port, log_level="warning", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(10)


def raw_request(port: int, head: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request written as is (headers the client libraries would refuse to send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        data = b""
        while part := sock.recv(65536):
            data += part
    head_out, _, body_out = data.partition(b"\r\n\r\n")
    return int(head_out.split()[1]), body_out


def random_chunks(total: int, chunk: int) -> tuple[list[bytes], bytes]:
    data = os.urandom(total)
    return [data[i : i + chunk] for i in range(0, total, chunk)], data


def test_a_50_mb_chunked_body_is_refused_early(port):
    reply = post_chunked(port, body_chunks(BIG, 64 * 1024))
    assert reply.status == 413
    assert json.loads(reply.body) == {"detail": f"body over {LIMIT} bytes"}
    assert reply.headers["connection"] == "close"
    # answered long before the end: only what fits in the loopback socket buffers was sent
    assert not reply.finished and reply.sent < BIG // 2, reply.sent


@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT], ids=["just-under", "exactly-at"])
def test_a_chunked_body_within_the_limit_reaches_the_route_intact(port, size):
    chunks, data = random_chunks(size, 1000)
    reply = post_chunked(port, chunks)
    assert reply.status == 200 and reply.finished
    assert json.loads(reply.body) == {"bytes": size, "sha256": hashlib.sha256(data).hexdigest()}


def test_one_byte_over_the_limit_is_refused(port):
    chunks, _ = random_chunks(LIMIT + 1, 1000)
    reply = post_chunked(port, chunks)
    assert reply.status == 413


def test_a_declared_length_over_the_limit_is_refused_before_the_body(port):
    status, body = raw_request(port, f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {BIG}")
    assert status == 413 and json.loads(body) == {"detail": f"body over {LIMIT} bytes"}
    status, body = raw_request(
        port,
        f"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {LIMIT}",
        b"y" * LIMIT,
    )
    assert status == 200 and json.loads(body)["bytes"] == LIMIT


def test_chunked_wins_over_a_small_declared_length(port):
    # RFC 9112 6.3: Transfer-Encoding decides the framing (h11 passes both headers on), so the
    # declared 10 must not let a chunked body through uncounted, as the middleware this
    # replaces did.
    reply = post_chunked(port, body_chunks(BIG, 64 * 1024), headers={"Content-Length": "10"})
    assert reply.status == 413


def test_a_malformed_length_is_400_from_the_server(port):
    # uvicorn's parser (h11) refuses it before any app runs, with 400 and a close, as RFC 9112
    # 6.3 asks; the middleware answers the same where a server lets one through (below).
    for value in ("abc", "-1", "1e3", "10, 11"):
        status, _ = raw_request(port, f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {value}")
        assert status == 400, value


# --- the middleware alone: what no HTTP/1.1 parser passes on, and how much it reads ----------


class Recorder:
    """An ASGI server stand-in: hands out ``messages`` one by one and records what is sent."""

    def __init__(self, messages: list[dict]) -> None:
        self.messages = list(messages)
        self.taken = 0
        self.sent: list[dict] = []

    async def receive(self) -> dict:
        self.taken += 1
        return self.messages.pop(0) if self.messages else {"type": "http.disconnect"}

    async def send(self, message: dict) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.sent if m["type"] == "http.response.start"), None)


def http_scope(headers: list[tuple[bytes, bytes]]) -> dict:
    return {"type": "http", "method": "POST", "path": "/echo", "headers": headers}


async def reading_app(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def run(middleware, scope, recorder) -> None:
    import asyncio

    asyncio.run(middleware(scope, recorder.receive, recorder.send))


@pytest.mark.parametrize("value", [b"\xb2", b"abc", b"-1", b" ", b"10, 11", b"1_0"])
def test_the_middleware_answers_a_malformed_length_400(value):
    recorder = Recorder([])
    run(BodyLimit(reading_app, max_body=LIMIT), http_scope([(b"content-length", value)]), recorder)
    assert recorder.status == 400 and recorder.taken == 0


def test_the_middleware_refuses_a_huge_declared_length_413():
    recorder = Recorder([])
    scope = http_scope([(b"content-length", b"9" * 5000)])  # past int()'s 4300 digits
    run(BodyLimit(reading_app, max_body=LIMIT), scope, recorder)
    assert recorder.status == 413 and recorder.taken == 0


def test_the_middleware_stops_reading_at_the_chunk_that_passes_the_limit():
    chunk = {"type": "http.request", "body": b"z" * 1000, "more_body": True}
    recorder = Recorder([dict(chunk) for _ in range(1000)])  # 1 MB offered
    run(BodyLimit(reading_app, max_body=LIMIT), http_scope([]), recorder)
    assert recorder.status == 413
    assert recorder.taken == LIMIT // 1000 + 1  # never asked for a chunk after the one over


def test_the_middleware_replays_the_body_then_defers_to_the_server():
    parts = [{"type": "http.request", "body": b"ab", "more_body": True}] * 3
    recorder = Recorder([*parts, {"type": "http.request", "body": b"c", "more_body": False}])
    seen: list[dict] = []

    async def app(scope, receive, send):
        seen.extend([await receive(), await receive()])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    run(BodyLimit(app, max_body=LIMIT), http_scope([(b"transfer-encoding", b"chunked")]), recorder)
    assert seen[0] == {"type": "http.request", "body": b"abababc", "more_body": False}
    assert seen[1] == {"type": "http.disconnect"} and recorder.status == 204


def test_a_client_that_leaves_mid_body_gets_no_answer():
    recorder = Recorder([{"type": "http.request", "body": b"ab", "more_body": True}])
    run(BodyLimit(reading_app, max_body=LIMIT), http_scope([]), recorder)
    assert recorder.sent == []


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass_through_untouched(kind):
    calls = []

    async def app(scope, receive, send):
        calls.append((scope, receive, send))

    recorder = Recorder([])
    scope = {"type": kind, "headers": [(b"content-length", b"999999999")]}
    run(BodyLimit(app, max_body=LIMIT), scope, recorder)
    assert calls == [(scope, recorder.receive, recorder.send)] and recorder.taken == 0
