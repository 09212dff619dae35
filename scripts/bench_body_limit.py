"""Server memory while a 50 MB chunked body is refused: the streaming limit against buffering.

    .venv/bin/python -m scripts.bench_body_limit [--mb 50] [--chunk-kib 64]
        [--middleware streaming|buffering|both]

Each run starts a real uvicorn subprocess serving a small app (a POST route that reads the
body) behind the 64 KiB limit: ``streaming`` is
:class:`actors.entrypoints.http.body_limit.BodyLimit`, ``buffering`` the
``@app.middleware("http")`` it replaced in the API (reads a chunked
body in full, then compares). The real ``minter api`` needs Postgres, Redis and a validator
and its routes never see a refused body, so this app stands in for it. A small request warms
the server up, then a raw socket client sends the chunked body, checking for an answer between
chunks. Prints the answer, the bytes sent before it, and the server's peak RSS (``VmHWM`` in
/proc/PID/status) before and after; asserts nothing. Target: growth under limit + 10 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from actors.entrypoints.http.body_limit import DEFAULT_MAX_BODY, BodyLimit
from devtools.local_services import free_port

DEFAULT_MB = 50
DEFAULT_CHUNK_KIB = 64
DEFAULT_TIMEOUT = 30.0  # seconds for one request
MODE_VARIABLE = "BENCH_BODY_LIMIT_MODE"  # how the server subprocess learns its middleware
MODES = ("streaming", "buffering")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the client had written when it stopped
    finished: bool  # whether the client wrote the whole body and the last chunk


def post_chunked(
    port: int,
    chunks: Iterable[bytes],
    *,
    host: str = "127.0.0.1",
    path: str = "/echo",
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Reply:
    """POST ``chunks`` with ``Transfer-Encoding: chunked``; stop writing once the server answers.

    A server that answers early and closes makes a naive client fail on write (EPIPE or a
    reset) before it reads the answer; this one looks for an answer before each chunk and
    reads it after a failed write too.
    """
    sent, finished = 0, False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
            "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            sock.sendall(head.encode())
            for chunk in chunks:
                if select.select([sock], [], [], 0)[0]:
                    break  # an answer (or a close) is waiting: stop sending
                sock.sendall(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
                finished = True
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: its answer may be waiting all the same
        status, headers, body = _read_response(sock)
    return Reply(status, headers, body, sent, finished)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            raise ConnectionError(f"closed before an answer: {data[:200]!r}")
        data += part
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        part = sock.recv(65536)
        if not part:
            break
        body += part
    return status, headers, body[:length]


def body_chunks(total: int, chunk: int, *, fill: bytes = b"x") -> Iterable[bytes]:
    """``total`` bytes in chunks of ``chunk`` bytes (one buffer, reused: the client stays small)."""
    block = fill * chunk
    for start in range(0, total, chunk):
        yield block[: min(chunk, total - start)]


def make_app(mode: str | None = None, *, max_body: int = DEFAULT_MAX_BODY):
    """A FastAPI app (as the real one) whose POST /echo reads the body, behind ``mode``."""
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request):
        body = await request.body()
        return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}

    mode = mode or os.environ.get(MODE_VARIABLE, "streaming")
    if mode == "streaming":
        app.add_middleware(BodyLimit, max_body=max_body)
    elif mode == "buffering":  # actors/api.py's limit_body, as it was

        @app.middleware("http")
        async def limit_body(request: Request, call_next):
            length = request.headers.get("content-length")
            if length is not None and (not length.isdigit() or int(length) > max_body):
                return JSONResponse({"detail": f"body over {max_body} bytes"}, status_code=413)
            if length is None and request.method in ("POST", "PUT", "PATCH"):
                body = await request.body()
                if len(body) > max_body:
                    return JSONResponse({"detail": f"body over {max_body} bytes"}, status_code=413)
            return await call_next(request)

    else:
        raise ValueError(f"unknown mode {mode!r}")
    return app


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def start_server(mode: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "scripts.bench_body_limit:make_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, MODE_VARIABLE: mode},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("uvicorn exited") from None
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start")


def run(mode: str, *, total: int, chunk: int) -> dict:
    proc, port = start_server(mode)
    try:
        warm = post_chunked(port, body_chunks(1000, 100))  # imports done, buffers in place
        before = peak_rss_mb(proc.pid)
        started = time.perf_counter()
        reply = post_chunked(port, body_chunks(total, chunk))
        seconds = time.perf_counter() - started
        time.sleep(0.2)  # the server's last reads
        after = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "mode": mode,
        "warm_status": warm.status,
        "status": reply.status,
        "answer": reply.body.decode(errors="replace"),
        "client_sent_mb": reply.sent / 1e6,
        "client_finished": reply.finished,
        "seconds": seconds,
        "peak_rss_before_mb": before,
        "peak_rss_after_mb": after,
        "growth_mb": after - before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=DEFAULT_MB)
    parser.add_argument("--chunk-kib", type=int, default=DEFAULT_CHUNK_KIB)
    parser.add_argument("--middleware", choices=(*MODES, "both"), default="both")
    args = parser.parse_args()
    total, chunk = int(args.mb * 1e6), args.chunk_kib * 1024
    target = DEFAULT_MAX_BODY / 2**20 + 10
    print(f"limit {DEFAULT_MAX_BODY} bytes, body {total / 1e6:.0f} MB in {chunk} byte chunks")
    for mode in MODES if args.middleware == "both" else (args.middleware,):
        out = run(mode, total=total, chunk=chunk)
        print(json.dumps(out))
        print(
            f"{mode:>9}: HTTP {out['status']} after {out['client_sent_mb']:.1f} MB sent"
            f" ({out['seconds']:.2f} s); peak RSS {out['peak_rss_before_mb']:.1f} ->"
            f" {out['peak_rss_after_mb']:.1f} MB, growth {out['growth_mb']:.1f} MB"
            f" (target < {target:.1f} MB)"
        )


if __name__ == "__main__":
    main()
