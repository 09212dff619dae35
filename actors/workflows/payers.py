"""The fee-payer pool: which key pays the next mint (DESIGN.md, Scaling out).

Every mint write-locks its fee payer, so mints are spread over several payers. Per process, the
pool hands out the least recently used payer among the funded ones, so the split is even. A
payer is funded while its balance is at least ``min_lamports``; balances are read through the
:class:`~actors.workflows.ports.Chain` port and kept for ``balance_ttl`` seconds (one read per
payer per TTL, never one per mint). A payer below the minimum is skipped, said once per change
(a structlog warning) and shown by the gauges ``minting_payer_funded{payer}`` and
``solana_payer_lamports{payer}``, until a later read finds it topped up. :meth:`PayerPool.drained`
skips one at once, when the cluster refused a transaction for its funds.

The mint address never depends on the payer (``minter.keys.derive_mint_keypair``), so an
attempt paid by one payer that expired may be rebuilt with another: exactly once holds.
Collections, lifecycle operations and transfers are paid and signed by the authority key, not
by the pool.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from solders.pubkey import Pubkey

from actors.infra import metrics
from actors.workflows.ports import Chain
from minter.keys import Payer

DEFAULT_MIN_LAMPORTS = 50_000_000  # MINT_PAYER_MIN_LAMPORTS: below it, a payer is skipped
DEFAULT_BALANCE_TTL = 5.0  # seconds a payer's balance read is reused
NO_PAYER_FUNDED = "no fee payer is funded"  # the start of a waiting mint's reason

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PayerBalance:
    """One payer as the pool last read it."""

    payer: Payer
    lamports: int
    funded: bool

    @property
    def address(self) -> str:
        return str(self.payer.pubkey)


class PayerPool:
    """The fee payers of one process: least recently used among the funded ones.

    Thread-safe (a worker process runs several threads); one instance per process.
    """

    def __init__(
        self,
        payers: Sequence[Payer],
        *,
        chain: Chain,
        min_lamports: int = DEFAULT_MIN_LAMPORTS,
        balance_ttl: float = DEFAULT_BALANCE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not payers:
            raise ValueError("a payer pool needs at least one payer")
        keys = [p.pubkey for p in payers]
        if len(set(keys)) != len(keys):
            raise ValueError("a payer is named twice in the pool")
        self.payers: tuple[Payer, ...] = tuple(payers)
        self.chain = chain
        self.min_lamports = min_lamports
        self.balance_ttl = balance_ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = itertools.count(1)
        self._used: dict[Pubkey, int] = dict.fromkeys(keys, 0)  # turn of the last use
        self._read: dict[Pubkey, tuple[float, int]] = {}  # (read at, lamports)
        self._funded: dict[Pubkey, bool] = {}  # the last state said (log, gauge)

    # -----------------------------------------------------------------------------------------
    # choosing

    def pick(self) -> Payer | None:
        """The funded payer used least recently (ties: pool order), now marked used; None
        when no payer is funded (the mint waits, it never fails for it)."""
        with self._lock:
            funded = [p for p in self.payers if self._lamports(p) >= self.min_lamports]
            if not funded:
                return None
            chosen = min(funded, key=lambda p: self._used[p.pubkey])
            self._used[chosen.pubkey] = next(self._turn)
            return chosen

    def drained(self, payer: Pubkey | Payer) -> None:
        """The cluster refused a transaction for ``payer``'s funds: skip it now, until a read
        after the TTL finds it topped up."""
        key = payer.pubkey if isinstance(payer, Payer) else payer
        if key not in self._used:
            return  # the authority, or a key of another pool: nothing to skip
        with self._lock:
            self._set(key, 0)

    # -----------------------------------------------------------------------------------------
    # reading

    def balances(self, *, fresh: bool = False) -> list[PayerBalance]:
        """Every payer, drained ones included, in pool order (cached reads; ``fresh``: read
        each now, as ops endpoints and the reporter do)."""
        with self._lock:
            out = []
            for p in self.payers:
                lamports = self._lamports(p, fresh=fresh)
                out.append(PayerBalance(p, lamports, lamports >= self.min_lamports))
            return out

    def funded(self) -> list[Payer]:
        return [b.payer for b in self.balances() if b.funded]

    def owns(self, payer: Pubkey) -> bool:
        return payer in self._used

    def _lamports(self, payer: Payer, *, fresh: bool = False) -> int:
        """Its balance, read again once the last read is older than the TTL (lock held)."""
        key = payer.pubkey
        seen = self._read.get(key)
        if not fresh and seen is not None and self._clock() - seen[0] < self.balance_ttl:
            return seen[1]
        try:
            lamports = self.chain.balance(key)
        except Exception:
            if seen is None:
                raise  # never read: the caller's transient failure (retried)
            log.warning("payer_balance_unreadable", payer=str(key))
            return seen[1]  # keep the last figure until the cluster answers
        self._set(key, lamports)
        return lamports

    def _set(self, key: Pubkey, lamports: int) -> None:
        self._read[key] = (self._clock(), lamports)
        funded = lamports >= self.min_lamports
        metrics.payer_balance(str(key), lamports, funded)
        if self._funded.get(key) == funded:
            return
        first = key not in self._funded
        self._funded[key] = funded
        if not funded:
            log.warning(
                "payer_unfunded",
                payer=str(key),
                lamports=lamports,
                min_lamports=self.min_lamports,
                skipped="until topped up",
            )
        elif not first:
            log.info("payer_funded", payer=str(key), lamports=lamports)
