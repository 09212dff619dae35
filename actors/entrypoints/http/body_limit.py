"""Request bodies over a limit are refused while they stream, never read in full.

:class:`BodyLimit` is a pure ASGI middleware. A declared ``Content-Length`` over the limit is
answered 413 before the app runs, and a malformed one 400. A body without a declared length
(``Transfer-Encoding: chunked``) is read here before the app runs, counted as it arrives and
buffered only up to the limit: the chunk that passes it is dropped and answered 413 at once,
and the rest is never read. A body within the limit is handed to the app as one message, as
if it came straight from the server. Refusals close the connection, so the server does not go
on reading (and discarding) what the client still sends.

Reading the body before the app runs, rather than counting the app's own reads, is deliberate:
an app that had already read half a body, or started its response, could no longer be answered
413 cleanly. Holding at most ``max_body`` bytes per request is the price.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

DEFAULT_MAX_BODY = 64 * 1024  # bytes; the HTTP API's mint and transfer bodies are far smaller

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]

_DIGITS = re.compile(rb"[0-9]+")  # str.isdigit() would take "²", which int() refuses
_MAX_DIGITS = 18


class MalformedLength(ValueError):
    """Raised when a request's Content-Length is not one non-negative decimal number."""


class BodyTooLarge(Exception):
    """Raised when a streamed request body passes the limit."""


def declared_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length the request declares, or None when it declares none (chunked).

    ``Transfer-Encoding`` wins over ``Content-Length`` (RFC 9112, 6.3), so a request with both
    is counted as it streams. Repeated values must agree, as the RFC allows for ``10, 10``.
    """
    values: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"transfer-encoding":
            return None
        if name.lower() == b"content-length":
            values.update(v.strip() for v in value.split(b","))
    if not values:
        return None
    if len(values) > 1 or not all(_DIGITS.fullmatch(v) for v in values):
        raise MalformedLength(b", ".join(sorted(values)).decode("latin-1"))
    digits = values.pop().lstrip(b"0") or b"0"
    # int() refuses over 4300 digits; anything past 18 is over any limit anyway
    return int(digits) if len(digits) <= _MAX_DIGITS else 10**_MAX_DIGITS


class BodyLimit:
    """Answer 413 to HTTP request bodies over ``max_body`` bytes without reading them in full."""

    def __init__(self, app: App, *, max_body: int = DEFAULT_MAX_BODY) -> None:
        if max_body < 0:
            raise ValueError("max_body must be >= 0")
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send):
        if scope["type"] != "http":  # websockets and lifespan have no request body
            await self.app(scope, receive, send)
            return
        try:
            length = declared_length(scope["headers"])
        except MalformedLength:
            # The framing is unknowable: RFC 9112 6.3 says 400 and close (uvicorn's own parser
            # answers such a request 400 before any app sees it; this agrees with it).
            await _refuse(send, 400, "malformed Content-Length")
            return
        if length is not None:
            if length > self.max_body:
                await _refuse(send, 413, self._over())
                return
            # The server delivers at most the declared length: nothing to count.
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_within(receive)
        except BodyTooLarge:
            await _refuse(send, 413, self._over())
            return
        if body is None:
            return  # the client left mid-body: there is nobody to answer
        await self.app(scope, _replay(body, receive), send)

    def _over(self) -> str:
        return f"body over {self.max_body} bytes"

    async def _read_within(self, receive: Receive) -> bytes | None:
        """The whole body within the limit, or None if the client left; raises past the limit."""
        buffer = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":  # http.disconnect
                return None
            chunk = message.get("body", b"")
            if len(buffer) + len(chunk) > self.max_body:
                raise BodyTooLarge  # this chunk is dropped: never more than the limit held
            buffer += chunk
            if not message.get("more_body", False):
                return bytes(buffer)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that first hands over the body read already, then defers to the server."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()  # after the body: http.disconnect when the client leaves

    return replay


async def _refuse(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # Close rather than let the server read and discard the rest of a large body.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
