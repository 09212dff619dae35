"""The HTTP edge of webhook delivery (Standard Webhooks): which URLs may be called, the endpoint
secrets, and one signed POST to an address vetted just before the connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import math
import secrets
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook

from actors.infra.errors import ActorsError

DEFAULT_TIMEOUT = 15.0  # seconds: an answer after this is a failure (Standard Webhooks / Crossmint)
# Crossmint's (Svix's) schedule: the first try at once, then after each failure these waits.
DEFAULT_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
DEFAULT_DISABLE_AFTER = 5 * 24 * 3600.0  # seconds of failing before an endpoint is disabled
DEFAULT_RATE_LIMIT = 50  # requests per second to one endpoint, across all workers
MAX_ERROR = 200  # characters kept of an attempt's error
DEFAULT_USER_AGENT = "ticket-minter-webhooks/1"
MAX_URL = 2048  # characters; longer URLs are refused
MAX_ANSWER = 64 * 1024  # bytes read of an endpoint's answer; the rest is not our business
_ANSWER_SNIPPET = 100  # characters of a failed answer's body kept in the error

_SECRET_PREFIX = "whsec_"
_DERIVE_LABEL = b"webhook-secret:v1:"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Iterable[str]]

# Where cloud instances find credentials (AWS, AWS IPv6, Alibaba); some lie outside 169.254/16.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # CGNAT: not is_private, yet not the internet
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # embeds an IPv4 address in its last 32 bits


class UrlRefused(ActorsError):
    """Raised when a webhook URL is not https, or resolves to a private, link-local, metadata or
    (unless allowed) loopback address."""


def _embedded_v4(ip: IPAddress) -> IPAddress:
    # ::ffff:10.0.0.1 and 2002:0a00:0001:: reach 10.0.0.1: judge them by it.
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _refusal(ip: IPAddress, *, allow_loopback: bool) -> str | None:
    """The class of a forbidden address, or None when the address may be called."""
    ip = _embedded_v4(ip)
    if ip.is_unspecified:
        return "an unspecified address"
    # before is_private, which ipaddress also says of 127.0.0.1
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip in _METADATA or ip.is_link_local:
        return "a link-local or metadata address"
    if ip.version == 4 and ip in _SHARED:
        return "a shared (CGNAT) address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 6 and ip.is_site_local:  # fec0::/10: deprecated, still routed inward
        return "a site-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"
    return None


def _default_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def _parse_ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # a scope id (fe80::1%eth0) is no address


def check_url(
    url: str, *, allow_http_loopback: bool = False, resolve: Resolver | None = None
) -> list[IPAddress]:
    """Parse, resolve and vet a URL; the addresses it may be sent to (every resolved address must
    pass)."""
    if len(url) > MAX_URL:
        raise UrlRefused(f"url is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlRefused("url is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme != "https" and not (scheme == "http" and allow_http_loopback):
        raise UrlRefused("url must use https")
    if "@" in parts.netloc:
        raise UrlRefused("url must not carry credentials (user:password@)")
    if parts.fragment or url.endswith("#"):
        raise UrlRefused("url must not have a fragment")
    host = parts.hostname
    if not host:
        raise UrlRefused("url has no host")
    if not host.isascii():  # the Host header must carry exactly what was vetted
        raise UrlRefused("url host must be ASCII (write an international name in punycode)")
    port = port or (443 if scheme == "https" else 80)

    try:
        addresses = [_parse_ip(host)]  # an IP literal needs no lookup
    except ValueError:
        try:
            found = (resolve or _default_resolve)(host, port)
            addresses = [_parse_ip(a) for a in found]
        except (OSError, UnicodeError, ValueError):
            raise UrlRefused("url host does not resolve") from None
    addresses = list(dict.fromkeys(addresses))
    if not addresses:
        raise UrlRefused("url host does not resolve")

    for ip in addresses:
        refusal = _refusal(ip, allow_loopback=allow_http_loopback)
        if refusal is not None:
            message = f"url resolves to {refusal} ({ip})"
            if refusal == "a loopback address":
                message += "; loopback is allowed only with WEBHOOK_ALLOW_HTTP_LOOPBACK=1"
            raise UrlRefused(message)
    if scheme == "http" and not all(_embedded_v4(ip).is_loopback for ip in addresses):
        raise UrlRefused("url must use https (http is allowed only to a loopback address)")
    return addresses


@dataclass(frozen=True)
class AttemptResult:
    delivered: bool  # a 2xx within the timeout
    status_code: int | None  # None when no HTTP answer (refused, timeout, URL refused)
    latency: float  # seconds, monotonic, from just before connect to the answer (or the failure)
    error: str | None  # at most MAX_ERROR characters, never a secret; None when delivered


def new_secret() -> str:
    """A fresh endpoint secret in the Standard Webhooks form: "whsec_" + base64 of 32 random
    bytes."""
    return _SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def derive_secret(master: bytes, nonce: bytes) -> str:
    """The endpoint secret kept as a nonce: "whsec_" + base64(HMAC-SHA256(master,
    b"webhook-secret:v1:" + nonce)). The database stores only the nonce; without the master key it
    cannot sign."""
    if not master:
        raise ValueError("the webhook master key is empty")
    key = hmac.new(master, _DERIVE_LABEL + nonce, hashlib.sha256).digest()
    return _SECRET_PREFIX + base64.b64encode(key).decode("ascii")


def check_secret(value: str) -> str:
    """A WEBHOOK_SECRET as given: "whsec_" + base64 decoding to 24..64 bytes; ValueError otherwise
    (message never quotes the value)."""
    value = value.strip()
    if not value.startswith(_SECRET_PREFIX):
        raise ValueError('webhook secret must start with "whsec_"')
    encoded = value[len(_SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except ValueError:
        raise ValueError('webhook secret must be "whsec_" followed by base64') from None
    if not 24 <= len(key) <= 64:
        raise ValueError(f"webhook secret must decode to 24..64 bytes, not {len(key)}")
    return value


def sign_headers(secret: str, event_id: str, body: str, *, timestamp: datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp (integer seconds), webhook-signature ("v1,<base64>") via
    standardwebhooks.webhooks.Webhook(secret).sign, plus content-type application/json and
    user-agent."""
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    # the library replaces (not converts) the zone: hand it UTC so the signed second is right
    timestamp = timestamp.astimezone(UTC)
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(math.floor(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": DEFAULT_USER_AGENT,
    }


def _scrub(text: str, secret: str, *, keep: int | None = MAX_ERROR) -> str:
    # an endpoint knows the secret and may echo it; it must not reach our logs or database
    for s in (secret, secret.removeprefix(_SECRET_PREFIX)):
        if s:
            text = text.replace(s, "[secret]")
    return text[:keep]


class WebhookSender:
    """One signed POST per call, the URL re-vetted each time (DNS can change), sent to the vetted
    address itself so a second lookup cannot swap it."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        allow_http_loopback: bool = False,
        resolve: Resolver | None = None,
    ) -> None:
        self.timeout = timeout
        self.allow_http_loopback = allow_http_loopback
        self.resolve = resolve
        # No proxies from the environment (they would undo the pinning), no redirects (an endpoint
        # must not bounce us inward), no kept-alive connections (a connection verified for one
        # name must not carry another name's request to the same address).
        self._client = httpx.Client(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout),
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def send(
        self,
        url: str,
        *,
        secret: str,
        event_id: str,
        body: str,
        timestamp: datetime | None = None,
    ) -> AttemptResult:
        try:
            addresses = check_url(
                url, allow_http_loopback=self.allow_http_loopback, resolve=self.resolve
            )
        except UrlRefused as exc:
            return AttemptResult(False, None, 0.0, _scrub(f"refused: {exc}", secret))
        parts = urlsplit(url)
        ip = addresses[0]
        literal = f"[{ip}]" if ip.version == 6 else str(ip)
        netloc = literal if parts.port is None else f"{literal}:{parts.port}"
        target = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = sign_headers(secret, event_id, body, timestamp=timestamp or datetime.now(UTC))
        headers["host"] = parts.netloc
        headers["accept-encoding"] = "identity"  # the answer's bytes are counted, not inflated
        extensions = {"sni_hostname": parts.hostname} if parts.scheme.lower() == "https" else {}

        started = time.monotonic()
        try:
            return self._post(target, headers, body, extensions, started, secret)
        except httpx.TimeoutException:
            error = f"timeout after {self.timeout:g}s"
        except httpx.ConnectError as exc:
            text = str(exc)
            error = "connection refused" if "refused" in text.lower() else f"ConnectError: {text}"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure is a failed attempt, retried
            error = f"unexpected {type(exc).__name__}"
        return AttemptResult(False, None, time.monotonic() - started, _scrub(error, secret))

    def _post(self, target, headers, body, extensions, started, secret) -> AttemptResult:
        request = self._client.build_request(
            "POST", target, content=body.encode("utf-8"), headers=headers, extensions=extensions
        )
        response = self._client.send(request, stream=True)
        try:
            # httpx's timeout bounds each step; this bounds the whole answer
            answer = bytearray()
            for chunk in response.iter_raw():
                answer += chunk
                if len(answer) >= MAX_ANSWER or time.monotonic() - started > self.timeout:
                    break
        finally:
            response.close()
        latency = time.monotonic() - started
        if latency > self.timeout:
            raise httpx.ReadTimeout("the answer took too long", request=request)
        if 200 <= response.status_code < 300:
            return AttemptResult(True, response.status_code, latency, None)
        # scrubbed whole before it is cut, so no part of a secret survives the cut
        text = _scrub(" ".join(answer.decode("utf-8", "replace").split()), secret, keep=None)
        error = f"HTTP {response.status_code}"
        if text:
            error += f": {text[:_ANSWER_SNIPPET]}"
        return AttemptResult(False, response.status_code, latency, _scrub(error, secret))

    def close(self) -> None:
        self._client.close()
