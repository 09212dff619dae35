"""`minter reconcile` as ops run it: each tampering is reported as exactly that discrepancy,
exit 1; `--fix` repairs what the chain proves and leaves the rest reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature

from devtools.stack import ROOT, Stack
from tests.e2e.helpers import (
    enqueue,
    found,
    move_outside_the_ledger,
    reconcile,
    requests_for,
    row,
    sql,
)


@pytest.fixture
def minted(stack):
    """Three tickets completed on chain (owners whose keys the test holds), workers stopped."""
    owners = [Keypair() for _ in range(3)]
    items = requests_for(3, "REC", owners=[str(o.pubkey()) for o in owners])
    stack.start_workers(processes=1, threads=4)
    enqueue(stack, items)
    ids = [i["ticket_id"] for i in items]
    assert set(stack.wait_until_resolved(ids, timeout=120).values()) == {"completed"}
    stack.stop_workers()
    return ids, owners


def pending_ticket(stack: Stack, ticket_id: str) -> None:
    """A ticket recorded but never sent (no worker runs)."""
    enqueue(stack, requests_for(1, ticket_id))


def finish_with_workers(stack: Stack, ticket_id: str) -> None:
    stack.start_workers(processes=1, threads=4)
    assert stack.wait_until_resolved([ticket_id], timeout=120) == {ticket_id: "completed"}
    stack.stop_workers()


def test_clean_ledger_agrees(stack, minted):
    code, report = reconcile(stack)
    assert (code, report["discrepancies"]) == (0, [])
    assert report["mints_checked"] == 3 and report["agrees"] is True


def test_completed_row_set_back_to_pending(stack, minted):
    ids, _ = minted
    landed = row(stack, ids[0])["signature"]
    sql(stack, "UPDATE nft_mints SET status = 'pending' WHERE ticket_id = %s", ids[0])
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("on_chain_not_completed", "nft_mints", ids[0])]
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    assert (row(stack, ids[0])["status"], row(stack, ids[0])["signature"]) == ("completed", landed)
    assert reconcile(stack)[0] == 0


def test_completed_row_whose_mint_never_landed(stack, minted, localnet):
    pending_ticket(stack, "GHOST")
    ticket = "GHOST-00000"
    fake = str(Signature.new_unique())
    sql(
        stack,
        "UPDATE nft_mints SET status = 'completed', completed_at = now(), signature = %s"
        " WHERE ticket_id = %s",
        fake,
        ticket,
    )
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("missing_on_chain", "nft_mints", ticket)]
    sends = localnet.stats()["send_requests"]
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    assert localnet.stats()["send_requests"] == sends  # reconcile itself never sends
    assert row(stack, ticket)["status"] == "pending"
    finish_with_workers(stack, ticket)  # the re-enqueued ticket is minted, once
    assert reconcile(stack)[0] == 0


def test_token_moved_on_chain_outside_the_ledger(stack, minted):
    ids, owners = minted
    owner, elsewhere = owners[1], Keypair().pubkey()
    mint = Pubkey.from_string(row(stack, ids[1])["mint_address"])
    move_outside_the_ledger(stack, mint, owner, elsewhere)

    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("owner_changed", "nft_mints", ids[1])]
    assert str(elsewhere) in report["discrepancies"][0]["detail"]
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    history = json.loads(stack.minter("status", ids[1], "--json").stdout)
    assert history["holder"] == str(elsewhere)
    assert reconcile(stack)[0] == 0


def test_row_stuck_in_submitted(stack, minted):
    pending_ticket(stack, "STUCK")
    ticket = "STUCK-00000"
    sql(
        stack,
        "UPDATE nft_mints SET status = 'submitted', signature = %s, signed_tx = '\\x00',"
        " last_valid_block_height = 1, updated_at = now() - interval '1 hour'"
        " WHERE ticket_id = %s",
        str(Signature.new_unique()),
        ticket,
    )
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("stuck", "nft_mints", ticket)]
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    finish_with_workers(stack, ticket)
    assert reconcile(stack)[0] == 0


def test_what_the_chain_cannot_prove_stays_reported(stack, minted):
    ids, _ = minted
    sql(
        stack,
        "UPDATE nft_mints SET payload = jsonb_set(payload, '{metadata,name}', '\"Forged\"')"
        " WHERE ticket_id = %s",
        ids[2],
    )
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("chain_differs", "nft_mints", ids[2])]
    code, report = reconcile(stack, "--fix")
    assert code == 1 and report["fixed"] == 0 and found(report) == found(reconcile(stack)[1])


def test_human_output_and_cron_script(stack, minted, tmp_path):
    res = stack.minter("reconcile", check=False)
    assert res.returncode == 0 and "ledger and chain agree" in res.stdout
    env = {**stack.env, "MINTER": f"{sys.executable} -m actors.entrypoints.cli"}
    env["RECONCILE_REPORT_DIR"] = str(tmp_path)
    cron = [str(ROOT / "scripts" / "reconcile_cron.sh")]
    assert subprocess.run(cron, env=env, cwd=ROOT, capture_output=True).returncode == 0
    sql(stack, "UPDATE nft_mints SET status = 'failed' WHERE ticket_id = %s", minted[0][0])
    assert subprocess.run(cron, env=env, cwd=ROOT, capture_output=True).returncode == 1
    reports = sorted(tmp_path.glob("reconcile-*.json"))
    assert reports and json.loads(reports[-1].read_text())["counts"]["on_chain_not_completed"] == 1
