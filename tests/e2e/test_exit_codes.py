"""Exit codes ops can script (0 OK, 1 differ or not ready, 2 usage, 3 a dependency unreachable),
from `minter reconcile`, `minter health` and the cron script; and identifiers at the maximum
length through mint, transfer, reconcile --fix and status."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from devtools.local_services import free_port
from devtools.stack import ROOT, Stack
from minter.keys import write_keypair_file
from tests.e2e.helpers import (
    FAST,
    claim,
    enqueue,
    move_outside_the_ledger,
    requests_for,
    wait_transfers,
)

CRON = str(ROOT / "scripts" / "reconcile_cron.sh")


@pytest.fixture(scope="module")
def stack(postgres, redis_server, _localnet_session):
    """One ticket minted and completed; workers stopped."""
    with Stack(
        postgres=postgres, redis=redis_server, rpc_url=_localnet_session.url, extra_env=FAST
    ) as s:
        items = requests_for(1, "EXIT")
        s.start_workers(processes=1, threads=2)
        enqueue(s, items)
        assert s.wait_until_resolved(["EXIT-00000"]) == {"EXIT-00000": "completed"}
        s.stop_workers()
        yield s


def run(stack: Stack, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "actors.entrypoints.cli", *argv],
        env={**stack.env, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cron(stack: Stack, tmp_path, **env: str) -> subprocess.CompletedProcess:
    env = {
        **stack.env,
        "MINTER": f"{sys.executable} -m actors.entrypoints.cli",
        "RECONCILE_REPORT_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run([CRON], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)


def dead_rpc() -> dict[str, str]:
    return {"SOLANA_RPC_URL": f"http://127.0.0.1:{free_port()}"}


def dead_postgres(stack: Stack) -> dict[str, str]:
    return {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"}


def set_status(stack: Stack, status: str) -> None:
    with psycopg.connect(stack.database_url) as conn:
        conn.execute("UPDATE nft_mints SET status = %s WHERE ticket_id = 'EXIT-00000'", (status,))


def test_clean_ledger_exits_0(stack, tmp_path):
    assert run(stack, "reconcile").returncode == 0
    assert run(stack, "health").returncode == 0
    res = cron(stack, tmp_path)
    assert res.returncode == 0 and "AGREE" in res.stdout


def test_a_difference_exits_1(stack, tmp_path):
    set_status(stack, "failed")
    try:
        res = run(stack, "reconcile", "--json")
        assert res.returncode == 1 and json.loads(res.stdout)["agrees"] is False
        res = cron(stack, tmp_path)
        assert res.returncode == 1 and "DIFFER" in res.stderr
    finally:
        set_status(stack, "completed")


@pytest.mark.parametrize("down", ["rpc", "postgres"])
def test_a_dependency_down_exits_3(stack, tmp_path, down):
    env = dead_rpc() if down == "rpc" else dead_postgres(stack)
    res = run(stack, "reconcile", "--json", **env)
    assert res.returncode == 3, res.stderr
    assert res.stdout == "" and res.stderr.startswith(f"minter: {down} unreachable")
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr

    health = run(stack, "health", "--json", **env)
    assert health.returncode == 3, health.stdout + health.stderr
    assert json.loads(health.stdout)["unreachable"] == [down]

    res = cron(stack, tmp_path, **env)
    assert (
        res.returncode == 3 and "UNREACHABLE" in res.stderr and f"{down} unreachable" in res.stderr
    )
    assert not list(tmp_path.glob("*.json"))  # no report pretends that something was checked


def test_reachable_but_not_ready_exits_1(stack, tmp_path):
    unfunded = tmp_path / "unfunded.json"
    write_keypair_file(Keypair(), unfunded)
    res = run(stack, "health", "--json", SOLANA_PAYER_KEYPAIR=str(unfunded))
    report = json.loads(res.stdout)
    assert (
        res.returncode == 1
        and report["not_ready"] == ["payer_funded"]
        and report["unreachable"] == []
    )


def test_usage_exits_2(stack, tmp_path):
    res = run(stack, "reconcile", DATABASE_URL="mysql://nope/x")
    assert res.returncode == 2 and res.stderr.startswith("minter: DATABASE_URL")
    assert run(stack, "reconcile", "--no-such-flag").returncode == 2
    res = cron(stack, tmp_path, DATABASE_URL="mysql://nope/x")
    assert res.returncode == 2 and "USAGE" in res.stderr and "DATABASE_URL" in res.stderr


def test_longest_identifiers_through_mint_transfer_reconcile_and_status(stack):
    """A 128-character ticket id and transfer id: minted to custody, claimed, then moved outside
    the ledger; `reconcile --fix` records that move under an id that fits its column."""
    ticket_id, transfer_id = "L" * 128, "X" * 127 + "1"
    buyer, elsewhere = Keypair(), Keypair().pubkey()
    item = {
        **requests_for(1, "LONG", owners=[str(stack.payer.pubkey())])[0],
        "ticket_id": ticket_id,
    }
    stack.start_workers(processes=1, threads=2)
    try:
        (result,) = enqueue(stack, [item])
        assert stack.wait_until_resolved([ticket_id]) == {ticket_id: "completed"}
        claim(stack, [(transfer_id, ticket_id, str(buyer.pubkey()))])
        assert wait_transfers(stack, [transfer_id], timeout=120) == {transfer_id: "completed"}
    finally:
        stack.stop_workers()
    move_outside_the_ledger(stack, Pubkey.from_string(result.mint_address), buyer, elsewhere)

    res = run(stack, "reconcile", "--json")
    found = [(d["kind"], d["key"]) for d in json.loads(res.stdout)["discrepancies"]]
    assert res.returncode == 1 and found == [("owner_changed", ticket_id)]
    res = run(stack, "reconcile", "--fix", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.loads(res.stdout)["fixed"] == 1

    status = run(stack, "status", ticket_id, "--json")
    report = json.loads(status.stdout)
    assert status.returncode == 0 and report["holder"] == str(elsewhere)
    with psycopg.connect(stack.database_url) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT transfer_id FROM nft_transfers WHERE ticket_id = %s ORDER BY id",
                (ticket_id,),
            )
        ]
    assert ids[0] == transfer_id and len(ids) == 2 and len(ids[1]) <= 128
    assert run(stack, "reconcile").returncode == 0
