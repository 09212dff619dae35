"""The whole service on one machine: PostgreSQL, Redis, the embedded validator, worker processes.

Used by the demo (scripts/demo.py), the pipeline tests and the benchmarks. Keys are generated
here at run time and written under the git-ignored ``.local/``; nothing secret is printed.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from solders.keypair import Keypair

from scripts.local_services import ROOT, LocalPostgres, LocalRedis

DEFAULT_AIRDROP_SOL = 500
DEFAULT_WAIT = 120.0
LAMPORTS_PER_SOL = 1_000_000_000
TERMINAL = ("completed", "failed")


class Stack:
    """Owns the processes it starts; ``env`` is what the ``minter`` commands need."""

    def __init__(
        self,
        *,
        postgres: LocalPostgres | None = None,
        redis: LocalRedis | None = None,
        rpc_url: str | None = None,
        standard: str = "token2022",
        slot_ms: int = 400,
        programs: Mapping[str, str] | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self._own_pg = postgres is None
        self._own_redis = redis is None
        self.postgres = postgres
        self.redis = redis
        self.rpc_url = rpc_url
        self.standard = standard
        self.slot_ms = slot_ms
        self.programs = dict(programs or {})
        self.extra_env = dict(extra_env or {})
        self.workdir = Path(tempfile.mkdtemp(prefix="stack-", dir=ROOT / ".local"))
        self.payer = Keypair()
        self.mint_secret = secrets.token_hex(32)
        self.database_url: str | None = None
        self._localnet = None
        self._workers: list[subprocess.Popen] = []
        from scripts.local_services import free_port

        self.metrics_port = free_port()  # the workers' Prometheus endpoint

    # lifecycle -----------------------------------------------------------------------------
    def start(self, *, database: str | None = None, fund: bool = True) -> Stack:
        from minter.keys import write_keypair_file

        if self.postgres is None:
            self.postgres = LocalPostgres().start()
        if self.redis is None:
            self.redis = LocalRedis().start()
        name = database or f"minter_{secrets.token_hex(4)}"
        self.database_url = self.postgres.create_database(name)
        if self.rpc_url is None:
            from minter.localnet.process import LocalnetProcess

            self._localnet = LocalnetProcess(slot_ms=self.slot_ms, programs=self.programs)
            self._localnet.__enter__()
            self.rpc_url = self._localnet.url
        write_keypair_file(self.payer, self.workdir / "payer.json")
        if fund:
            self.fund(self.payer.pubkey(), DEFAULT_AIRDROP_SOL * LAMPORTS_PER_SOL)
        self.minter("migrate")
        return self

    def stop(self) -> None:
        self.stop_workers()
        if self._localnet is not None:
            self._localnet.__exit__(None, None, None)
            self._localnet = None
        if self._own_redis and self.redis is not None:
            self.redis.stop()
        if self._own_pg and self.postgres is not None:
            self.postgres.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # environment and commands ----------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SOLANA_", "MINT_"))},
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url(),
            "SOLANA_RPC_URL": self.rpc_url,
            "SOLANA_PAYER_KEYPAIR": str(self.workdir / "payer.json"),
            "MINT_KEY_SECRET": self.mint_secret,
            "NFT_STANDARD": self.standard,
            "SOLANA_COMMITMENT": "confirmed",
            "WORKER_METRICS_PORT": str(self.metrics_port),
            "WORKER_METRICS_HOST": "127.0.0.1",
            "TMPDIR": str(self.workdir),  # a SIGKILLed worker's metrics files go with the stack
            **self.extra_env,
        }

    def minter(self, *args: str, check: bool = True, **kw) -> subprocess.CompletedProcess:
        res = subprocess.run(
            [sys.executable, "-m", "actors.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            **kw,
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"minter {' '.join(args)} failed: {res.stderr.strip()[-800:]}")
        return res

    def fund(self, pubkey, lamports: int) -> None:
        from solana.rpc.api import Client

        client = Client(self.rpc_url)
        sig = client.request_airdrop(pubkey, lamports).value
        client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.05)

    # workers -----------------------------------------------------------------------------------
    def start_workers(self, *, processes: int = 1, threads: int = 8, log_name: str = "worker"):
        log = open(self.workdir / f"{log_name}-{len(self._workers)}.log", "ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.cli",
                "worker",
                "--processes",
                str(processes),
                "--threads",
                str(threads),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so one signal reaches the whole process tree
        )
        self._workers.append(proc)
        return proc

    def stop_workers(self, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        for proc in self._workers:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
        for proc in self._workers:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._workers.clear()

    def worker_logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))

    # ledger ------------------------------------------------------------------------------------
    def statuses(self, ticket_ids: Iterable[str] | None = None) -> dict[str, str]:
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            if ticket_ids is None:
                rows = conn.execute("SELECT ticket_id, status FROM nft_mints").fetchall()
            else:
                rows = conn.execute(
                    "SELECT ticket_id, status FROM nft_mints WHERE ticket_id = ANY(%s)",
                    (list(ticket_ids),),
                ).fetchall()
        return dict(rows)

    def wait_until_resolved(
        self, ticket_ids: Iterable[str], *, timeout: float = DEFAULT_WAIT, poll: float = 0.25
    ) -> dict[str, str]:
        """Wait until every ticket is completed or failed; returns the final statuses."""
        ids = list(ticket_ids)
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.statuses(ids)
            if len(statuses) == len(ids) and all(s in TERMINAL for s in statuses.values()):
                return statuses
            if time.monotonic() > deadline:
                return statuses
            time.sleep(poll)
