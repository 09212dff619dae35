"""Several RPC endpoints behind one :class:`~actors.workflows.ports.Chain`.

Each endpoint is a :class:`~minter.rpc.ChainClient` (its own retry policy still applies) with a
score from its recent error rate (decayed exponentially), its block-height lag behind the highest
height seen, and its last ``getHealth`` answer. Reads go to the best-scored healthy endpoint and
are tried once more on the next best after a transient fault; a send goes, as the same signed
bytes, to every healthy endpoint (one signature lands at most once, so that is safe). A faulting
endpoint is demoted at once; every endpoint is probed (``getHealth`` and ``getBlockHeight``) at
most every ``probe_interval`` seconds, on the calling thread of the next call, and a demoted one
is promoted back when it answers ``ok`` and trails by at most ``max_slot_lag`` blocks.

A refusal (:class:`~minter.errors.PermanentRpcError`, :class:`~minter.rpc.TransactionRejected`)
is an answer about the request, not a fault of the endpoint: it is raised as is, nobody demoted.
With one URL this is a thin pass-through to its ``ChainClient``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from solana.rpc.api import Client
from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionStatus

from minter.errors import MinterError, PermanentRpcError, TransientRpcError
from minter.rpc import ChainClient, SendOutcomeUnknown, Simulation, TransactionRejected

DEFAULT_PROBE_INTERVAL = 5.0  # seconds between two probes of one endpoint
DEFAULT_MAX_SLOT_LAG = 150  # blocks an endpoint may trail the highest height seen and be healthy
DEFAULT_ERROR_HALF_LIFE = 60.0  # seconds for an endpoint's recorded error rate to halve
SCORE_PRECISION = 1  # decimals a score is rounded to; equal scores keep the URLs' order

T = TypeVar("T")


@dataclass(eq=False)
class _Endpoint:
    url: str
    chain: ChainClient
    healthy: bool = True
    health_ok: bool = True  # the last probe's getHealth said "ok"
    error_rate: float = 0.0  # decayed count of faults, as of ``rate_at``
    rate_at: float = 0.0
    errors: int = 0  # faults recorded since start
    height: int | None = None  # last block height it answered
    next_probe: float = 0.0
    probing: bool = False


class FailoverChain:
    """Several RPC endpoints as one Chain: reads go to the healthiest, a send goes (the same
    signed bytes) to every healthy one, a failing endpoint is demoted and probed back."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        make_client: Callable[[str], ChainClient],
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        max_slot_lag: int = DEFAULT_MAX_SLOT_LAG,
        error_half_life: float = DEFAULT_ERROR_HALF_LIFE,
        on_score: Callable[[str, float, bool], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("FailoverChain needs at least one RPC URL")
        self.probe_interval = probe_interval
        self.max_slot_lag = max_slot_lag
        self.error_half_life = error_half_life
        self._on_score = on_score or (lambda url, score, healthy: None)
        self._clock = clock
        now = clock()
        self._endpoints = [
            _Endpoint(url, make_client(url), rate_at=now, next_probe=now + probe_interval)
            for url in urls
        ]
        self._single = len(self._endpoints) == 1
        self._top = 0  # the highest block height any endpoint answered
        self._lock = threading.Lock()
        self._pool = (
            None
            if self._single
            else ThreadPoolExecutor(len(self._endpoints), thread_name_prefix="rpc-failover")
        )

    # state -----------------------------------------------------------------------------------
    def _rate(self, ep: _Endpoint, now: float) -> float:
        return ep.error_rate * 0.5 ** (max(0.0, now - ep.rate_at) / self.error_half_life)

    def _lag(self, ep: _Endpoint) -> int:
        return 0 if ep.height is None else max(0, self._top - ep.height)

    def _score(self, ep: _Endpoint, now: float) -> float:
        """In [0, 1], higher is better: 0 when getHealth is not ok or the lag is too big."""
        if not ep.health_ok:
            return 0.0
        freshness = max(0.0, 1.0 - self._lag(ep) / (self.max_slot_lag + 1))
        return round(freshness / (1.0 + self._rate(ep, now)), SCORE_PRECISION)

    def _ranked(self) -> list[_Endpoint]:
        """Healthy endpoints best first, then demoted ones best first; ties keep URL order."""
        now = self._clock()
        with self._lock:
            return sorted(self._endpoints, key=lambda ep: (not ep.healthy, -self._score(ep, now)))

    def _set_healthy(self, ep: _Endpoint, healthy: bool) -> Callable[[], None] | None:
        """Under the lock: change ``ep``'s health; the ``on_score`` call to make after it."""
        if ep.healthy == healthy or self._single:
            return None
        ep.healthy = healthy
        score = self._score(ep, self._clock())
        return lambda: self._on_score(ep.url, score, healthy)

    def _fault(self, ep: _Endpoint) -> None:
        """Record a transient fault of ``ep`` and demote it."""
        now = self._clock()
        with self._lock:
            ep.error_rate = self._rate(ep, now) + 1.0
            ep.rate_at = now
            ep.errors += 1
            ep.next_probe = max(ep.next_probe, now + self.probe_interval)
            notify = self._set_healthy(ep, False)
        if notify:
            notify()

    def _saw_height(self, ep: _Endpoint, height: int) -> None:
        with self._lock:
            ep.height = height
            self._top = max(self._top, height)

    # probes ----------------------------------------------------------------------------------
    def _probe(self, ep: _Endpoint) -> tuple[bool, int | None]:
        if ep.chain.health() != "ok":
            return False, None
        try:
            return True, ep.chain.block_height()
        except (TransientRpcError, PermanentRpcError):
            return False, None

    def _maybe_probe(self) -> None:
        """Probe, in parallel, the endpoints whose probe is due (never with one endpoint)."""
        if self._single:
            return
        now = self._clock()
        with self._lock:
            due = [ep for ep in self._endpoints if not ep.probing and now >= ep.next_probe]
            for ep in due:
                ep.probing, ep.next_probe = True, now + self.probe_interval
        if not due:
            return
        try:
            results = list(self._pool.map(self._probe, due))
        finally:
            with self._lock:
                for ep in due:
                    ep.probing = False
        for ep, (ok, height) in zip(due, results, strict=True):
            if not ok:
                with self._lock:
                    ep.health_ok = False
                self._fault(ep)
                continue
            self._saw_height(ep, height)
        with self._lock:  # heights first: an endpoint's lag is against all answers of this round
            notes = []
            for ep, (ok, _) in zip(due, results, strict=True):
                if ok:
                    ep.health_ok = True
                    notes.append(self._set_healthy(ep, self._lag(ep) <= self.max_slot_lag))
        for notify in notes:
            if notify:
                notify()

    # reads -----------------------------------------------------------------------------------
    def _read(self, call: Callable[[ChainClient], T], ep_seen=None) -> T:
        """``call`` on the best endpoint; after a transient fault, once more on the next best."""
        self._maybe_probe()
        last: TransientRpcError | None = None
        for ep in self._ranked()[:2]:
            try:
                result = call(ep.chain)
            except TransientRpcError as exc:  # SendOutcomeUnknown included
                self._fault(ep)
                last = exc
                continue
            if ep_seen is not None:
                ep_seen(ep, result)
            return result
        assert last is not None
        raise last

    def latest_blockhash(self) -> tuple[Hash, int]:
        return self._read(lambda c: c.latest_blockhash())

    def block_height(self) -> int:
        return self._read(lambda c: c.block_height(), ep_seen=self._saw_height)

    def health(self) -> str:
        """``"ok"`` if the best endpoint (or, failing it, the next best) says so; else why not."""
        if self._single:
            return self._endpoints[0].chain.health()
        self._maybe_probe()
        answer = "no endpoint"
        for ep in self._ranked()[:2]:
            answer = ep.chain.health()
            if answer == "ok":
                return answer
            with self._lock:
                ep.health_ok = False
            self._fault(ep)
        return answer

    def balance(self, pubkey: Pubkey) -> int:
        return self._read(lambda c: c.balance(pubkey))

    def recent_fees(self, accounts: Sequence[Pubkey]) -> list[int]:
        return self._read(lambda c: c.recent_fees(accounts))

    def accounts(self, pubkeys: Sequence[Pubkey]) -> list[Account | None]:
        return self._read(lambda c: c.accounts(pubkeys))

    def largest_token_accounts(self, mint: Pubkey) -> list[tuple[Pubkey, int]]:
        return self._read(lambda c: c.largest_token_accounts(mint))

    def fee_payer_spent(self, signature: Signature) -> int | None:
        return self._read(lambda c: c.fee_payer_spent(signature))

    def statuses(self, signatures: Sequence[Signature]) -> list[TransactionStatus | None]:
        return self._read(lambda c: c.statuses(signatures))

    def simulate(self, tx: VersionedTransaction) -> Simulation:
        return self._read(lambda c: c.simulate(tx))

    # send ------------------------------------------------------------------------------------
    def send(self, raw: bytes) -> Signature:
        """Send the same bytes to every healthy endpoint (every endpoint if none is healthy).

        Returns the signature if at least one took them; a preflight ``AlreadyProcessed`` from
        one counts as taken (another copy got there first). When all failed, raises
        :class:`TransactionRejected` if one refused them, else :class:`SendOutcomeUnknown` if
        one may have taken them, else the last error.
        """
        if self._single:
            ep = self._endpoints[0]
            try:
                return ep.chain.send(raw)
            except TransientRpcError:
                self._fault(ep)
                raise
        self._maybe_probe()
        ranked = self._ranked()
        targets = [ep for ep in ranked if ep.healthy] or ranked
        futures = [(ep, self._pool.submit(ep.chain.send, raw)) for ep in targets]
        taken: Signature | None = None
        errors: list[Exception] = []
        for ep, future in futures:
            try:
                signature = future.result()
            except TransactionRejected as exc:
                if "AlreadyProcessed" not in exc.err:
                    errors.append(exc)
                    continue
                signature = VersionedTransaction.from_bytes(raw).signatures[0]
            except TransientRpcError as exc:
                self._fault(ep)
                errors.append(exc)
                continue
            except PermanentRpcError as exc:
                errors.append(exc)
                continue
            taken = taken or signature
        if taken is not None:
            return taken
        for kind in (TransactionRejected, SendOutcomeUnknown):
            for exc in errors:
                if isinstance(exc, kind):
                    raise exc
        raise errors[-1]

    def send_many(self, raws: Sequence[bytes]) -> list[Signature | MinterError]:
        """One batch request to a lone endpoint; over several, each as :meth:`send` sends it
        (to every healthy endpoint, its answers weighed together)."""
        if self._single:
            ep = self._endpoints[0]
            out = ep.chain.send_many(raws)
            if any(isinstance(r, TransientRpcError) for r in out):
                self._fault(ep)
            return out
        results: list[Signature | MinterError] = []
        for raw in raws:
            try:
                results.append(self.send(raw))
            except MinterError as exc:
                results.append(exc)
        return results

    # the rest --------------------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """The solana-py ``Client`` of the current best endpoint."""
        return self._ranked()[0].chain.client

    def endpoints(self) -> list[dict]:
        """Per endpoint, in configured order: url, healthy, score, errors, slot_lag."""
        now = self._clock()
        with self._lock:
            return [
                {
                    "url": ep.url,
                    "healthy": ep.healthy,
                    "score": self._score(ep, now),
                    "errors": ep.errors,
                    "slot_lag": self._lag(ep),
                }
                for ep in self._endpoints
            ]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for ep in self._endpoints:
            ep.chain.close()
