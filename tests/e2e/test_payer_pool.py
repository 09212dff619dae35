"""The fee-payer pool through the real pipeline (`minter worker` processes, Redis, PostgreSQL,
the embedded validator): three payers share 300 Token-2022 mints evenly, read from chain (each
landed transaction's fee payer, account key 0 of getTransaction) and matching
``nft_attempts.payer``; the authority (a fourth key) signs every mint and pays for none; a payer
drained mid-run leaves every ticket completed exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter

import psycopg
import pytest
from solana.rpc.api import Client
from solana.rpc.commitment import Confirmed
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import Transaction

from devtools.stack import Stack
from minter.keys import write_keypair_file
from minter.nft.decode import decode_mint, decode_token_metadata, permanent_delegate
from tests.e2e.helpers import FAST, enqueue, requests_for

SOL = 1_000_000_000


@pytest.fixture
def pool_stack(postgres, redis_url, redis_server, localnet):
    """A stack whose mints are paid by three payers (a folder) and whose authority is the
    stack's own key (``SOLANA_AUTHORITY_KEYPAIR``), a member of no pool."""
    stack = Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=FAST)
    with stack:
        folder = stack.workdir / "payers"
        payers = [Keypair() for _ in range(3)]
        for i, kp in enumerate(payers):
            write_keypair_file(kp, folder / f"payer-{i}.json")
            stack.fund(kp.pubkey(), 20 * SOL)
        stack.extra_env.update(
            SOLANA_PAYER_KEYPAIRS=str(folder),
            SOLANA_AUTHORITY_KEYPAIR=str(stack.workdir / "payer.json"),
        )
        stack.payers = payers
        yield stack


def fee_payers_on_chain(stack: Stack, ticket_ids: list[str]) -> dict[str, str]:
    """Each completed ticket's landed transaction, read back from chain: its fee payer."""
    client = Client(stack.rpc_url)
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT ticket_id, signature FROM nft_mints WHERE ticket_id = ANY(%s)",
            (ticket_ids,),
        ).fetchall()
    out = {}
    for ticket_id, signature in rows:
        landed = client.get_transaction(Signature.from_string(signature), "json", Confirmed, 0)
        assert landed.value.transaction.meta.err is None
        out[ticket_id] = str(landed.value.transaction.transaction.message.account_keys[0])
    return out


def ledger_payers(stack: Stack, ticket_ids: list[str]) -> dict[str, str]:
    """Each ticket's landed attempt's payer, as nft_attempts recorded it."""
    with psycopg.connect(stack.database_url) as conn:
        return dict(
            conn.execute(
                "SELECT m.ticket_id, a.payer FROM nft_mints m JOIN nft_attempts a"
                " ON a.signature = m.signature WHERE m.ticket_id = ANY(%s)",
                (ticket_ids,),
            ).fetchall()
        )


def assert_once(stack: Stack, localnet, items, results, before_ok: int, others: int = 0) -> None:
    """One mint account per ticket, each ticket completed, none failed, each mint ran once
    (``others``: the test's own transactions that ran meanwhile)."""
    ids = [i["ticket_id"] for i in items]
    assert set(stack.statuses(ids).values()) == {"completed"}
    client = Client(stack.rpc_url)
    addresses = [Pubkey.from_string(r.mint_address) for r in results]
    assert len(set(addresses)) == len(items)
    for start in range(0, len(addresses), 100):
        accounts = client.get_multiple_accounts(addresses[start : start + 100], Confirmed).value
        assert all(a is not None for a in accounts)
    with psycopg.connect(stack.database_url) as conn:
        landed = conn.execute(
            "SELECT ref_id, count(*) FROM nft_attempts WHERE kind = 'mint' AND outcome = 'landed'"
            " AND ref_id = ANY(%s) GROUP BY ref_id",
            (ids,),
        ).fetchall()
    assert dict(landed) == dict.fromkeys(ids, 1)
    assert localnet.stats()["executed_ok"] - before_ok - others == len(items)


def test_three_payers_share_300_mints_evenly_read_from_chain(pool_stack, localnet):
    stack = pool_stack
    authority = stack.payer.pubkey()
    client = Client(stack.rpc_url)
    authority_before = client.get_balance(authority, Confirmed).value
    items = requests_for(300, "POOL")
    ids = [i["ticket_id"] for i in items]
    before_ok = localnet.stats()["executed_ok"]
    stack.start_workers(processes=2, threads=8)
    results = enqueue(stack, items)
    statuses = stack.wait_until_resolved(ids, timeout=120)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert_once(stack, localnet, items, results, before_ok)

    on_chain = fee_payers_on_chain(stack, ids)
    shares = Counter(on_chain.values())
    assert set(shares) == {str(kp.pubkey()) for kp in stack.payers}, shares
    for payer, n in shares.items():
        assert abs(n - 100) <= 20, (payer, shares)  # within 20 % of a third
    assert ledger_payers(stack, ids) == on_chain  # the ledger says who paid, as the chain does

    # the authority signed every mint and paid for none; the tickets' authorities are its own
    assert client.get_balance(authority, Confirmed).value == authority_before
    for result in results[:5]:
        raw = bytes(client.get_account_info(Pubkey.from_string(result.mint_address)).value.data)
        assert decode_mint(raw).freeze_authority == authority
        assert permanent_delegate(raw) == authority
        assert decode_token_metadata(raw).update_authority == authority


def drain(stack: Stack, payer: Keypair) -> None:
    """Move every lamport of ``payer`` away, as an operator emptying a wallet would (the
    workers spend from it meanwhile: read the balance again until the move lands)."""
    from solana.rpc.core import RPCException

    client = Client(stack.rpc_url)
    for _ in range(20):
        lamports = client.get_balance(payer.pubkey(), Confirmed).value
        move = transfer(
            TransferParams(
                from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=lamports - 5000
            )
        )
        blockhash = client.get_latest_blockhash().value.blockhash
        tx = Transaction.new_signed_with_payer([move], payer.pubkey(), [payer], blockhash)
        try:
            sig = client.send_raw_transaction(bytes(tx)).value
        except RPCException:  # a mint paid by it landed in between
            continue
        client.confirm_transaction(sig, Confirmed, sleep_seconds=0.05)
        break
    assert client.get_balance(payer.pubkey(), Confirmed).value == 0


def db_now(stack: Stack):
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def test_a_payer_drained_mid_run_leaves_every_ticket_completed_once(pool_stack, localnet):
    stack = pool_stack
    # 20 sends a second: the run outlasts the pool's balance TTL (5 s) well after the drain
    stack.extra_env.update(MINT_SEND_RATE="20", MINT_SEND_RATE_MAX="20")
    items = requests_for(300, "DRAIN")
    ids = [i["ticket_id"] for i in items]
    before_ok = localnet.stats()["executed_ok"]
    stack.start_workers(processes=2, threads=8)
    results = enqueue(stack, items)
    deadline = time.monotonic() + 30
    while list(stack.statuses(ids).values()).count("completed") < 30:
        assert time.monotonic() < deadline, stack.worker_logs()[-3000:]
        time.sleep(0.05)
    drained = stack.payers[1]
    drain(stack, drained)
    drained_at = db_now(stack)
    unfinished = [v for v in stack.statuses(ids).values() if v != "completed"]
    assert unfinished, "the drain came after the run had finished"

    statuses = stack.wait_until_resolved(ids, timeout=120)
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    assert_once(stack, localnet, items, results, before_ok, others=1)  # the drain's transfer
    on_chain = fee_payers_on_chain(stack, ids)
    assert ledger_payers(stack, ids) == on_chain
    assert set(Counter(on_chain.values())) <= {str(kp.pubkey()) for kp in stack.payers}
    assert "payer_unfunded" in stack.worker_logs()  # said, with the payer skipped
    with psycopg.connect(stack.database_url) as conn:
        late, after = conn.execute(
            "SELECT count(*) FILTER (WHERE payer = %s AND created_at > %s + interval '6 s'),"
            " count(*) FILTER (WHERE created_at > %s + interval '6 s')"
            " FROM nft_attempts WHERE kind = 'mint'",
            (str(drained.pubkey()), drained_at, drained_at),
        ).fetchone()
    # once a balance read (at most one TTL later) or a refusal has shown it drained, the pool
    # no longer hands it out
    assert after > 30 and late == 0, (after, late)

    report = stack.minter("balance", "--json")
    listed = {p["address"]: p for p in json.loads(report.stdout)["payers"]}
    assert listed[str(drained.pubkey())]["funded"] is False
    assert listed[str(drained.pubkey())]["lamports"] == 0
    assert sum(p["funded"] for p in listed.values()) == 2
