"""``SOLANA_COMPUTE_UNIT_PRICE=auto`` beyond mints, on a validator of its own (50 ms slots): a
claim is priced from the recent fees of the accounts it write-locks, as the node reports them,
and never pays more than the cap.

The node remembers 150 slots of fees (7.5 seconds here), so the priced transactions are sent
just before each claim is signed."""

from __future__ import annotations

import time

import pytest
from solana.rpc.api import Client
from solders.compute_budget import set_compute_unit_price
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from actors.workflows.confirmer import confirm_submitted
from actors.workflows.intake import enqueue_mints
from actors.workflows.mints import MINTS, MintSigner, process_mint
from actors.workflows.transfers import TRANSFERS, TransferSigner, enqueue_transfer, process_transfer
from minter.fees import PriorityFeePolicy
from minter.keys import Payer
from minter.localnet.process import LocalnetProcess
from tests.integration.test_mint_workflow import landed_price
from tests.support.validator import impatient_chain

SECRET = b"f" * 32
PRICES = (20_000, 50_000)  # micro-lamports per CU of the transactions landed before a claim


@pytest.fixture(scope="module")
def fast_url():
    with LocalnetProcess(slot_ms=50) as proc:
        yield proc.url


@pytest.fixture
def chain(fast_url):
    yield from impatient_chain(fast_url)


def funded(url: str) -> Keypair:
    kp, client = Keypair(), Client(url)
    client.confirm_transaction(
        client.request_airdrop(kp.pubkey(), 10**11).value, "confirmed", sleep_seconds=0.02
    )
    return kp


def confirm_until(uow_factory, chain, kind, key, status, *, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        confirm_submitted(uow_factory=uow_factory, chain=chain, kind=kind)
        with uow_factory() as uow:
            row = kind.repo(uow).get(key)
        if row.status == status:
            return row
        time.sleep(0.05)
    raise AssertionError(f"{key} stayed {row.status}")


def custody_ticket(uow_factory, chain, custody: Keypair, ticket_id: str) -> Pubkey:
    """A Token-2022 ticket minted to custody; its custody token account (which a claim
    write-locks: it moves the ticket out of it, and closes it)."""
    item = {
        "ticket_id": ticket_id,
        "owner": str(custody.pubkey()),
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
    signer = MintSigner(payer=Payer(custody), mint_secret=SECRET)
    assert process_mint(ticket_id, uow_factory=uow_factory, chain=chain, signer=signer) == (
        "submitted"
    )
    confirm_until(uow_factory, chain, MINTS, ticket_id, "completed")
    mint = Pubkey.from_string(res.mint_address)
    return get_associated_token_address(custody.pubkey(), mint, TOKEN_2022_PROGRAM_ID)


def write_lock_priced(client: Client, payer: Keypair, account: Pubkey, price: int) -> None:
    """A transaction that write-locks ``account`` (a lamport to it) at ``price``, confirmed."""
    ixs = [
        set_compute_unit_price(price),
        transfer(TransferParams(from_pubkey=payer.pubkey(), to_pubkey=account, lamports=1)),
    ]
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), [payer])
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.02)


def claim_landed(uow_factory, chain, fast_url, *, signer, ticket_id, transfer_id, source):
    """Priced transactions land on the claim's source account (paid by someone else), then
    the claim is signed, sent and confirmed: its (price, limit) as read back from the chain."""
    client, other = Client(fast_url), funded(fast_url)
    enqueue_transfer(
        {"transfer_id": transfer_id, "ticket_id": ticket_id, "to": str(Keypair().pubkey())},
        uow_factory=uow_factory,
        signer=signer,
        notify=lambda ids: None,
    )
    for price in PRICES:
        write_lock_priced(client, other, source, price)
    assert (
        process_transfer(transfer_id, uow_factory=uow_factory, chain=chain, signer=signer)
        == "submitted"
    )
    row = confirm_until(uow_factory, chain, TRANSFERS, transfer_id, "completed")
    return landed_price(client, row.signature)


def test_auto_priority_fees_price_a_claim_from_its_accounts_under_the_cap(
    uow_factory, chain, fast_url
):
    custody = funded(fast_url)
    sources = [custody_ticket(uow_factory, chain, custody, t) for t in ("C-1", "C-2")]

    def claim(n: int, policy: PriorityFeePolicy) -> tuple[int, int]:
        signer = TransferSigner(payer=Payer(custody), fees=policy)
        return claim_landed(
            uow_factory,
            chain,
            fast_url,
            signer=signer,
            ticket_id=f"C-{n}",
            transfer_id=f"X-{n}",
            source=sources[n - 1],
        )

    price, _ = claim(1, PriorityFeePolicy(percentile=100, max_lamports=10**9))
    assert price == max(PRICES)  # the 100th percentile of its accounts' recent fees
    price, units = claim(2, PriorityFeePolicy(percentile=100, max_lamports=500))
    assert 0 < price < max(PRICES) and price * units <= 500 * 1_000_000  # never above the cap
