"""The RPC client policy: which failures are retried, how, and what a send's outcome means.

Reads are retried with Tenacity on transient faults (timeouts, connection errors, HTTP 429 and
5xx, node behind). A send is retried only when the node provably did not take the transaction
(HTTP 429, node behind, connection refused, BlockhashNotFound in preflight); when the outcome is
unknown (a timeout, a dropped response) it raises :class:`SendOutcomeUnknown` and the caller
resolves the signature later: the same bytes are never blindly re-sent here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import httpx
from solana.exceptions import SolanaRpcException
from solana.rpc.api import Client
from solana.rpc.commitment import Commitment
from solana.rpc.core import RPCException
from solana.rpc.types import TxOpts
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.rpc.errors import NodeUnhealthyMessage, SendTransactionPreflightFailureMessage
from solders.rpc.responses import SendTransactionResp
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionErrorFieldless, TransactionStatus
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from minter.errors import MinterError, PermanentRpcError, TransientRpcError

DEFAULT_TIMEOUT = 10.0  # seconds for one HTTP request
DEFAULT_ATTEMPTS = 6  # per call, the first included
DEFAULT_DEADLINE = 30.0  # seconds across all attempts of one call
DEFAULT_BACKOFF_MULTIPLIER = 0.05  # seconds; jittered exponential: 0.05, 0.1, 0.2 … up to the cap
DEFAULT_BACKOFF_CAP = 2.0
DEFAULT_BLOCKHASH_TTL = 0.2  # seconds a fetched blockhash is reused (it stays valid 150 blocks)
MAX_STATUSES_PER_CALL = 256  # getSignatureStatuses limit
MAX_ACCOUNTS_PER_CALL = 100  # getMultipleAccounts limit

T = TypeVar("T")


class SendOutcomeUnknown(TransientRpcError):
    """Raised when a send may or may not have reached the cluster (timeout, dropped response)."""


class TransactionRejected(PermanentRpcError):
    """Raised when preflight refused these transaction bytes for good; ``err`` says why."""

    def __init__(self, err: str, logs: Sequence[str] = ()) -> None:
        super().__init__(f"transaction rejected: {err}")
        self.err = err
        self.logs = list(logs)


@dataclass(frozen=True)
class RetryPolicy:
    """How one RPC call is retried on transient faults."""

    attempts: int = DEFAULT_ATTEMPTS
    deadline: float = DEFAULT_DEADLINE
    backoff_multiplier: float = DEFAULT_BACKOFF_MULTIPLIER
    backoff_cap: float = DEFAULT_BACKOFF_CAP


@dataclass(frozen=True)
class Simulation:
    units: int | None
    err: str | None
    logs: list[str]


def _http_cause(exc: BaseException) -> BaseException | None:
    return exc.__cause__ if isinstance(exc, SolanaRpcException) else None


def _preflight_err(exc: BaseException):
    if isinstance(exc, RPCException) and exc.args:
        msg = exc.args[0]
        if isinstance(msg, SendTransactionPreflightFailureMessage):
            return msg.data.err
    return None


def fault_kind(exc: BaseException) -> str | None:
    """A short name for a transient fault (for retries and metrics), or None if not transient."""
    cause = _http_cause(exc)
    if isinstance(cause, httpx.TimeoutException):
        return "timeout"
    if isinstance(cause, httpx.ConnectError):
        return "connect"
    if isinstance(cause, httpx.HTTPStatusError):
        code = cause.response.status_code
        if code == 429:
            return "http_429"
        if code >= 500:
            return "http_5xx"
        return None
    if isinstance(cause, httpx.TransportError):
        return "transport"
    if isinstance(exc, RPCException) and exc.args and isinstance(exc.args[0], NodeUnhealthyMessage):
        return "node_behind"
    if _preflight_err(exc) == TransactionErrorFieldless.BlockhashNotFound:
        return "blockhash_not_found"
    return None


_NOT_TAKEN = {"connect", "http_429", "node_behind", "blockhash_not_found"}
_THROTTLED = {"http_429", "node_behind"}  # the cluster asks us to send less


def retry_after(exc: BaseException) -> float | None:
    """The seconds of an HTTP answer's Retry-After header (its date form is not used)."""
    cause = _http_cause(exc)
    if isinstance(cause, httpx.HTTPStatusError):
        value = cause.response.headers.get("retry-after")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None
    return None


class ChainClient:
    """A solana-py ``Client`` behind the retry policy; typed values in and out."""

    def __init__(
        self,
        url: str,
        *,
        commitment: str = "confirmed",
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        skip_preflight: bool = False,
        blockhash_ttl: float = DEFAULT_BLOCKHASH_TTL,
        on_fault: Callable[[str, str], None] | None = None,
        on_call: Callable[[str, float], None] | None = None,
        on_throttle: Callable[[str, float | None], None] | None = None,
    ) -> None:
        self.url = url
        self.commitment = Commitment(commitment)
        self.retry = retry or RetryPolicy()
        self.skip_preflight = skip_preflight
        self._client = _ClosableClient(url, commitment=self.commitment, timeout=timeout)
        self._on_fault = on_fault or (lambda method, kind: None)
        self._on_call = on_call or (lambda method, seconds: None)
        # (kind, Retry-After seconds or None) on a 429 or "node behind": the send rate's signal
        self._on_throttle = on_throttle or (lambda kind, retry_after: None)
        self._blockhash_ttl = blockhash_ttl
        self._blockhash: tuple[float, Hash, int] | None = None
        self._blockhash_lock = threading.Lock()

    @property
    def client(self) -> Client:
        return self._client

    def _retrying(self, method: str, retry_on: Callable[[str], bool]) -> Retrying:
        def retryable(exc: BaseException) -> bool:
            kind = fault_kind(exc)
            if kind is not None:
                self._on_fault(method, kind)
            if kind in _THROTTLED:
                self._on_throttle(kind, retry_after(exc))
            return kind is not None and retry_on(kind)

        return Retrying(
            retry=retry_if_exception(retryable),
            wait=wait_random_exponential(
                multiplier=self.retry.backoff_multiplier, max=self.retry.backoff_cap
            ),
            stop=stop_after_attempt(self.retry.attempts) | stop_after_delay(self.retry.deadline),
            reraise=True,
        )

    def _call(self, method: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return self._retrying(method, lambda kind: True)(fn)
        except (SolanaRpcException, RPCException) as exc:
            kind = fault_kind(exc)
            if kind is not None:
                raise TransientRpcError(f"{method}: {kind}") from None
            raise PermanentRpcError(f"{method}: {_describe(exc)}") from None
        finally:
            self._on_call(method, time.perf_counter() - started)

    # reads -----------------------------------------------------------------------------------
    def latest_blockhash(self) -> tuple[Hash, int]:
        """A recent blockhash and its last valid block height; shared for ``blockhash_ttl``."""
        with self._blockhash_lock:
            cached = self._blockhash
            if cached is not None and time.monotonic() - cached[0] < self._blockhash_ttl:
                return cached[1], cached[2]
        resp = self._call("getLatestBlockhash", lambda: self._client.get_latest_blockhash())
        value = (time.monotonic(), resp.value.blockhash, resp.value.last_valid_block_height)
        with self._blockhash_lock:
            self._blockhash = value
        return value[1], value[2]

    def block_height(self) -> int:
        return self._call("getBlockHeight", lambda: self._client.get_block_height()).value

    def health(self) -> str:
        """``"ok"``, or why not (``getHealth`` through solana-py's ``is_connected``)."""
        try:
            return "ok" if self._client.is_connected() else "unhealthy"
        except RPCException as exc:  # answered, unhealthy: e.g. "Node is behind by 42 slots"
            return _describe(exc)
        except (SolanaRpcException, httpx.HTTPError) as exc:
            return f"unreachable: {type(exc.__cause__ or exc).__name__}"

    def balance(self, pubkey: Pubkey) -> int:
        return self._call("getBalance", lambda: self._client.get_balance(pubkey)).value

    def accounts(self, pubkeys: Sequence[Pubkey]) -> list[Account | None]:
        out: list[Account | None] = []
        for i in range(0, len(pubkeys), MAX_ACCOUNTS_PER_CALL):
            chunk = list(pubkeys[i : i + MAX_ACCOUNTS_PER_CALL])
            resp = self._call(
                "getMultipleAccounts", lambda c=chunk: self._client.get_multiple_accounts(c)
            )
            out.extend(resp.value)
        return out

    def largest_token_accounts(self, mint: Pubkey) -> list[tuple[Pubkey, int]]:
        """(token account, raw amount) of the mint's largest holders, largest first."""
        resp = self._call(
            "getTokenLargestAccounts", lambda: self._client.get_token_largest_accounts(mint)
        )
        return [(a.address, int(a.amount.amount)) for a in resp.value]

    def recent_fees(self, accounts: Sequence[Pubkey]) -> list[int]:
        """``prioritizationFee`` of each recent slot (micro-lamports per CU), oldest slot first,
        for a transaction write-locking ``accounts`` (at most 128; none: any transaction)."""
        # solana-py 0.36 has no getRecentPrioritizationFees and solders no request type for it:
        # the provider sends any body with ``to_json`` and parses with any ``from_json``; an
        # error answer is parsed by solders (GetSlotResp) so RPCException carries its message.
        import json
        from types import SimpleNamespace

        from solders.rpc.responses import GetSlotResp

        params = [[str(a) for a in accounts]] if accounts else []
        payload = {"jsonrpc": "2.0", "id": 0, "method": "getRecentPrioritizationFees"}
        body = SimpleNamespace(to_json=lambda: json.dumps({**payload, "params": params}))

        def parse(raw: str):
            answer = json.loads(raw)
            if "error" in answer:
                return GetSlotResp.from_json(raw)
            items = sorted(answer["result"], key=lambda item: item["slot"])
            return [int(item["prioritizationFee"]) for item in items]

        parser = SimpleNamespace(from_json=parse)
        return self._call(
            "getRecentPrioritizationFees",
            lambda: self._client._provider.make_request(body, parser),
        )

    def fee_payer_spent(self, signature: Signature) -> int | None:
        """Lamports the fee payer (first account) lost in a landed transaction: fee and rent."""
        resp = self._call(
            "getTransaction",
            lambda: self._client.get_transaction(
                signature, "json", max_supported_transaction_version=0
            ),
        )
        tx = resp.value
        if tx is None or tx.transaction.meta is None:
            return None
        meta = tx.transaction.meta
        return meta.pre_balances[0] - meta.post_balances[0]

    def statuses(self, signatures: Sequence[Signature]) -> list[TransactionStatus | None]:
        """Statuses in input order, searching history; ``None`` for an unknown signature."""
        out: list[TransactionStatus | None] = []
        for i in range(0, len(signatures), MAX_STATUSES_PER_CALL):
            chunk = list(signatures[i : i + MAX_STATUSES_PER_CALL])
            resp = self._call(
                "getSignatureStatuses",
                lambda c=chunk: self._client.get_signature_statuses(
                    c, search_transaction_history=True
                ),
            )
            out.extend(resp.value)
        return out

    def simulate(self, tx: VersionedTransaction) -> Simulation:
        resp = self._call(
            "simulateTransaction",
            lambda: self._client.simulate_transaction(tx, sig_verify=False),
        )
        v = resp.value
        return Simulation(v.units_consumed, None if v.err is None else str(v.err), v.logs or [])

    # send ------------------------------------------------------------------------------------
    def send(self, raw: bytes) -> Signature:
        """Send signed bytes; retry only refusals that prove nothing was taken.

        Raises :class:`SendOutcomeUnknown` when the bytes may or may not have landed, and
        :class:`TransactionRejected` when preflight refused them for good.
        """
        opts = TxOpts(
            skip_confirmation=True,
            skip_preflight=self.skip_preflight,
            preflight_commitment=self.commitment,
        )
        retrying = self._retrying("sendTransaction", lambda kind: kind in _NOT_TAKEN)
        started = time.perf_counter()
        try:
            return retrying(lambda: self._client.send_raw_transaction(raw, opts).value)
        except SolanaRpcException as exc:
            raise SendOutcomeUnknown(f"sendTransaction: {fault_kind(exc) or 'http'}") from None
        except RPCException as exc:
            kind = fault_kind(exc)
            if kind is not None:  # still refused after every attempt: nothing was taken
                raise SendOutcomeUnknown(f"sendTransaction: {kind}") from None
            err = _preflight_err(exc)
            if err is not None:
                raise TransactionRejected(str(err), exc.args[0].data.logs or []) from None
            raise PermanentRpcError(f"sendTransaction: {_describe(exc)}") from None
        finally:
            self._on_call("sendTransaction", time.perf_counter() - started)

    def send_many(self, raws: Sequence[bytes]) -> list[Signature | MinterError]:
        """:meth:`send` for several signed transactions in one JSON-RPC batch request (one HTTP
        round trip, one parse at the node): each item's signature, or the error :meth:`send`
        would have raised for it, in order.

        An item refused for a reason that proves it was not taken (node behind, blockhash not
        found), and every item of a batch refused whole before it was read (a 429, a refused
        connection), is sent again alone by :meth:`send`, with its retries; a batch whose
        answer was lost may have landed: each item is then :class:`SendOutcomeUnknown`.
        """
        if len(raws) < 2:
            return [self._send_alone(raw) for raw in raws]
        opts = TxOpts(
            skip_confirmation=True,
            skip_preflight=self.skip_preflight,
            preflight_commitment=self.commitment,
        )
        bodies = tuple(self._client._send_raw_transaction_body(raw, opts) for raw in raws)
        started = time.perf_counter()
        try:
            answers = self._client._provider.make_batch_request(
                bodies, (SendTransactionResp,) * len(bodies)
            )
        except (httpx.HTTPError, ValueError) as cause:
            exc = _BatchFault(cause)
            kind = fault_kind(exc) or "http"
            self._on_fault("sendTransaction", kind)
            if kind in _THROTTLED:
                self._on_throttle(kind, retry_after(exc))
            if kind in _NOT_TAKEN or isinstance(cause, ValueError):  # nothing was read
                return [self._send_alone(raw) for raw in raws]
            return [SendOutcomeUnknown(f"sendTransaction: {kind}") for _ in raws]
        finally:
            self._on_call("sendTransaction", time.perf_counter() - started)
        out: list[Signature | MinterError] = []
        for raw, answer in zip(raws, answers, strict=True):
            if isinstance(answer, SendTransactionResp):
                out.append(answer.value)
                continue
            exc = RPCException(answer)
            kind = fault_kind(exc)
            if kind is not None:  # not taken, for a passing reason: alone, with its retries
                self._on_fault("sendTransaction", kind)
                out.append(self._send_alone(raw))
                continue
            err = _preflight_err(exc)
            out.append(
                TransactionRejected(str(err), answer.data.logs or [])
                if err is not None
                else PermanentRpcError(f"sendTransaction: {_describe(exc)}")
            )
        return out

    def _send_alone(self, raw: bytes) -> Signature | MinterError:
        try:
            return self.send(raw)
        except MinterError as exc:
            return exc

    def close(self) -> None:
        self._client.close()


class _BatchFault(SolanaRpcException):
    """A batch request's HTTP failure, shaped as solana-py raises a single request's, so that
    one classification (:func:`fault_kind`, :func:`retry_after`) serves both."""

    def __init__(self, cause: BaseException) -> None:
        Exception.__init__(self, f"sendTransaction: {type(cause).__name__}")
        self.__cause__ = cause


class _ClosableClient(Client):
    """solana-py 0.36's Client has no ``close``: its HTTP provider's session holds the pool."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # parsed once: httpx parses a URL given as a string again on every request (a mint
        # worker spent 6 % of its CPU there)
        self._provider.endpoint_uri = httpx.URL(str(self._provider.endpoint_uri))

    def close(self) -> None:
        self._provider.session.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RPCException) and exc.args:
        msg = exc.args[0]
        return getattr(msg, "message", None) or type(msg).__name__
    return type(exc).__name__
