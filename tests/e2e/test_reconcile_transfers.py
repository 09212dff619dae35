"""`minter reconcile` on transfers: real claims from custody on the embedded validator, then the
ledger tampered with to make each transfer class (`missing_on_chain`, `on_chain_not_completed`,
`stuck`). Each tampering is reported as exactly the classes it causes, exit 1; `--fix` repairs
what the chain proves."""

from __future__ import annotations

import psycopg
import pytest
from solders.keypair import Keypair
from solders.signature import Signature

from devtools.stack import Stack
from tests.e2e.helpers import (
    claim,
    found,
    holdings,
    mint_to_custody,
    reconcile,
    row,
    sql,
    wait_transfers,
)


def transfer(stack: Stack, transfer_id: str) -> dict:
    return row(stack, transfer_id, table="nft_transfers")


@pytest.fixture
def claimed(stack):
    """Three tickets minted to custody; the first two claimed by buyers (completed on chain),
    the third left in custody; workers stopped."""
    stack.start_workers(processes=1, threads=4)
    tickets, mints = mint_to_custody(stack, 3, "RT")
    buyers = [str(Keypair().pubkey()) for _ in tickets]
    ids = [f"X-{t}" for t in tickets[:2]]
    claim(stack, list(zip(ids, tickets[:2], buyers[:2], strict=True)))
    assert wait_transfers(stack, ids, timeout=120) == dict.fromkeys(ids, "completed")
    stack.stop_workers()
    return tickets, mints, buyers, ids


def unsent_claim(stack: Stack, claimed) -> tuple[str, str, str]:
    """A claim of the custody ticket recorded (pending) but never sent: no worker runs."""
    tickets, mints, buyers, _ = claimed
    claim(stack, [("X-UNSENT", tickets[2], buyers[2])])
    assert transfer(stack, "X-UNSENT")["status"] == "pending"
    return "X-UNSENT", mints[2], buyers[2]


def transfers_of(stack: Stack, ticket_id: str) -> list[tuple[str, str, str]]:
    """(transfer_id, to_address, status) of the ticket's moves, in the order recorded."""
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT transfer_id, to_address, status FROM nft_transfers WHERE ticket_id = %s"
            " ORDER BY id",
            (ticket_id,),
        ).fetchall()


def completed_but_never_sent(stack: Stack, claimed) -> tuple[str, str, str]:
    """The custody ticket's claim, recorded and then marked completed with a signature the
    cluster never saw: the ledger moves the ticket to the buyer, the chain keeps it in custody."""
    transfer_id, mint, buyer = unsent_claim(stack, claimed)
    sql(
        stack,
        "UPDATE nft_transfers SET status = 'completed', completed_at = now(), signature = %s,"
        " last_valid_block_height = 1 WHERE transfer_id = %s",
        str(Signature.new_unique()),
        transfer_id,
    )
    return transfer_id, mint, buyer


def finish_with_workers(stack: Stack, transfer_id: str) -> None:
    stack.start_workers(processes=1, threads=4)
    assert wait_transfers(stack, [transfer_id], timeout=120) == {transfer_id: "completed"}
    stack.stop_workers()


def test_clean_claims_agree(stack, claimed):
    code, report = reconcile(stack)
    assert (code, report["discrepancies"]) == (0, [])
    assert (report["mints_checked"], report["transfers_checked"]) == (3, 2)


def test_completed_transfer_with_a_signature_unknown_to_the_cluster(stack, claimed):
    """The row's signature never landed, but the attempt that did is on record: the chain proves
    the move happened, so --fix leaves the row completed and the finding open."""
    _, _, _, ids = claimed
    before = transfer(stack, ids[0])
    sql(
        stack,
        "UPDATE nft_transfers SET signature = %s WHERE transfer_id = %s",
        str(Signature.new_unique()),
        ids[0],
    )
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("missing_on_chain", "nft_transfers", ids[0])]
    (d,) = report["discrepancies"]
    assert (d["status"], d["detail"], d["fixed"]) == (
        "completed",
        "signature unknown to the cluster",
        None,
    )
    assert report["counts"]["missing_on_chain"] == 1 and report["agrees"] is False
    code, report = reconcile(stack, "--fix")
    assert code == 1 and report["fixed"] == 0
    assert found(report) == [("missing_on_chain", "nft_transfers", ids[0])]
    assert transfer(stack, ids[0])["status"] == "completed"
    sql(
        stack,
        "UPDATE nft_transfers SET signature = %s WHERE transfer_id = %s",
        before["signature"],
        ids[0],
    )
    assert reconcile(stack)[0] == 0


def test_transfer_marked_completed_that_was_never_sent(stack, claimed):
    tickets = claimed[0]
    transfer_id, mint, buyer = completed_but_never_sent(stack, claimed)
    code, report = reconcile(stack)
    assert code == 1
    assert found(report) == [
        ("missing_on_chain", "nft_transfers", transfer_id),
        ("owner_changed", "nft_mints", tickets[2]),  # the ledger's holder lacks the token
    ]
    custody = str(stack.payer.pubkey())
    moved = next(d for d in report["discrepancies"] if d["kind"] == "owner_changed")
    assert moved["detail"] == f"held by {custody}; ledger says {buyer}"
    assert holdings(stack.rpc_url, buyer, mint) == (0, False)


def test_fixing_a_never_sent_transfer_records_no_move_that_did_not_happen(stack, claimed):
    tickets = claimed[0]
    transfer_id, mint, buyer = completed_but_never_sent(stack, claimed)
    code, report = reconcile(stack, "--fix")
    assert code == 0
    assert transfer(stack, transfer_id)["status"] == "pending"  # every attempt expired unseen
    finish_with_workers(stack, transfer_id)
    assert holdings(stack.rpc_url, buyer, mint) == (1, True)
    assert transfers_of(stack, tickets[2]) == [(transfer_id, buyer, "completed")]
    assert reconcile(stack)[0] == 0


def test_landed_transfer_marked_failed(stack, claimed):
    tickets, _, _, ids = claimed
    sql(stack, "UPDATE nft_transfers SET status = 'failed' WHERE transfer_id = %s", ids[1])
    code, report = reconcile(stack)
    assert code == 1
    assert found(report) == [
        ("on_chain_not_completed", "nft_transfers", ids[1]),
        ("owner_changed", "nft_mints", tickets[1]),  # a failed claim does not explain the move
    ]


def test_fixing_a_landed_failed_transfer_records_the_move_once(stack, claimed):
    tickets, _, buyers, ids = claimed
    sql(stack, "UPDATE nft_transfers SET status = 'failed' WHERE transfer_id = %s", ids[1])
    code, report = reconcile(stack, "--fix")
    assert code == 0
    assert transfers_of(stack, tickets[1]) == [(ids[1], buyers[1], "completed")]
    assert reconcile(stack)[0] == 0


def test_landed_transfer_set_back_to_pending(stack, claimed):
    _, mints, buyers, ids = claimed
    landed = transfer(stack, ids[1])["signature"]
    sql(stack, "UPDATE nft_transfers SET status = 'pending' WHERE transfer_id = %s", ids[1])
    code, report = reconcile(stack)
    # only the transfer: the token sits where this (pending) claim of ours sends it
    assert code == 1 and found(report) == [("on_chain_not_completed", "nft_transfers", ids[1])]
    assert report["discrepancies"][0]["detail"] == f"signature {landed} landed"
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    assert report["discrepancies"][0]["fixed"] == "completed with the attempt that landed"
    row = transfer(stack, ids[1])
    assert (row["status"], row["signature"]) == ("completed", landed)
    assert holdings(stack.rpc_url, buyers[1], mints[1]) == (1, True)
    assert reconcile(stack)[0] == 0


def test_pending_transfer_stuck(stack, claimed):
    transfer_id, mint, buyer = unsent_claim(stack, claimed)
    assert reconcile(stack)[0] == 0  # just recorded: not stuck yet
    sql(
        stack,
        "UPDATE nft_transfers SET updated_at = now() - interval '1 hour' WHERE transfer_id = %s",
        transfer_id,
    )
    assert reconcile(stack, "--stuck-after", "7200")[0] == 0
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("stuck", "nft_transfers", transfer_id)]
    assert report["discrepancies"][0]["status"] == "pending"
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    assert report["discrepancies"][0]["fixed"] == "re-enqueued"
    finish_with_workers(stack, transfer_id)
    assert holdings(stack.rpc_url, buyer, mint) == (1, True)
    assert reconcile(stack)[0] == 0


def test_submitted_transfer_stuck_after_its_blockhash_expired(stack, claimed):
    transfer_id, mint, buyer = unsent_claim(stack, claimed)
    sql(
        stack,
        "UPDATE nft_transfers SET status = 'submitted', signature = %s, signed_tx = '\\x00',"
        " last_valid_block_height = 1, updated_at = now() - interval '1 hour'"
        " WHERE transfer_id = %s",
        str(Signature.new_unique()),
        transfer_id,
    )
    code, report = reconcile(stack)
    assert code == 1 and found(report) == [("stuck", "nft_transfers", transfer_id)]
    assert report["discrepancies"][0]["status"] == "submitted"
    code, report = reconcile(stack, "--fix")
    assert code == 0 and report["fixed"] == 1
    assert report["discrepancies"][0]["fixed"] == "blockhash expired unseen: re-enqueued"
    assert transfer(stack, transfer_id)["status"] == "pending"
    finish_with_workers(stack, transfer_id)
    assert holdings(stack.rpc_url, buyer, mint) == (1, True)
    assert reconcile(stack)[0] == 0
