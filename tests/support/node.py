"""Official JS clients run by Node from their lockfiles (``tests/js/*``), for the conformance
tests: each script reads JSON argument sets on stdin and prints what the client built."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[1] / "js"
DEFAULT_TIMEOUT = 60


def node_runner(package: str) -> Callable[..., list[dict]]:
    """``run(args, script="instructions.mjs")`` for ``tests/js/<package>``; skips, saying why,
    where Node or the package's modules are missing."""
    folder = JS / package
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (folder / "node_modules").exists():
        pytest.skip(f"tests/js/{package}/node_modules missing: scripts/setup.sh installs it")

    def run(args: list[dict], script: str = "instructions.mjs") -> list[dict]:
        res = subprocess.run(
            ["node", str(folder / script)],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            timeout=DEFAULT_TIMEOUT,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    return run


def instruction_view(ix) -> dict:
    """A solders Instruction as the scripts print one."""
    return {
        "programId": str(ix.program_id),
        "data": bytes(ix.data).hex(),
        "accounts": [[str(a.pubkey), a.is_signer, a.is_writable] for a in ix.accounts],
    }
