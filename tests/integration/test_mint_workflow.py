"""The mint workflows called directly (no Dramatiq), on a fast validator: 20 ms slots, so a
blockhash expires in about three seconds."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from actors.workflows.confirmer import confirm_submitted
from actors.workflows.intake import enqueue_mints
from actors.workflows.lifecycle import (
    CACHED_CU_HEADROOM,
    ComputeBudgets,
    budget_exceeded,
)
from actors.workflows.mints import MINTS, MintSigner, process_mint
from minter.errors import TransientRpcError
from minter.fees import PriorityFeePolicy
from minter.keys import Payer
from minter.localnet import admin
from minter.localnet.process import LocalnetProcess
from minter.nft import parse_mint_request, verify_minted
from minter.rpc import ChainClient, RetryPolicy
from tests.support.validator import impatient_chain

SECRET = b"k" * 32


@pytest.fixture(scope="module")
def fast_url():
    with LocalnetProcess(slot_ms=20) as proc:
        yield proc.url


@pytest.fixture
def chain(fast_url):
    yield from impatient_chain(fast_url)


@pytest.fixture
def signer(fast_url):
    payer = Keypair()
    client = Client(fast_url)
    client.confirm_transaction(
        client.request_airdrop(payer.pubkey(), 10**11).value, "confirmed", sleep_seconds=0.02
    )
    return MintSigner(payer=Payer(payer), mint_secret=SECRET)


def ticket(uow_factory, ticket_id: str, *, secret: bytes = SECRET):
    item = {
        "ticket_id": ticket_id,
        "owner": str(Keypair().pubkey()),
        "standard": "token2022",
        "metadata": {"name": "Ticket", "symbol": "TIX", "uri": "https://t.example/1"},
    }
    woken: list[str] = []
    (res,) = enqueue_mints(
        [item],
        uow_factory=uow_factory,
        mint_secret=secret,
        default_standard="token2022",
        notify=woken.extend,
    )
    assert woken == [ticket_id]
    return item, res


def confirm_until(uow_factory, chain, ticket_id, status, *, notify=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        confirm_submitted(uow_factory=uow_factory, chain=chain, kind=MINTS, notify=notify)
        with uow_factory() as uow:
            row = uow.mints.get(ticket_id)
        if row.status == status:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{ticket_id} stayed {row.status}")


def executed(url) -> int:
    return admin.get_stats(url)["executed_ok"]


def test_submit_then_confirm(uow_factory, chain, signer, fast_url):
    item, res = ticket(uow_factory, "W-1")
    before = executed(fast_url)
    assert process_mint("W-1", uow_factory=uow_factory, chain=chain, signer=signer) == "submitted"
    with uow_factory() as uow:
        row = uow.mints.get("W-1")
        (attempt,) = uow.attempts.list_for("mint", "W-1")
    assert row.status == "submitted" and row.signed_tx and attempt.signature == row.signature
    row = confirm_until(uow_factory, chain, "W-1", "completed")
    assert executed(fast_url) - before == 1
    req = parse_mint_request(item, default_standard="token2022")
    assert verify_minted(chain.client, req, Pubkey.from_string(res.mint_address)).ok
    # a second message for the same ticket does nothing
    assert process_mint("W-1", uow_factory=uow_factory, chain=chain, signer=signer) == "skipped"


def test_unseen_send_is_rebroadcast_with_the_same_bytes(uow_factory, chain, signer, fast_url):
    ticket(uow_factory, "W-2")
    admin.set_faults(fast_url, blockhash_not_found=1.0)
    before = executed(fast_url)
    assert process_mint("W-2", uow_factory=uow_factory, chain=chain, signer=signer) == "submitted"
    assert executed(fast_url) == before  # refused: nothing ran
    with uow_factory() as uow:
        first = uow.mints.get("W-2")
    admin.set_faults(fast_url)
    # at once it is left to its worker, which may still be sending it (a batch sends in turn)
    assert confirm_submitted(uow_factory=uow_factory, chain=chain, kind=MINTS).rebroadcast == 0
    stats = confirm_submitted(
        uow_factory=uow_factory, chain=chain, kind=MINTS, rebroadcast_after=timedelta(0)
    )
    assert stats.rebroadcast == 1 and stats.rebuilt == 0
    row = confirm_until(uow_factory, chain, "W-2", "completed")
    assert (row.signature, row.signed_tx) == (first.signature, first.signed_tx)
    assert executed(fast_url) - before == 1


def test_expired_unseen_is_rebuilt_at_the_same_mint_address(uow_factory, chain, signer, fast_url):
    _, res = ticket(uow_factory, "W-3")
    admin.set_faults(fast_url, blockhash_not_found=1.0)
    before = executed(fast_url)
    process_mint("W-3", uow_factory=uow_factory, chain=chain, signer=signer)
    with uow_factory() as uow:
        first = uow.mints.get("W-3")
    while chain.block_height() <= first.last_valid_block_height:
        time.sleep(0.1)
    admin.set_faults(fast_url)
    woken: list[str] = []
    stats = confirm_submitted(uow_factory=uow_factory, chain=chain, kind=MINTS, notify=woken.extend)
    assert (stats.rebuilt, woken) == (1, ["W-3"])
    with uow_factory() as uow:
        assert uow.mints.get("W-3").status == "pending"
    assert process_mint("W-3", uow_factory=uow_factory, chain=chain, signer=signer) == "submitted"
    row = confirm_until(uow_factory, chain, "W-3", "completed")
    assert row.signature != first.signature and row.mint_address == res.mint_address
    assert executed(fast_url) - before == 1
    with uow_factory() as uow:
        outcomes = [(a.signature, a.outcome) for a in uow.attempts.list_for("mint", "W-3")]
    assert outcomes == [(first.signature, "expired"), (row.signature, "landed")]


def test_changed_secret_refuses_to_sign(uow_factory, chain, signer, fast_url):
    ticket(uow_factory, "W-4", secret=b"another secret, another address!")
    sends = admin.get_stats(fast_url)["send_requests"]
    assert process_mint("W-4", uow_factory=uow_factory, chain=chain, signer=signer) == "failed"
    with uow_factory() as uow:
        row = uow.mints.get("W-4")
    assert row.status == "failed" and "MINT_KEY_SECRET" in row.last_error
    assert admin.get_stats(fast_url)["send_requests"] == sends


def test_rpc_down_leaves_the_row_pending(uow_factory, signer):
    from devtools.local_services import free_port

    dead = ChainClient(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2))
    ticket(uow_factory, "W-5")
    with pytest.raises(TransientRpcError):
        process_mint("W-5", uow_factory=uow_factory, chain=dead, signer=signer)
    with uow_factory() as uow:
        assert uow.mints.get("W-5").status == "pending"


def test_unfunded_payer_keeps_the_ticket_pending_until_funded(uow_factory, chain, fast_url):
    broke = MintSigner(payer=Payer(Keypair()), mint_secret=SECRET)
    ticket(uow_factory, "W-6")
    assert process_mint("W-6", uow_factory=uow_factory, chain=chain, signer=broke) == "pending"
    with uow_factory() as uow:
        row = uow.mints.get("W-6")
    assert row.status == "pending" and "AccountNotFound" in row.last_error
    client = Client(fast_url)
    client.confirm_transaction(
        client.request_airdrop(broke.payer.pubkey, 10**10).value, "confirmed", sleep_seconds=0.02
    )
    assert process_mint("W-6", uow_factory=uow_factory, chain=chain, signer=broke) == "submitted"
    confirm_until(uow_factory, chain, "W-6", "completed")


class Stingy(ComputeBudgets):
    """Knows every shape, and too little for any of them: the mint runs out of compute units."""

    def get(self, shape):
        return 5_000 - CACHED_CU_HEADROOM  # 5,000 CU in all: far too few


def simulations(url) -> int:
    return admin.get_stats(url)["requests"].get("simulateTransaction", 0)


def test_a_known_shape_is_not_simulated(uow_factory, chain, signer, fast_url):
    budgets = ComputeBudgets()
    learning = MintSigner(payer=signer.payer, mint_secret=SECRET, budgets=budgets)
    before, ran = simulations(fast_url), executed(fast_url)
    for i in range(5):
        item, _ = ticket(uow_factory, f"S-{i}")
        assert process_mint(item["ticket_id"], uow_factory=uow_factory, chain=chain,
                            signer=learning) == "submitted"  # fmt: skip
    for i in range(5):
        confirm_until(uow_factory, chain, f"S-{i}", "completed")
    assert simulations(fast_url) - before == 1  # the first ticket's shape, then known
    assert executed(fast_url) - ran == 5  # each mint ran once


def test_running_out_of_compute_units_rebuilds_at_the_same_address(uow_factory, signer, fast_url):
    # as the workers send by default: unpreflighted, so it lands with its error (fee paid)
    chain = ChainClient(fast_url, skip_preflight=True)
    stingy = MintSigner(payer=signer.payer, mint_secret=SECRET, budgets=Stingy())
    item, res = ticket(uow_factory, "CU-1")
    assert process_mint("CU-1", uow_factory=uow_factory, chain=chain, signer=stingy) == "submitted"
    woken: list[str] = []
    row = confirm_until(uow_factory, chain, "CU-1", "pending", notify=woken.extend)
    assert woken == ["CU-1"] and budget_exceeded(row.last_error), row.last_error
    before = simulations(fast_url)
    # the rebuild simulates again (the error says so), whatever the cache believes
    assert process_mint("CU-1", uow_factory=uow_factory, chain=chain, signer=stingy) == "submitted"
    assert simulations(fast_url) - before == 1
    row = confirm_until(uow_factory, chain, "CU-1", "completed")
    assert row.mint_address == res.mint_address
    with uow_factory() as uow:
        outcomes = [a.outcome for a in uow.attempts.list_for("mint", "CU-1")]
    assert outcomes == ["failed", "landed"]
    req = parse_mint_request(item, default_standard="token2022")
    assert verify_minted(chain.client, req, Pubkey.from_string(res.mint_address)).ok
    chain.close()


def pay_priced_transfer(client: Client, payer: Keypair, price: int) -> None:
    """A transfer the payer pays for at ``price`` micro-lamports per CU, confirmed."""
    from solders.compute_budget import set_compute_unit_price
    from solders.message import MessageV0
    from solders.system_program import TransferParams, transfer
    from solders.transaction import VersionedTransaction

    ixs = [
        set_compute_unit_price(price),
        transfer(
            TransferParams(
                from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1_000_000
            )
        ),  # fmt: skip
    ]
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), [payer])
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.02)


def landed_price(client: Client, signature: str) -> tuple[int, int]:
    """(compute-unit price, compute-unit limit) of a landed transaction, read from chain."""
    import based58
    from solders.signature import Signature

    got = client.get_transaction(
        Signature.from_string(signature), encoding="base64", max_supported_transaction_version=0
    )
    message = got.value.transaction.transaction.message
    keys = message.account_keys
    budget = {}  # ComputeBudget instruction -> its argument
    for ix in message.instructions:
        if str(keys[ix.program_id_index]).startswith("ComputeBudget"):
            raw = ix.data  # base58 text when the node answered in JSON
            data = based58.b58decode(raw.encode()) if isinstance(raw, str) else bytes(raw)
            budget[data[0]] = int.from_bytes(data[1:], "little")
    return budget.get(3, 0), budget[2]  # SetComputeUnitPrice, SetComputeUnitLimit


def test_auto_priority_fees_follow_the_payers_recent_fees_under_the_cap(
    uow_factory, chain, signer, fast_url
):
    client = Client(fast_url)
    for price in (20_000, 50_000):  # the payer's recent transactions were priced high
        pay_priced_transfer(client, signer.payer.keypair, price)
    top = PriorityFeePolicy(percentile=100, max_lamports=10**9)
    auto = MintSigner(payer=signer.payer, mint_secret=SECRET, fees=top)
    ticket(uow_factory, "PF-1")
    assert process_mint("PF-1", uow_factory=uow_factory, chain=chain, signer=auto) == "submitted"
    row = confirm_until(uow_factory, chain, "PF-1", "completed")
    assert landed_price(client, row.signature)[0] == 50_000  # the 100th percentile
    capped = MintSigner(payer=signer.payer, mint_secret=SECRET,
                        fees=PriorityFeePolicy(percentile=100, max_lamports=1_000))  # fmt: skip
    ticket(uow_factory, "PF-2")
    assert process_mint("PF-2", uow_factory=uow_factory, chain=chain, signer=capped) == "submitted"
    row = confirm_until(uow_factory, chain, "PF-2", "completed")
    price, units = landed_price(client, row.signature)
    assert 0 < price < 50_000 and price * units <= 1_000 * 1_000_000  # never above the cap
