"""Throwaway PostgreSQL and Redis servers for development and tests, without Docker.

    python -m devtools.local_services       # start both, print their URLs, Ctrl-C stops them

PostgreSQL comes from the system's ``initdb``/``pg_ctl`` (15), its data in a project-local,
git-ignored directory (``.local/``), on a free loopback port. Redis comes from Debian's
``redis-server`` package, installed when missing. The pytest fixtures use the same classes.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE_DIR = ROOT / ".local"
DEFAULT_START_TIMEOUT = 60.0
DEFAULT_PG_USER = "postgres"  # the database superuser name, and the OS user when we are root
DEFAULT_MAX_CONNECTIONS = 300


def local_dir(base: Path = DEFAULT_BASE_DIR) -> Path:
    """The git-ignored working directory (``.local/``), made on first use: a clone has none."""
    base.mkdir(parents=True, exist_ok=True)
    return base


class ServiceError(RuntimeError):
    """Raised when a local service cannot be installed, started or reached."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, *, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process exited with {proc.returncode} before port {port} opened")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing answered on 127.0.0.1:{port} within {timeout:.0f}s")


def _os_user_for_postgres() -> str | None:
    """PostgreSQL refuses to run as root: pick (or create) an unprivileged OS user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(DEFAULT_PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", DEFAULT_PG_USER], check=True)
    return DEFAULT_PG_USER


class LocalPostgres:
    """A PostgreSQL 15 cluster in a temporary directory under ``base_dir``."""

    def __init__(
        self,
        *,
        base_dir: Path = DEFAULT_BASE_DIR,
        port: int | None = None,
        durable: bool = False,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.port = port or free_port()
        self.durable = durable
        self.start_timeout = start_timeout
        self.data_dir: Path | None = None
        self._os_user = _os_user_for_postgres()

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        # cwd "/": the server's OS user may not be allowed into the caller's directory
        return subprocess.run(
            args, user=self._os_user, capture_output=True, text=True, check=False, cwd="/", **kw
        )

    def _data_parent(self) -> Path:
        """``.local/``, unless the server's OS user cannot reach it (root's clone in a 0700
        folder such as /root): then the system's temporary directory."""
        base = local_dir(self.base_dir)
        if self._os_user and self._run(["test", "-x", str(base)]).returncode != 0:
            return Path(tempfile.gettempdir())
        return base

    def start(self) -> LocalPostgres:
        for tool in ("initdb", "pg_ctl"):
            if shutil.which(tool) is None:
                raise ServiceError(f"{tool} not on PATH: install PostgreSQL 15's server binaries")
        self.data_dir = Path(tempfile.mkdtemp(prefix="pg-", dir=self._data_parent()))
        if self._os_user:
            shutil.chown(self.data_dir, user=self._os_user)
        init = self._run(
            [
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                DEFAULT_PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if init.returncode != 0:
            raise ServiceError(f"initdb failed: {init.stderr.strip()[-500:]}")
        self._pg_ctl_start()
        return self

    def _pg_ctl_start(self) -> None:
        assert self.data_dir is not None
        opts = [
            "-c listen_addresses=127.0.0.1",
            f"-c port={self.port}",
            f"-c unix_socket_directories={self.data_dir}",
            f"-c max_connections={DEFAULT_MAX_CONNECTIONS}",
        ]
        if not self.durable:  # throwaway data: trade crash safety for speed
            opts += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        res = self._run(
            [
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.data_dir / "server.log"),
                "-o",
                " ".join(opts),
                "-w",
                "-t",
                str(int(self.start_timeout)),
                "start",
            ]
        )
        if res.returncode != 0:
            raise ServiceError(f"pg_ctl start failed: {(res.stdout + res.stderr).strip()[-500:]}")
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:

        deadline = time.monotonic() + self.start_timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise ServiceError(f"PostgreSQL did not answer: {exc}") from None
                time.sleep(0.1)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{DEFAULT_PG_USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stop the server (fast shutdown), stay down ``down_seconds``, start it again."""
        self._pg_ctl_stop()
        time.sleep(down_seconds)
        self._pg_ctl_start()

    def _pg_ctl_stop(self) -> None:
        if self.data_dir is not None and (self.data_dir / "postmaster.pid").exists():
            self._run(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])

    def stop(self) -> None:
        if self.data_dir is None:
            return
        self._pg_ctl_stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir = None

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def ensure_redis_server() -> str:
    """Path of ``redis-server``; installs Debian's package when it is missing (needs root)."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ServiceError("redis-server is missing: install Debian's redis-server package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "redis-server"],
    ):
        res = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            raise ServiceError(f"{' '.join(args)} failed: {res.stderr.strip()[-500:]}")
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise ServiceError("redis-server still missing after apt-get install")
    return found


class LocalRedis:
    """A Redis server with no persistence on a free loopback port."""

    def __init__(
        self, *, port: int | None = None, start_timeout: float = DEFAULT_START_TIMEOUT
    ) -> None:
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen | None = None

    def start(self) -> LocalRedis:
        binary = ensure_redis_server()
        self._proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, timeout=self.start_timeout, proc=self._proc)
        return self

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    stop = False

    def _on_signal(signum, frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        with LocalPostgres(durable=True) as pg, LocalRedis() as redis:
            print(f"DATABASE_URL={pg.url()}", flush=True)
            print(f"REDIS_URL={redis.url()}", flush=True)
            print("both answer; Ctrl-C stops them", file=sys.stderr, flush=True)
            while not stop:
                time.sleep(0.2)
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
