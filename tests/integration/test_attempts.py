"""Attempts are bookkept: ``sent_at`` records the first send, and a row whose every attempt
expired unseen fails after ``max_attempts`` (MINT_MAX_ATTEMPTS) instead of being rebuilt forever.

The workflows are called directly on a validator of their own with 5 ms slots, so a blockhash
(150 blocks) expires in under a second. ``blockhash_not_found`` at rate 1.0 keeps every attempt
off the chain: the validator refuses each send and each rebroadcast before executing it.
(``drop_response`` would not do: it executes the transaction and only drops the answer, so the
first attempt lands.)
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from sqlalchemy import text

from actors.workflows.confirmer import confirm_submitted
from actors.workflows.intake import enqueue_mints
from actors.workflows.lifecycle import sweep
from actors.workflows.mints import MINTS, MintSigner, process_mint
from actors.workflows.reconcile import reconcile
from actors.workflows.transfers import TRANSFERS, TransferSigner, enqueue_transfer, process_transfer
from minter.keys import Payer
from minter.localnet import admin
from minter.localnet.process import LocalnetProcess
from minter.rpc import ChainClient
from tests.e2e.helpers import enqueue
from tests.support.validator import impatient_chain

SECRET = b"a" * 32
SLOT_MS = 5  # a blockhash lasts 150 slots: 0.75 s
CAP = 3


@pytest.fixture(scope="module")
def fast_url():
    with LocalnetProcess(slot_ms=SLOT_MS) as proc:
        yield proc.url


@pytest.fixture
def payer(fast_url) -> Keypair:
    kp = Keypair()
    client = Client(fast_url)
    client.confirm_transaction(
        client.request_airdrop(kp.pubkey(), 10**11).value, "confirmed", sleep_seconds=0.02
    )
    return kp


@pytest.fixture
def chain(fast_url):
    yield from impatient_chain(fast_url)


@pytest.fixture
def signer(payer) -> MintSigner:
    return MintSigner(payer=Payer(payer), mint_secret=SECRET)


def ticket(uow_factory, ticket_id: str, owner: str | None = None) -> str:
    item = {
        "ticket_id": ticket_id,
        "owner": owner or str(Keypair().pubkey()),
        "standard": "token2022",
        "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"},
    }
    (res,) = enqueue_mints(
        [item],
        uow_factory=uow_factory,
        mint_secret=SECRET,
        default_standard="token2022",
        notify=lambda ids: None,
    )
    return res.mint_address


def row_of(uow_factory, kind: str, key: str):
    with uow_factory() as uow:
        return (uow.mints if kind == "mint" else uow.transfers).get(key)


def attempts_of(uow_factory, kind: str, key: str):
    with uow_factory() as uow:
        return uow.attempts.list_for(kind, key)


def wait_expired(chain: ChainClient, row) -> None:
    deadline = time.monotonic() + 30
    while chain.block_height() <= row.last_valid_block_height:
        assert time.monotonic() < deadline, "the blockhash never expired"
        time.sleep(0.05)


def confirm_until(uow_factory, chain, key, status, *, kind=MINTS, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        confirm_submitted(uow_factory=uow_factory, chain=chain, kind=kind)
        row = row_of(uow_factory, kind.name, key)
        if row.status == status:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{key} stayed {row.status}")


def assert_sent_once_each(attempts, *, n: int, outcome: str) -> None:
    assert len(attempts) == n
    assert [a.outcome for a in attempts] == [outcome] * n
    assert all(a.sent_at is not None and a.sent_at >= a.created_at for a in attempts)


def drive_until_failed(uow_factory, chain, fast_url, *, kind, key, send, cap) -> list[list[str]]:
    """Sign, send (refused), let it expire, confirm: ``cap`` times. Returns each pass's wake-ups."""
    wakes = []
    for n in range(1, cap + 1):
        assert send() == "submitted"
        row = row_of(uow_factory, kind.name, key)
        assert (row.status, row.attempts) == ("submitted", n)
        wait_expired(chain, row)
        woken: list[str] = []
        stats = confirm_submitted(
            uow_factory=uow_factory, chain=chain, kind=kind, notify=woken.extend, max_attempts=cap
        )
        wakes.append(woken)
        row = row_of(uow_factory, kind.name, key)
        if n < cap:  # never failed early: back to pending for a rebuild, and woken
            assert (stats.rebuilt, stats.failed, woken) == (1, 0, [key])
            assert (row.status, row.last_error) == ("pending", "blockhash expired unseen")
    assert (stats.rebuilt, stats.failed) == (0, 1)
    return wakes


def assert_nothing_more_happens(uow_factory, chain, fast_url, *, kind, key, send) -> None:
    """A failed row is not woken, swept, confirmed, or sent again."""
    sends = admin.get_stats(fast_url)["send_requests"]
    swept: list[str] = []
    sweep(uow_factory=uow_factory, notify=swept.extend, kind=kind, pending_age=timedelta())
    assert key not in swept
    woken: list[str] = []
    stats = confirm_submitted(uow_factory=uow_factory, chain=chain, kind=kind, notify=woken.extend)
    assert (stats.rebuilt, stats.rebroadcast, woken) == (0, 0, [])
    assert send() == "skipped"
    assert admin.get_stats(fast_url)["send_requests"] == sends
    assert row_of(uow_factory, kind.name, key).status == "failed"


# ---------------------------------------------------------------------------------------------


def test_a_mint_whose_every_attempt_expires_fails_after_the_cap(
    uow_factory, chain, signer, fast_url
):
    mint_address = ticket(uow_factory, "A-1")
    admin.set_faults(fast_url, blockhash_not_found=1.0)
    executed = admin.get_stats(fast_url)["executed_ok"]

    def send():
        return process_mint("A-1", uow_factory=uow_factory, chain=chain, signer=signer)

    wakes = drive_until_failed(
        uow_factory, chain, fast_url, kind=MINTS, key="A-1", send=send, cap=CAP
    )
    assert wakes == [["A-1"]] * (CAP - 1) + [[]]
    row = row_of(uow_factory, "mint", "A-1")
    assert (row.status, row.attempts) == ("failed", CAP)
    assert row.last_error == f"all {CAP} attempts expired unseen; the mint is not on chain"
    assert_sent_once_each(attempts_of(uow_factory, "mint", "A-1"), n=CAP, outcome="expired")
    assert chain.accounts([Pubkey.from_string(mint_address)]) == [None]
    assert admin.get_stats(fast_url)["executed_ok"] == executed
    ticket(uow_factory, "A-other")  # a pending row the sweeper does wake, beside the failed one
    assert_nothing_more_happens(uow_factory, chain, fast_url, kind=MINTS, key="A-1", send=send)


def test_a_rebroadcast_keeps_the_first_send_time_and_fills_a_missing_one(
    uow_factory, chain, signer, fast_url
):
    ticket(uow_factory, "A-2")
    admin.set_faults(fast_url, blockhash_not_found=1.0)
    assert process_mint("A-2", uow_factory=uow_factory, chain=chain, signer=signer) == "submitted"
    (first,) = attempts_of(uow_factory, "mint", "A-2")
    assert first.sent_at is not None
    # sent again at once: not left to its worker for the 2 s a younger one is
    at_once = dict(uow_factory=uow_factory, chain=chain, rebroadcast_after=timedelta(0))
    assert confirm_submitted(**at_once, kind=MINTS).rebroadcast == 1
    (again,) = attempts_of(uow_factory, "mint", "A-2")
    assert again.sent_at == first.sent_at
    # a worker that died between the persist commit and its send left sent_at NULL
    with uow_factory() as uow:
        uow.session.execute(
            text("UPDATE nft_attempts SET sent_at = NULL WHERE signature = :s"),
            {"s": first.signature},
        )
        uow.commit()
    assert confirm_submitted(**at_once, kind=MINTS).rebroadcast == 1
    (filled,) = attempts_of(uow_factory, "mint", "A-2")
    assert filled.sent_at is not None and filled.sent_at > first.sent_at


def test_sent_at_is_set_for_ordinary_mints_and_transfers(uow_factory, chain, signer, payer):
    ticket(uow_factory, "A-3", owner=str(payer.pubkey()))  # custody holds it, to transfer
    assert process_mint("A-3", uow_factory=uow_factory, chain=chain, signer=signer) == "submitted"
    confirm_until(uow_factory, chain, "A-3", "completed")
    assert_sent_once_each(attempts_of(uow_factory, "mint", "A-3"), n=1, outcome="landed")

    tsigner = TransferSigner(payer=Payer(payer))
    enqueue_transfer(
        {"transfer_id": "X-3", "ticket_id": "A-3", "to": str(Keypair().pubkey())},
        uow_factory=uow_factory,
        signer=tsigner,
        notify=lambda ids: None,
    )
    assert (
        process_transfer("X-3", uow_factory=uow_factory, chain=chain, signer=tsigner) == "submitted"
    )
    confirm_until(uow_factory, chain, "X-3", "completed", kind=TRANSFERS)
    assert_sent_once_each(attempts_of(uow_factory, "transfer", "X-3"), n=1, outcome="landed")


def test_a_transfer_whose_every_attempt_expires_fails_after_the_cap(
    uow_factory, chain, signer, payer, fast_url
):
    ticket(uow_factory, "A-4", owner=str(payer.pubkey()))
    process_mint("A-4", uow_factory=uow_factory, chain=chain, signer=signer)
    confirm_until(uow_factory, chain, "A-4", "completed")
    tsigner = TransferSigner(payer=Payer(payer))
    buyer = Keypair().pubkey()
    enqueue_transfer(
        {"transfer_id": "X-4", "ticket_id": "A-4", "to": str(buyer)},
        uow_factory=uow_factory,
        signer=tsigner,
        notify=lambda ids: None,
    )
    admin.set_faults(fast_url, blockhash_not_found=1.0)

    def send():
        return process_transfer("X-4", uow_factory=uow_factory, chain=chain, signer=tsigner)

    cap = 2
    drive_until_failed(uow_factory, chain, fast_url, kind=TRANSFERS, key="X-4", send=send, cap=cap)
    row = row_of(uow_factory, "transfer", "X-4")
    assert (row.status, row.attempts) == ("failed", cap)
    assert row.last_error == f"all {cap} attempts expired unseen; the transfer is not on chain"
    assert_sent_once_each(attempts_of(uow_factory, "transfer", "X-4"), n=cap, outcome="expired")
    assert_nothing_more_happens(uow_factory, chain, fast_url, kind=TRANSFERS, key="X-4", send=send)


def test_reconcile_fix_applies_the_same_cap(uow_factory, chain, signer, fast_url):
    ticket(uow_factory, "A-5")
    admin.set_faults(fast_url, blockhash_not_found=1.0)
    for n, (status, fixed, woken_ids) in enumerate(
        [
            ("pending", "blockhash expired unseen: re-enqueued", ["A-5"]),
            ("failed", "failed: all 2 attempts expired unseen", []),
        ],
        start=1,
    ):
        assert process_mint("A-5", uow_factory=uow_factory, chain=chain, signer=signer) == (
            "submitted"
        )
        wait_expired(chain, row_of(uow_factory, "mint", "A-5"))
        woken: list[str] = []
        report = reconcile(
            uow_factory=uow_factory,
            chain=chain,
            fix=True,
            notify=woken.extend,
            stuck_after=timedelta(),
            max_attempts=2,  # `minter reconcile` passes the workers' MINT_MAX_ATTEMPTS
        )
        (d,) = report.discrepancies
        assert (d.kind, d.fixed, woken) == ("stuck", fixed, woken_ids), n
        assert row_of(uow_factory, "mint", "A-5").status == status
    assert row_of(uow_factory, "mint", "A-5").last_error == (
        "all 2 attempts expired unseen; the mint is not on chain"
    )
    assert_sent_once_each(attempts_of(uow_factory, "mint", "A-5"), n=2, outcome="expired")


def test_the_worker_reads_the_cap_and_fails_the_ticket(postgres, redis_url, redis_server):
    """The real worker processes with MINT_MAX_ATTEMPTS=3 on a fast validator of the Stack's own
    that refuses every send: the ticket fails after exactly three attempts and stays failed."""
    import psycopg

    from devtools.stack import Stack

    env = {
        "MINT_MAX_ATTEMPTS": "3",
        "MINT_SEND_RATE": "1000",
        "MINT_PENDING_AGE": "1",
        "MINT_SWEEP_INTERVAL": "0.5",
    }
    with Stack(postgres=postgres, redis=redis_server, slot_ms=SLOT_MS, extra_env=env) as stack:
        admin.set_faults(stack.rpc_url, blockhash_not_found=1.0)
        executed = admin.get_stats(stack.rpc_url)["executed_ok"]  # the payer's airdrop
        ticket = {
            "ticket_id": "E-1",
            "owner": str(Keypair().pubkey()),
            "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"},
        }
        enqueue(stack, [ticket])
        stack.start_workers(processes=1, threads=2)
        assert stack.wait_until_resolved(["E-1"], timeout=60) == {"E-1": "failed"}, (
            stack.worker_logs()[-3000:]
        )
        # the last send may still be retrying its refusals (up to ~1.6 s, longer than this
        # validator's 0.75 s blockhash): let it finish, then nothing may wake the ticket
        time.sleep(2)
        sends = admin.get_stats(stack.rpc_url)["send_requests"]
        time.sleep(2)  # four sweeps and eight confirmer passes
        assert admin.get_stats(stack.rpc_url)["send_requests"] == sends
        stack.stop_workers()
        with psycopg.connect(stack.database_url) as conn:
            status, attempts, error = conn.execute(
                "SELECT status, attempts, last_error FROM nft_mints WHERE ticket_id = 'E-1'"
            ).fetchone()
            rows = conn.execute(
                "SELECT outcome, sent_at IS NOT NULL FROM nft_attempts"
                " WHERE ref_id = 'E-1' ORDER BY id"
            ).fetchall()
        assert (status, attempts) == ("failed", 3)
        assert error == "all 3 attempts expired unseen; the mint is not on chain"
        assert rows == [("expired", True)] * 3
        assert admin.get_stats(stack.rpc_url)["executed_ok"] == executed
