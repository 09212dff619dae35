"""The embedded validator in a subprocess: for tests, the demo and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping

DEFAULT_START_TIMEOUT = 30.0
READY_PREFIX = "localnet listening on "
WS_PREFIX = "localnet pubsub on "


class LocalnetError(RuntimeError):
    """Raised when the validator subprocess does not come up."""


class LocalnetProcess:
    def __init__(
        self,
        *,
        port: int = 0,
        ws_port: int | None = None,
        slot_ms: int | None = None,
        programs: Mapping[str, str] | None = None,
        faults: Mapping[str, float] | None = None,
        seed: int | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT,
    ) -> None:
        self.args = ["--host", "127.0.0.1", "--port", str(port)]
        if ws_port is not None:
            self.args += ["--ws-port", str(ws_port)]
        if slot_ms is not None:
            self.args += ["--slot-ms", str(slot_ms)]
        for program_id, path in (programs or {}).items():
            self.args += ["--program", f"{program_id}={path}"]
        for name, rate in (faults or {}).items():
            self.args += ["--fault", f"{name}={rate}"]
        if seed is not None:
            self.args += ["--seed", str(seed)]
        self.start_timeout = start_timeout
        self.url: str | None = None
        self.ws_url: str | None = None
        self._proc: subprocess.Popen | None = None

    def start(self) -> LocalnetProcess:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "minter.localnet", *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        line = self._proc.stdout.readline()  # the ready line, or EOF if it died
        if not line.startswith(READY_PREFIX):
            raise LocalnetError(f"validator did not start: {line.strip() or self._why()}")
        self.url = line[len(READY_PREFIX) :].strip()
        line = self._proc.stdout.readline()
        if not line.startswith(WS_PREFIX):
            raise LocalnetError(f"validator did not start its pubsub server: {self._why()}")
        self.ws_url = line[len(WS_PREFIX) :].strip()
        return self

    def _why(self) -> str:
        """Stop it and say what it wrote to stderr (e.g. a port in use)."""
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        err = proc.stderr.read() if proc.stderr else ""
        self.stop()
        return err.strip()[-400:] or "no output"

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream:
                stream.close()
        self._proc = None

    def __enter__(self) -> LocalnetProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
