"""A tiny JSON-RPC proxy with fault knobs, to put one validator behind several "endpoints".

``drop_response``: forward the request, then close the connection unanswered (it ran, the client
sees an error); ``fail``: answer HTTP 503 without forwarding. Both are rates in [0, 1] changed at
run time with :meth:`RpcProxy.set`; ``counts`` holds requests seen per JSON-RPC method.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


class RpcProxy:
    def __init__(self, target_url: str) -> None:
        self.target_url = target_url
        self.drop_response = 0.0
        self.fail = 0.0
        self.counts: Counter[str] = Counter()
        self.posts = 0  # HTTP requests (a batch is one)
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=30.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set(self, *, drop_response: float = 0.0, fail: float = 0.0) -> None:
        self.drop_response, self.fail = drop_response, fail

    def start(self) -> RpcProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def _count(self, body: bytes) -> None:
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {}
        calls = payload if isinstance(payload, list) else [payload]
        with self._lock:
            self.posts += 1
            for call in calls:
                self.counts[call.get("method", "?") if isinstance(call, dict) else "?"] += 1

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy._count(body)
                if random.random() < proxy.fail:
                    self._answer(503, b"proxy: failing on purpose")
                    return
                resp = proxy._http.post(
                    proxy.target_url, content=body, headers={"Content-Type": "application/json"}
                )
                if random.random() < proxy.drop_response:
                    self.close_connection = True  # it ran; the client never hears back
                    return
                self._answer(resp.status_code, resp.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler
