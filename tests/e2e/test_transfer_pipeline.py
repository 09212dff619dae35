"""Claims from custody through the running pipeline: each transfer happens exactly once."""

from __future__ import annotations

import random
import signal
import time

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID

from devtools.stack import Stack
from tests.e2e.helpers import claim, holdings, mint_to_custody, quiet_sends, wait_transfers


def assert_claimed_once(stack: Stack, mints, buyers, ids):
    custody = str(stack.payer.pubkey())
    for mint, buyer in zip(mints, buyers, strict=True):
        assert holdings(stack.rpc_url, buyer, mint) == (1, True)
        assert holdings(stack.rpc_url, custody, mint) == (0, False)  # emptied and closed
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        landed = dict(
            conn.execute(
                "SELECT ref_id, count(*) FROM nft_attempts WHERE kind = 'transfer'"
                " AND outcome = 'landed' GROUP BY ref_id"
            ).fetchall()
        )
        unexplained = conn.execute(
            "SELECT count(*) FROM nft_attempts WHERE kind = 'transfer' AND outcome IS NULL"
        ).fetchone()[0]
    assert landed == {t: 1 for t in ids} and unexplained == 0


@pytest.mark.slow
def test_100_claims_from_custody(stack, localnet):
    stack.start_workers(processes=2, threads=8)
    tickets, mints = mint_to_custody(stack, 100, "CL")
    buyers = [str(Keypair().pubkey()) for _ in tickets]
    ids = [f"X-{t}" for t in tickets]
    client = Client(stack.rpc_url)
    balance_before = client.get_balance(stack.payer.pubkey(), "confirmed").value
    executed_before = localnet.stats()["executed_ok"]
    results = claim(stack, list(zip(ids, tickets, buyers, strict=True)))
    assert all(r.created for r in results)
    assert set(wait_transfers(stack, ids).values()) == {"completed"}, stack.worker_logs()[-3000:]
    time.sleep(1)
    assert localnet.stats()["executed_ok"] - executed_before == 100
    assert_claimed_once(stack, mints, buyers, ids)
    spent = balance_before - client.get_balance(stack.payer.pubkey(), "confirmed").value
    # each claim: the buyer's new account's rent out, custody's closed account's rent back
    print(f"\npayer spent {spent} lamports on 100 claims ({spent // 100} per claim)")
    assert spent == 100 * 5000

    sends = quiet_sends(localnet)
    again = claim(stack, list(zip(ids, tickets, buyers, strict=True)))
    time.sleep(2)
    assert not any(r.created for r in again)
    assert localnet.stats()["send_requests"] == sends

    from actors.infra.errors import IntentConflict

    with pytest.raises(IntentConflict):
        claim(stack, [(ids[0], tickets[0], str(Keypair().pubkey()))])
    from minter.errors import ValidationError

    with pytest.raises(ValidationError, match="not by custody"):  # the buyer holds it now
        claim(stack, [("X-again", tickets[0], str(Keypair().pubkey()))])


@pytest.mark.slow
def test_a_ticket_moved_outside_the_ledger_fails_with_a_reason(stack, localnet):
    from minter.transfer import TicketTransfer, build_transfer_transaction

    stack.start_workers(processes=1, threads=4)
    (ticket,), (mint,) = mint_to_custody(stack, 1, "OUT")
    elsewhere = Keypair().pubkey()
    client = Client(stack.rpc_url)
    t = TicketTransfer(
        Pubkey.from_string(mint),
        stack.payer.pubkey(),
        elsewhere,
        stack.payer.pubkey(),
        TOKEN_2022_PROGRAM_ID,
    )
    tx = build_transfer_transaction(
        t,
        payer=stack.payer,
        source=stack.payer,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
        compute_unit_limit=60_000,
    )
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.05)
    sends = localnet.stats()["send_requests"]
    claim(stack, [("X-OUT", ticket, str(Keypair().pubkey()))])
    assert wait_transfers(stack, ["X-OUT"]) == {"X-OUT": "failed"}
    import psycopg

    with psycopg.connect(stack.database_url) as conn:
        reason = conn.execute("SELECT last_error FROM nft_transfers").fetchone()[0]
    assert reason == "source does not hold the token"
    assert localnet.stats()["send_requests"] == sends


@pytest.mark.slow
def test_claims_under_faults_and_sigkill(stack, localnet):
    stack.start_workers(processes=2, threads=8)
    tickets, mints = mint_to_custody(stack, 100, "FK")
    buyers = [str(Keypair().pubkey()) for _ in tickets]
    ids = [f"X-{t}" for t in tickets]
    executed_before = localnet.stats()["executed_ok"]
    localnet.set_faults(drop_response=0.3, blockhash_not_found=0.1, http_429=0.05, seed=5)
    rng = random.Random(13)
    try:
        claim(stack, list(zip(ids, tickets, buyers, strict=True)))
        for _ in range(2):
            time.sleep(rng.uniform(0.3, 1.5))
            stack.stop_workers(sig=signal.SIGKILL)
            stack.start_workers(processes=2, threads=8)
        statuses = wait_transfers(stack, ids)
    finally:
        localnet.clear_faults()
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert localnet.stats()["executed_ok"] - executed_before == 100
    assert_claimed_once(stack, mints, buyers, ids)
