"""The webhook HTTP edge: which URLs are refused, the endpoint secrets, and one signed POST to a
real loopback server that verifies it as a Standard Webhooks consumer would."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from actors.infra.webhook_http import (
    DEFAULT_USER_AGENT,
    MAX_ERROR,
    UrlRefused,
    WebhookSender,
    check_secret,
    check_url,
    derive_secret,
    new_secret,
    sign_headers,
)

SECRET = new_secret()
BODY = json.dumps({"type": "ticket.minted", "data": {"ticket_id": "t-1", "name": "Zoë"}})


def _resolver(*addresses: str):
    calls: list[tuple[str, int]] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append((host, port))
        return list(addresses)

    resolve.calls = calls
    return resolve


def _refused(url: str, **kwargs) -> str:
    with pytest.raises(UrlRefused) as info:
        check_url(url, **kwargs)
    return str(info.value)


# ---- check_url ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://10.0.0.1/x", "private address (10.0.0.1)"),
        ("https://169.254.169.254/latest/meta-data", "metadata address (169.254.169.254)"),
        ("https://[::ffff:10.0.0.1]/", "private address"),
        ("https://[fd00:ec2::254]/", "metadata address"),
        ("https://100.64.0.1/", "shared (CGNAT) address"),
        ("https://100.100.100.200/", "metadata address"),
        ("https://[fe80::1]/", "link-local"),
        ("https://0.0.0.0/", "unspecified address"),
        ("https://[::]/", "unspecified address"),
        ("https://224.0.0.1/", "multicast address"),
        ("https://127.0.0.1/", "loopback address"),
        ("https://[::1]/", "loopback address"),
    ],
)
def test_check_url_refuses_non_public_literals(url, words):
    message = _refused(url, resolve=_resolver("93.184.216.34"))
    assert message.startswith("url ")
    assert words in message


def test_check_url_refuses_http_without_resolving():
    resolve = _resolver("93.184.216.34")
    assert _refused("http://example.com/", resolve=resolve) == "url must use https"
    assert resolve.calls == []


def test_check_url_refuses_a_name_resolving_to_loopback():
    message = _refused("https://hooks.example.com/", resolve=_resolver("127.0.0.1"))
    assert "loopback address (127.0.0.1)" in message
    assert "WEBHOOK_ALLOW_HTTP_LOOPBACK=1" in message


def test_check_url_refuses_when_any_resolved_address_is_private():
    resolve = _resolver("93.184.216.34", "192.168.1.5")
    assert "private address (192.168.1.5)" in _refused(
        "https://hooks.example.com/", resolve=resolve
    )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://user:pass@hooks.example.com/x", "credentials"),
        ("https://user@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https:///x", "no host"),
        ("ftp://hooks.example.com/", "https"),
        ("https://hooks.example.com:99999/", "not a valid URL"),
        ("https://hooks.example.com/" + "a" * 2048, "longer than 2048"),
    ],
)
def test_check_url_refuses_malformed_urls(url, words):
    assert words in _refused(url, resolve=_resolver("93.184.216.34"))


def test_check_url_refuses_a_host_that_does_not_resolve():
    def fail(host, port):
        raise socket.gaierror(-2, "Name or service not known")

    assert _refused("https://nowhere.example/", resolve=fail) == "url host does not resolve"
    assert _refused("https://nowhere.example/", resolve=_resolver()) == "url host does not resolve"


def test_check_url_accepts_a_public_name_and_passes_host_and_port():
    resolve = _resolver("93.184.216.34", "93.184.216.34", "2606:2800:220:1::1")
    addresses = check_url("https://hooks.example.com:8443/x?a=1", resolve=resolve)
    assert [str(a) for a in addresses] == ["93.184.216.34", "2606:2800:220:1::1"]
    assert resolve.calls == [("hooks.example.com", 8443)]


def test_check_url_http_loopback_only_when_allowed():
    assert [str(a) for a in check_url("http://127.0.0.1:8080/", allow_http_loopback=True)] == [
        "127.0.0.1"
    ]
    assert _refused("http://127.0.0.1:8080/") == "url must use https"
    message = _refused("http://93.184.216.34/", allow_http_loopback=True)
    assert "https" in message
    # allowing loopback does not open private addresses
    assert "private" in _refused("http://10.0.0.1/", allow_http_loopback=True)


def test_refusals_never_quote_the_url():
    url = f"https://10.0.0.1/hook?token={SECRET}"
    assert SECRET not in _refused(url)
    assert SECRET not in _refused(f"https://u:{SECRET}@hooks.example.com/")


# ---- secrets ------------------------------------------------------------------------------------


def _key(secret: str) -> bytes:
    assert secret.startswith("whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"), validate=True)


def test_new_secret_is_32_random_bytes():
    first, second = new_secret(), new_secret()
    assert len(_key(first)) == 32 and first != second
    Webhook(first)


def test_derive_secret_is_deterministic_per_master_and_nonce():
    master = b"m" * 32
    secret = derive_secret(master, b"nonce-1")
    assert len(_key(secret)) == 32
    assert derive_secret(master, b"nonce-1") == secret
    assert derive_secret(master, b"nonce-2") != secret
    assert derive_secret(b"n" * 32, b"nonce-1") != secret
    Webhook(secret)


def test_check_secret():
    secret = new_secret()
    assert check_secret(secret) == secret
    assert check_secret("whsec_" + base64.b64encode(b"k" * 24).decode()) is not None
    for bad in ("abc", "whsec_!!!", "whsec_" + base64.b64encode(b"k" * 16).decode()):
        with pytest.raises(ValueError) as info:
            check_secret(bad)
        assert bad not in str(info.value)
    with pytest.raises(ValueError, match="24..64"):
        check_secret("whsec_" + base64.b64encode(b"k" * 65).decode())


# ---- signing ------------------------------------------------------------------------------------


def test_sign_headers_verify_and_carry_the_event():
    now = datetime.now(UTC)
    headers = sign_headers(SECRET, "evt_1", BODY, timestamp=now)
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == DEFAULT_USER_AGENT
    assert Webhook(SECRET).verify(BODY, headers) == json.loads(BODY)


def test_a_signature_from_another_secret_fails():
    headers = sign_headers(new_secret(), "evt_1", BODY, timestamp=datetime.now(UTC))
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(BODY, headers)


def test_an_old_timestamp_fails():
    old = datetime.now(UTC) - timedelta(minutes=10)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(SECRET).verify(BODY, sign_headers(SECRET, "evt_1", BODY, timestamp=old))


def test_a_non_utc_timestamp_signs_the_same_second():
    now = datetime.now(UTC)
    other_zone = now.astimezone(datetime.now().astimezone().tzinfo)
    a = sign_headers(SECRET, "e", BODY, timestamp=now)
    assert a == sign_headers(SECRET, "e", BODY, timestamp=other_zone)
    with pytest.raises(ValueError):
        sign_headers(SECRET, "e", BODY, timestamp=now.replace(tzinfo=None))


# ---- one POST to a real loopback server ---------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        server = self.server
        body = self.rfile.read(int(self.headers["content-length"])).decode("utf-8")
        try:
            Webhook(server.secret).verify(body, dict(self.headers.items()))
            problem = None
        except WebhookVerificationError as exc:
            problem = str(exc)
        headers = {k.lower(): v for k, v in self.headers.items()}
        server.seen.append((body, headers, problem))
        mode = server.mode
        if mode == "sleep":
            time.sleep(1.5)
        if mode == "drip":  # headers at once, then a byte every 0.2 s
            self._answer(200, b"", length=10)
            for _ in range(10):
                time.sleep(0.2)
                self.wfile.write(b".")
                self.wfile.flush()
            return
        if problem is not None:
            self._answer(401, problem.encode())
        elif mode == "500":
            self._answer(500, f"  oops\n  {server.secret}  ".encode() + b"x" * 500)
        elif mode == "302":
            self._answer(302, b"", location="http://10.0.0.1/")
        else:
            self._answer(200, b"ok")

    def _answer(self, code, payload, *, length=None, location=None):
        self.send_response(code)
        self.send_header("content-length", str(len(payload) if length is None else length))
        if location:
            self.send_header("location", location)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.secret, httpd.mode, httpd.seen = SECRET, "ok", []
    httpd.handle_error = lambda *a: None  # a client that gave up is expected here
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def sender() -> Iterator[WebhookSender]:
    s = WebhookSender(timeout=0.5, allow_http_loopback=True)
    yield s
    s.close()


def _url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}/hooks?x=1"


def test_send_delivers_the_exact_body_signed(server, sender):
    result = sender.send(_url(server), secret=SECRET, event_id="evt_42", body=BODY)
    assert result.delivered and result.status_code == 200 and result.error is None
    assert 0 < result.latency < 0.5
    [(body, headers, problem)] = server.seen
    assert problem is None
    assert body == BODY
    assert headers["webhook-id"] == "evt_42"


def test_send_connects_to_the_vetted_address_with_the_original_host(server):
    resolve = _resolver("127.0.0.1")
    sender = WebhookSender(timeout=2, allow_http_loopback=True, resolve=resolve)
    url = f"http://hooks.test:{server.server_address[1]}/x"
    try:
        assert sender.send(url, secret=SECRET, event_id="e1", body=BODY).delivered
        assert sender.send(url, secret=SECRET, event_id="e2", body=BODY).delivered
    finally:
        sender.close()
    assert [h["host"] for _, h, _ in server.seen] == [f"hooks.test:{server.server_address[1]}"] * 2
    assert len(resolve.calls) == 2  # vetted again on every send


def test_https_goes_to_the_ip_with_sni_and_host_of_the_name():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204, stream=httpx.ByteStream(b""))  # as a real transport streams

    sender = WebhookSender(resolve=_resolver("2606:2800:220:1::1"))
    sender._client = httpx.Client(transport=httpx.MockTransport(answer))
    result = sender.send("https://hooks.example.com/x?a=1", secret=SECRET, event_id="e", body=BODY)
    assert result.delivered and result.status_code == 204
    [request] = seen
    assert str(request.url) == "https://[2606:2800:220:1::1]/x?a=1"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.content == BODY.encode("utf-8")


def test_send_reports_an_error_status_without_the_secret(server, sender):
    server.mode = "500"
    result = sender.send(_url(server), secret=SECRET, event_id="e", body=BODY)
    assert not result.delivered and result.status_code == 500
    assert result.error.startswith("HTTP 500: oops [secret]")
    assert SECRET not in result.error
    assert SECRET.removeprefix("whsec_") not in result.error
    assert len(result.error) <= MAX_ERROR


def test_send_times_out_on_a_slow_endpoint(server, sender):
    server.mode = "sleep"
    result = sender.send(_url(server), secret=SECRET, event_id="e", body=BODY)
    assert not result.delivered and result.status_code is None
    assert "timeout" in result.error and SECRET not in result.error
    assert 0.4 < result.latency < 1.4


def test_send_enforces_a_total_deadline_on_a_dripping_answer(server, sender):
    server.mode = "drip"
    result = sender.send(_url(server), secret=SECRET, event_id="e", body=BODY)
    assert not result.delivered and result.status_code is None
    assert "timeout" in result.error
    assert result.latency < 1.2


def test_send_to_a_closed_port(sender):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = sender.send(f"http://127.0.0.1:{port}/", secret=SECRET, event_id="e", body=BODY)
    assert not result.delivered and result.status_code is None
    assert result.error and SECRET not in result.error


def test_send_does_not_follow_redirects(server, sender):
    server.mode = "302"
    result = sender.send(_url(server), secret=SECRET, event_id="e", body=BODY)
    assert not result.delivered and result.status_code == 302
    assert result.error.startswith("HTTP 302")
    assert len(server.seen) == 1


def test_a_forged_signature_is_refused_by_the_endpoint(server, sender):
    result = sender.send(_url(server), secret=new_secret(), event_id="e", body=BODY)
    assert not result.delivered and result.status_code == 401
    assert "No matching signature" in server.seen[0][2]


def test_an_old_timestamp_is_refused_by_the_endpoint(server, sender):
    old = datetime.now(UTC) - timedelta(minutes=10)
    result = sender.send(_url(server), secret=SECRET, event_id="e", body=BODY, timestamp=old)
    assert not result.delivered and result.status_code == 401
    assert "too old" in server.seen[0][2]


def test_send_refuses_a_vetoed_url_without_connecting():
    sender = WebhookSender()
    try:
        result = sender.send("https://10.0.0.1/x", secret=SECRET, event_id="e", body=BODY)
    finally:
        sender.close()
    assert result == type(result)(
        False, None, 0.0, "refused: url resolves to a private address (10.0.0.1)"
    )
