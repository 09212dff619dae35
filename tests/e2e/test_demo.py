"""The README's first command, as a user runs it.

1. A fresh clone of HEAD (no ``.local/``, ``.venv/`` or ``node_modules/``) runs
   ``bash scripts/demo.sh --once``: it installs itself, mints the demo batch through the API and
   exits 0 with every ticket completed, leaving no process behind.
2. The stay-up mode: the printed ``curl`` line mints one more ticket with the printed token, and
   a Ctrl-C (SIGINT to the demo's process group, as a terminal sends it) stops every process the
   demo started, including the daemonized PostgreSQL and the workers' and API's own sessions.
   The token is signed with the API's secret, and no secret is ever printed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import httpx
import jwt
import pytest
from solders.keypair import Keypair

ROOT = Path(__file__).resolve().parents[2]
CLONE_TIMEOUT = 900  # seconds: a fresh venv, the Node packages and the demo itself
UP_TIMEOUT = 240  # seconds until the stay-up demo prints its curl lines
STOP_TIMEOUT = 90  # seconds for a Ctrl-C to stop everything (each group gets 20s before SIGKILL)
MINT_TIMEOUT = 60  # seconds for the extra ticket to complete
DAY = 86_400
# git-ignored: a clone has none of these, and the demo must make them itself
MADE_BY_SETUP = (".local", ".venv", "tests/js/web3/node_modules", "tests/js/mpl/node_modules")


# processes ------------------------------------------------------------------------------------
class Proc(NamedTuple):
    ppid: int
    sid: int
    state: str
    start: int  # clock ticks after boot: tells a reused pid from the original


def _stat(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces
    return Proc(ppid=int(fields[1]), sid=int(fields[3]), state=fields[0], start=int(fields[19]))


def _snapshot() -> dict[int, Proc]:
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (p := _stat(int(entry))) is not None:
            procs[int(entry)] = p
    return procs


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except (FileNotFoundError, ProcessLookupError):
        return []


def _started_by(root: int, *, also_sessions: set[int] = frozenset()) -> dict[int, Proc]:
    """``root``, its descendants, and every process in a session one of them leads or joined
    (workers and the API run in their own) or in ``also_sessions`` (a daemonized postmaster)."""
    procs = _snapshot()
    children: dict[int, list[int]] = {}
    for pid, p in procs.items():
        children.setdefault(p.ppid, []).append(pid)
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    sessions = ({procs[p].sid for p in tree if p in procs} | set(also_sessions)) - {os.getsid(0)}
    return {pid: p for pid, p in procs.items() if pid in tree or p.sid in sessions}


def _still_alive(started: dict[int, Proc]) -> dict[int, str]:
    alive = {}
    for pid, before in started.items():
        now = _stat(pid)
        if now is not None and now.start == before.start and now.state != "Z":
            alive[pid] = " ".join(_cmdline(pid))[:160]
    return alive


def _wait_all_gone(started: dict[int, Proc], timeout: float = 10.0) -> dict[int, str]:
    deadline = time.monotonic() + timeout
    while (alive := _still_alive(started)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def _clean_env() -> dict[str, str]:
    """The user's environment, without this checkout's venv on PATH."""
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT))]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PATH": os.pathsep.join(path)}


def _demo_rows(stdout: str) -> dict[str, str]:
    """Ticket id → status, from the demo's table."""
    return {
        line.split()[0]: line.split()[-1]
        for line in stdout.splitlines()
        if re.match(r"DEMO-\d{4}\s", line)
    }


# 1. a fresh clone ---------------------------------------------------------------------------
@pytest.mark.slow
def test_fresh_clone_runs_the_readme_demo_once():
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    # not pytest's tmp_path: that is 0700, and PostgreSQL runs as another user when we are root
    dest = Path(tempfile.mkdtemp(prefix="demo-clone-"))
    dest.chmod(0o755)
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(dest)], check=True)
        subprocess.run(["git", "-C", str(dest), "checkout", "-q", "--detach", head], check=True)
        for absent in MADE_BY_SETUP:
            assert not (dest / absent).exists(), absent
        started = time.monotonic()
        res = subprocess.run(
            ["bash", "scripts/demo.sh", "--once"],
            cwd=dest,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=CLONE_TIMEOUT,
        )
        print(f"fresh clone: demo.sh --once took {time.monotonic() - started:.0f}s")
        report = f"exit {res.returncode}\n{res.stdout}\n{res.stderr[-3000:]}"
        assert res.returncode == 0, report
        rows = _demo_rows(res.stdout)
        assert len(rows) == 12, report  # the default batch
        assert set(rows.values()) == {"completed"}, report
        assert re.search(r"^12/12 completed with ", res.stdout, re.M), report
        # nothing of the clone's still runs: every server had its cwd or data there
        leftovers = {
            pid: " ".join(_cmdline(pid))
            for pid in _snapshot()
            if str(dest) in " ".join(_cmdline(pid)) or _cwd(pid).startswith(str(dest))
        }
        assert not leftovers, leftovers
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


# 2. stay up, mint with the printed curl line, Ctrl-C -------------------------------------------
class _Lines:
    """The demo's stdout, line by line, read in a thread so waits can time out."""

    def __init__(self, stream) -> None:
        self.seen: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def until(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ""
            if line is None or time.monotonic() > deadline:
                raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if m := re.match(pattern, line):
                return m

    def rest(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                return
            self.seen.append(line)


def _run_curl_line(line: str) -> tuple[int, dict]:
    """Run the printed line as it is (status appended), or the same request with httpx."""
    args = shlex.split(line)
    if shutil.which("curl"):
        res = subprocess.run(
            [*args, "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30
        )
        body, _, code = res.stdout.rpartition("\n")
        return int(code), json.loads(body)
    method, url, headers, data = "GET", "", {}, None
    words = iter(args[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            headers[name] = value
        elif word == "-d":
            data = next(words)
        elif word.startswith("http"):
            url = word
    res = httpx.request(method, url, headers=headers, content=data)
    return res.status_code, res.json()


def _wait_resolved(row_url: str, token: str) -> dict:
    """GET the row (with the token) until it is completed or failed, or MINT_TIMEOUT passes."""
    deadline = time.monotonic() + MINT_TIMEOUT
    while True:
        res = httpx.get(row_url, headers={"Authorization": f"Bearer {token}"})
        assert res.status_code == 200, res.text
        row = res.json()
        if row["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return row
        time.sleep(0.25)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def test_stay_up_serves_the_curl_line_and_ctrl_c_stops_everything(tmp_path):
    err = open(tmp_path / "stderr.log", "w+")
    demo = subprocess.Popen(
        [sys.executable, "-m", "scripts.demo", "--tickets", "2"],
        cwd=ROOT,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        start_new_session=True,  # its own group, as a shell job is: the SIGINT goes to it alone
    )
    started: dict[int, Proc] = {}
    try:
        out = _Lines(demo.stdout)
        url = out.until(r"\s+API:\s+(http://127\.0\.0\.1:\d+)\s", UP_TIMEOUT)[1]
        token = out.until(r"\s+token:\s+(\S+)$", 10)[1]
        pg_port = int(out.until(r"\s+ledger:\s+postgresql://\S+:(\d+)/", 10)[1])
        redis_port = int(out.until(r"\s+redis:\s+redis://127\.0\.0\.1:(\d+)/", 10)[1])
        rpc_port = int(out.until(r"\s+solana:\s+http://127\.0\.0\.1:(\d+)", 10)[1])
        curl = out.until(r"curl -sS -X POST ", 10).string
        out.until(r"curl -sS -H ", 10)
        assert sorted(_demo_rows("\n".join(out.seen)).values()) == ["completed", "completed"]

        # what the demo started, PostgreSQL's session included (pg_ctl daemonizes it)
        postmaster = [
            pid
            for pid in _snapshot()
            if (argv := _cmdline(pid))
            and argv[0].endswith("postgres")
            and f"port={pg_port}" in argv
        ]
        assert len(postmaster) == 1, postmaster
        started = _started_by(demo.pid, also_sessions={os.getsid(postmaster[0])})
        api = [p for p in started if _cmdline(p)[2:4] == ["actors.entrypoints.cli", "api"]]
        workers = [p for p in started if _cmdline(p)[2:4] == ["actors.entrypoints.cli", "worker"]]
        assert len(api) == 1 and len(workers) >= 2, started
        assert os.getsid(api[0]) not in (os.getsid(demo.pid), os.getsid(workers[0]))

        # the token: HS256 with the API's secret, a service role, a day to live
        secrets_env = _environ(api[0])
        payer_file = Path(secrets_env["SOLANA_PAYER_KEYPAIR"]).read_text().strip()
        claims = jwt.decode(token, secrets_env["JWT_SECRET"], algorithms=["HS256"])
        assert claims["role"] == "service" and claims["sub"] == "demo"
        assert claims["exp"] - claims["iat"] == DAY  # valid for one day from when it was made

        # the printed curl line mints one more ticket, which completes
        status, body = _run_curl_line(curl)
        assert status == 202, body
        ticket = body["ticket_id"]
        assert ticket not in _demo_rows("\n".join(out.seen))
        row = _wait_resolved(f"{url}/v1/mints/{ticket}", token)
        assert row["status"] == "completed", row

        # Ctrl-C: to the whole foreground group, the demo's redis and validator included
        os.killpg(demo.pid, signal.SIGINT)
        t0 = time.monotonic()
        assert demo.wait(STOP_TIMEOUT) == 0
        print(f"stay-up: Ctrl-C to exit took {time.monotonic() - t0:.1f}s")
        out.rest()
        alive = _wait_all_gone(started)
        assert not alive, f"left running after Ctrl-C: {alive}"
        for port in (int(url.rsplit(":", 1)[1]), pg_port, redis_port, rpc_port):
            assert not _listening(port), port

        # a dev token is meant to be shown; the secrets never are
        err.seek(0)
        printed = "\n".join(out.seen) + err.read()
        payer = Keypair.from_bytes(bytes(json.loads(payer_file)))
        for name, secret in [
            ("JWT_SECRET", secrets_env["JWT_SECRET"]),
            ("MINT_KEY_SECRET", secrets_env["MINT_KEY_SECRET"]),
            ("payer key", str(payer)),
            ("payer key file", payer_file),
        ]:
            assert secret not in printed, f"{name} was printed"
        assert "stopped everything the demo started" in printed
    finally:
        if demo.poll() is None:  # a failed assertion above: still stop it, the same way
            os.killpg(demo.pid, signal.SIGINT)
            try:
                demo.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
        for pid in _wait_all_gone(started, timeout=5):  # a failed run leaves no orphans either
            os.kill(pid, signal.SIGKILL)
        err.close()
