"""Readiness and balance, as ``/ready``, ``/balance``, ``minter health`` and ``minter balance`` say.

Each readiness check answers on its own, so a 503 names every dependency that is not ready.
"How many more mints" divides each fee payer's balance by the measured cost per ticket (the
lamports the fee payers lost over recently completed mints), or by the standard's known cost
before any mint has been measured. Every payer of the pool is listed, drained ones included;
ready needs one funded payer (at least ``MINT_PAYER_MIN_LAMPORTS``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from solders.pubkey import Pubkey
from solders.signature import Signature
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from actors.infra.exit_codes import POSTGRES, REDIS, RPC, unreachable
from actors.workflows.payers import DEFAULT_MIN_LAMPORTS, PayerPool
from minter.nft.core import CORE_PROGRAM_ID

LAMPORTS_PER_SOL = 1_000_000_000
METAPLEX_PROGRAM = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")
# Lamports one ticket takes from the payer (rent + fees), used until recent mints are measured.
# Measured 2026-11-24 on the embedded validator with the 2026 Token Metadata program, N=50 of
# the demo's tickets (event, venue, seat set), through actors.workflows.mints.build_signed:
#   MPL_TOKEN_METADATA_SO=/work/programs/mpl_token_metadata.so \
#       .venv/bin/python -m scripts.measure_costs --tickets 50
# Metaplex: 9,646,560 rent + 10,000,000 protocol fee + 10,000 fee, whatever the metadata.
# Token-2022: the largest demo ticket; rent grows 6,960 per metadata byte (the longest the
# intake accepts: 7,805,200).
# Core: measured 2026-11-25 on the embedded validator with /work/programs/mpl_core.so, one
# ticket built by minter.nft.transaction.build_mint_transaction, in its event's collection, with
# Attributes (event_id E-7, venue_id V-3, seat B12), a frozen PermanentFreezeDelegate, name
# "Ticket #12", uri "https://tickets.example/12.json" (a demo ticket; the asset is 214 bytes):
#   MPL_CORE_SO=/work/programs/mpl_core.so .venv/bin/pytest -s \
#       tests/integration/test_core_reads_onchain.py -k costs
# 2,380,320 rent + 1,500,000 Core protocol fee (CreateV2) + 10,000 fee (payer and asset sign);
# rent grows 6,960 per byte of name, uri or attribute (4 attributes and longer texts: 4,454,080).
KNOWN_COST = {"core": 3_890_320, "metaplex": 19_656_560, "token2022": 6_072_160}
# the program each standard's mints need deployed (executable) to be ready
PROGRAMS = {"core": CORE_PROGRAM_ID, "metaplex": METAPLEX_PROGRAM}
DEPENDENCIES = (POSTGRES, REDIS, RPC)  # readiness checks named after what they reach
DEFAULT_MAX_SLOTS_BEHIND = 150
DEFAULT_COST_SAMPLE = 20  # recent mints whose transactions are read to measure the cost
DEFAULT_COST_TTL = 60.0  # seconds a measured cost is reused


@dataclass
class Health:
    """Checks over built services; the cost per ticket is measured from recent mints."""

    services: object
    ping_redis: Callable[[], bool] | None = None
    # the fee payers (one pool per process: the entry point's); None: built from the settings
    payers: PayerPool | None = None
    cost_sample: int = DEFAULT_COST_SAMPLE
    cost_ttl: float = DEFAULT_COST_TTL
    _measured: tuple[float, int | None] | None = None

    def pool(self) -> PayerPool:
        """The fee-payer pool of the settings (SOLANA_PAYER_KEYPAIRS, or the one payer)."""
        if self.payers is None:
            signer = self.services.settings.signer
            self.payers = PayerPool(
                getattr(signer, "payers", None) or (signer.payer,),
                chain=self.services.chain,
                min_lamports=getattr(signer, "payer_min_lamports", DEFAULT_MIN_LAMPORTS),
            )
        return self.payers

    def measured_cost(self) -> int | None:
        """Mean lamports the payer spent per recent completed mint (fee and rent), if any."""
        now = time.monotonic()
        if self._measured is not None and now - self._measured[0] < self.cost_ttl:
            return self._measured[1]
        standard = self.services.settings.minting.standard
        with self.services.uow_factory() as uow:
            sigs = uow.mints.recent_signatures(standard=standard, limit=self.cost_sample)
        spent = [self.services.chain.fee_payer_spent(Signature.from_string(s)) for s in sigs]
        spent = [x for x in spent if x]
        cost = round(sum(spent) / len(spent)) if spent else None
        self._measured = (now, cost)
        return cost

    def _check(self, fn) -> tuple[bool, str]:
        try:
            return fn()
        except Exception as exc:  # a readiness probe reports, it does not raise
            name = type(exc).__name__
            return False, f"unreachable ({name})" if unreachable(exc) else name

    def _postgres(self):
        with self.services.uow_factory() as uow:
            uow.metrics.ping()
        return True, "ok"

    def _redis(self):
        return (True, "ok") if self.ping_redis() else (False, "no PONG")

    def _rpc(self):
        answer = self.services.chain.health()
        return (True, "ok") if answer == "ok" else (False, answer)

    def _program(self):
        program = PROGRAMS.get(self.services.settings.minting.standard, TOKEN_2022_PROGRAM_ID)
        (account,) = self.services.chain.accounts([program])
        if account is None or not account.executable:
            return False, f"{program} is not deployed"
        return True, "ok"

    def _funded(self):
        pool = self.pool()
        balances = pool.balances(fresh=True)
        funded = sum(b.funded for b in balances)
        if not funded:
            most = max(b.lamports for b in balances)
            return False, (
                f"no payer is funded: the richest of {len(balances)} has {most} lamports, "
                f"below {pool.min_lamports}"
            )
        return True, "ok" if funded == len(balances) else f"{funded} of {len(balances)} funded"

    def readiness(self) -> dict:
        checks = {
            "postgres": self._postgres,
            "redis": self._redis,
            "rpc": self._rpc,
            "metadata_program": self._program,
            "payer_funded": self._funded,
        }
        results = {name: self._check(fn) for name, fn in checks.items()}
        not_ready = [name for name, (ok, _) in results.items() if not ok]
        return {
            "ready": not not_ready,
            "not_ready": not_ready,
            # the dependencies that did not answer at all (exit 3), not merely not ready (1)
            "unreachable": [
                name
                for name in not_ready
                if name in DEPENDENCIES and results[name][1].startswith("unreachable")
            ],
            "checks": {name: detail for name, (_, detail) in results.items()},
            "webhooks": self._webhooks(),
        }

    def _webhooks(self) -> dict:
        """Shown, not gating: a receiver that is down must not take the minting API out of
        its load balancer; ops see the disabled endpoints here and in the metrics."""
        try:
            with self.services.uow_factory() as uow:
                rows = uow.webhooks.endpoints()
                oldest = uow.webhooks.oldest_undelivered()
        except Exception as exc:  # Postgres is reported above
            return {"error": type(exc).__name__}
        return {
            "endpoints": len(rows),
            "disabled": [r.endpoint_id for r in rows if r.status == "disabled"],
            "oldest_undelivered_seconds": round(oldest, 3),
        }

    def balance(self) -> dict:
        """Every payer's balance and runway, and the totals. ``payer``, ``lamports``, ``sol``
        and ``mints_left`` keep their first meaning for a pool of one (the first payer, the
        pool's total); ``authority`` is the key that pays collections, lifecycle operations
        and transfers."""
        balances = self.pool().balances(fresh=True)
        measured = self._check(lambda: (True, self.measured_cost()))[1]
        measured = measured if isinstance(measured, int) else None
        cost = measured or KNOWN_COST[self.services.settings.minting.standard]
        payers = [
            {
                "address": b.address,
                "lamports": b.lamports,
                "funded": b.funded,
                "mints_left": b.lamports // cost,
            }
            for b in balances
        ]
        total = sum(b.lamports for b in balances)
        report = {
            "payers": payers,
            "total_lamports": total,
            "mints_left": sum(p["mints_left"] for p in payers),
            "payer": payers[0]["address"],
            "lamports": total,
            "sol": total / LAMPORTS_PER_SOL,
            "cost_per_ticket_lamports": cost,
            "cost_measured": measured is not None,
        }
        authority = getattr(self.services.settings.signer, "authority", None)
        if authority is not None:
            lamports = self.services.chain.balance(authority.pubkey)
            report["authority"] = {"address": str(authority.pubkey), "lamports": lamports}
        return report
