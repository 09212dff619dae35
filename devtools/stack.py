"""The whole service on one machine: PostgreSQL, Redis, the embedded validator, worker processes
and, on request, the HTTP API.

Used by the demo (scripts/demo.py), the pipeline tests and the benchmarks. Keys and secrets are
generated here at run time and written under the git-ignored ``.local/`` (made when missing);
nothing secret is printed. Workers and the API each run in a session of their own, so a Ctrl-C
at the terminal reaches only the owner of the Stack, which stops them in order.
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

import httpx
import jwt
import psycopg
from solana.rpc.api import Client
from solders.keypair import Keypair

from devtools.local_services import ROOT, LocalPostgres, LocalRedis, free_port, local_dir
from ledger.models import Status
from minter.keys import write_keypair_file

DEFAULT_AIRDROP_SOL = 500
DEFAULT_WAIT = 120.0
DEFAULT_API_START_TIMEOUT = 30.0  # seconds for `minter api` to answer /health
DEFAULT_STOP_TIMEOUT = 20.0  # seconds a process group gets after SIGTERM before SIGKILL
DEFAULT_TOKEN_TTL = 86_400  # seconds: development tokens last one day
LAMPORTS_PER_SOL = 1_000_000_000
TERMINAL = (Status.COMPLETED, Status.FAILED)


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
        self.workdir = Path(tempfile.mkdtemp(prefix="stack-", dir=local_dir()))
        self.payer = Keypair()
        self.mint_secret = secrets.token_hex(32)
        self.jwt_secret = secrets.token_urlsafe(48)  # the API's; only tokens leave this object
        self.database_url: str | None = None
        self.api_url: str | None = None
        self._localnet = None
        self._workers: list[subprocess.Popen] = []
        self._api: subprocess.Popen | None = None
        self.metrics_port = free_port()  # the workers' Prometheus endpoint

    # lifecycle -----------------------------------------------------------------------------
    def start(self, *, database: str | None = None, fund: bool = True) -> Stack:
        """Start what the Stack owns; on any failure or interrupt, stop what had started."""
        try:
            return self._start(database=database, fund=fund)
        except BaseException:
            self.stop()
            raise

    def _start(self, *, database: str | None, fund: bool) -> Stack:

        # assigned before start(), so stop() finds a server whose start was interrupted
        if self.postgres is None:
            self.postgres = LocalPostgres()
            self.postgres.start()
        if self.redis is None:
            self.redis = LocalRedis()
            self.redis.start()
        name = database or f"minter_{secrets.token_hex(4)}"
        self.database_url = self.postgres.create_database(name)
        if self.rpc_url is None:
            # the embedded validator, only when no RPC URL was given
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
        """Stop everything this Stack started, callers first; safe to call again, and each step
        runs even when an earlier one fails or its process had already died (e.g. of a Ctrl-C
        that reached it directly)."""
        steps = [self.stop_api, self.stop_workers, self._stop_localnet]
        if self._own_redis and self.redis is not None:
            steps.append(self.redis.stop)
        if self._own_pg and self.postgres is not None:
            steps.append(self.postgres.stop)
        errors = []
        for step in steps:
            try:
                step()
            except Exception as exc:  # keep stopping the rest; raise the first at the end
                errors.append(exc)
        if errors:
            raise errors[0]

    def _stop_localnet(self) -> None:
        if self._localnet is not None:
            self._localnet.__exit__(None, None, None)
            self._localnet = None

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
            [sys.executable, "-m", "actors.entrypoints.cli", *args],
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

        client = Client(self.rpc_url)
        sig = client.request_airdrop(pubkey, lamports).value
        client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.05)

    # workers -----------------------------------------------------------------------------------
    def start_workers(
        self, *, processes: int | None = 1, threads: int | None = 8, log_name: str = "worker"
    ):
        """``minter worker``; None leaves that count to the command's default."""
        log = open(self.workdir / f"{log_name}-{len(self._workers)}.log", "ab")
        counts = [("--processes", processes), ("--threads", threads)]
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.entrypoints.cli",
                "worker",
                *(part for flag, n in counts if n is not None for part in (flag, str(n))),
            ],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so one signal reaches the whole process tree
        )
        self._workers.append(proc)
        return proc

    def stop_workers(
        self, *, sig: int = signal.SIGTERM, timeout: float = DEFAULT_STOP_TIMEOUT
    ) -> None:
        for proc in self._workers:
            _signal_group(proc, sig)
        for proc in self._workers:
            _reap_group(proc, timeout)
        self._workers.clear()

    # the HTTP API ------------------------------------------------------------------------------
    def start_api(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        timeout: float = DEFAULT_API_START_TIMEOUT,
    ) -> str:
        """Run ``minter api`` on ``port`` (a free one by default) with this Stack's env and
        ``jwt_secret``; returns its base URL once ``/health`` answers."""

        if self._api is not None:
            raise RuntimeError(f"the API already runs at {self.api_url}")
        port = port or free_port()
        # the user's JWT_ISSUER/JWT_AUDIENCE would refuse this Stack's tokens: not inherited
        env = {k: v for k, v in self.env.items() if not k.startswith("JWT_")}
        env["JWT_SECRET"] = self.jwt_secret
        log = open(self.workdir / "api.log", "ab")
        self._api = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "actors.entrypoints.cli",
                "api",
                "--host",
                host,
                "--port",
                str(port),
            ],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like the workers: only the Stack's owner stops it
        )
        log.close()  # the child holds its own copy
        url = f"http://{host}:{port}"
        deadline = time.monotonic() + timeout
        while True:
            if self._api.poll() is not None:
                tail = (self.workdir / "api.log").read_text(errors="replace").strip()[-800:]
                self._api = None
                raise RuntimeError(f"minter api exited before answering on {url}: {tail}")
            try:
                if httpx.get(f"{url}/health", timeout=1.0).status_code == 200:
                    self.api_url = url
                    return url
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop_api()
                raise RuntimeError(f"minter api did not answer on {url} within {timeout:.0f}s")
            time.sleep(0.1)

    def stop_api(self, *, timeout: float = DEFAULT_STOP_TIMEOUT) -> None:
        if self._api is None:
            return
        _signal_group(self._api, signal.SIGTERM)
        _reap_group(self._api, timeout)
        self._api = None
        self.api_url = None

    def token(
        self, *, sub: str = "demo", role: str = "service", ttl: float = DEFAULT_TOKEN_TTL
    ) -> str:
        """A bearer token the API accepts (HS256 with ``jwt_secret``), expiring in ``ttl``s."""

        now = int(time.time())
        claims = {"sub": sub, "role": role, "iat": now, "exp": now + int(ttl)}
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")

    def processes(self) -> dict[str, subprocess.Popen]:
        """The long-running children that should be alive: the API and each worker group."""
        procs = {f"worker {i}": p for i, p in enumerate(self._workers)}
        if self._api is not None:
            procs["api"] = self._api
        return procs

    def worker_logs(self) -> str:  # every log of the workdir, the API's included
        return "".join(p.read_text(errors="replace") for p in sorted(self.workdir.glob("*.log")))

    # ledger ------------------------------------------------------------------------------------
    def statuses(self, ticket_ids: Iterable[str] | None = None) -> dict[str, str]:

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


# process groups ------------------------------------------------------------------------------
def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group that ``proc`` leads (its own session) while anything is in it."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # leader and members all gone
        pass


def _reap_group(proc: subprocess.Popen, timeout: float) -> None:
    """Wait for the group's leader, then for its other members; SIGKILL what outlives
    ``timeout``. A leader can exit before its forks do, so waiting on it alone is not enough."""
    deadline = time.monotonic() + timeout
    try:
        proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()
    # the reaped leader's pid stays reserved while members of its group live, so this is ours
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(proc.pid):
        _signal_group(proc, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else: not ours to wait for
        return False
    return True
