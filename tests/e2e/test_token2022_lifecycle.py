"""The ticket lifecycle of Token-2022 tickets, end to end, with no program binary: `minter
worker` processes write check-ins, resales, invalidations and reissues on chain, once each even
under faults and SIGKILL, and every check decodes the chain."""

from __future__ import annotations

import psycopg
import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import (
    TransferCheckedParams,
    get_associated_token_address,
    transfer_checked,
)

from minter.nft.decode import decode_mint, decode_token_account, decode_token_metadata
from tests.e2e.helpers import enqueue, reconcile, requests_for
from tests.e2e.test_core_lifecycle import lifecycle_under_faults, operate, resell, wait_rows


def mint_tickets(stack, prefix: str, n: int) -> tuple[list[dict], list[str], dict]:
    holders = [Keypair() for _ in range(n)]
    items = requests_for(n, prefix, owners=[str(k.pubkey()) for k in holders])
    results = enqueue(stack, items)
    ids = [i["ticket_id"] for i in items]
    assert set(stack.wait_until_resolved(ids, timeout=300).values()) == {"completed"}
    return items, [r.mint_address for r in results], dict(zip(ids, holders, strict=True))


def account(client: Client, key: Pubkey) -> bytes | None:
    value = client.get_account_info(key).value
    return None if value is None else bytes(value.data)


def holding(client: Client, mint: str, owner: str):
    ata = get_associated_token_address(
        Pubkey.from_string(owner), Pubkey.from_string(mint), TOKEN_2022_PROGRAM_ID
    )
    data = account(client, ata)
    return None if data is None else decode_token_account(data)


def test_token2022_check_in_resale_invalidate_reissue(stack, localnet):
    stack.start_workers(processes=1, threads=8)
    items, mints, holders = mint_tickets(stack, "T22L", 6)
    client = Client(stack.rpc_url)
    ids = [i["ticket_id"] for i in items]

    # the platform's resale moves it by the permanent delegate, no holder signature
    buyer = str(Keypair().pubkey())
    resell(stack, "resale-1", ids[0], buyer)
    assert wait_rows(stack, "nft_transfers", "transfer_id", ["resale-1"]) == {
        "resale-1": "completed"
    }
    assert holding(client, mints[0], buyer).amount == 1
    assert holding(client, mints[0], items[0]["owner"]).amount == 0
    owners = [buyer] + [i["owner"] for i in items[1:]]

    for t in ids:
        operate(stack, "check_in", t, operation_id=f"scan-{t}", gate="East")
    wait_rows(stack, "ticket_operations", "operation_id", [f"scan-{t}" for t in ids])
    for item, owner, mint in zip(items, owners, mints, strict=True):
        extra = dict(decode_token_metadata(account(client, Pubkey.from_string(mint))).additional)
        assert "checked_in" in extra and extra["seat"] == item["seat"]
        assert holding(client, mint, owner).frozen

    # the holder's own transfer of a checked-in (frozen) ticket is refused by the program
    holder = holders[ids[1]]
    stack.fund(holder.pubkey(), 10**9)
    source = get_associated_token_address(
        holder.pubkey(), Pubkey.from_string(mints[1]), TOKEN_2022_PROGRAM_ID
    )
    ix = transfer_checked(
        TransferCheckedParams(
            program_id=TOKEN_2022_PROGRAM_ID,
            source=source,
            mint=Pubkey.from_string(mints[1]),
            dest=source,
            owner=holder.pubkey(),
            amount=1,
            decimals=0,
        )
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(holder.pubkey(), [ix], [], blockhash), [holder])
    with pytest.raises(Exception, match="custom program error|InstructionError|0x11"):
        client.send_transaction(tx)

    # invalidated: burned (supply 0); reissued: version 2's mint, held by the new owner
    operate(stack, "invalidate", ids[1], operation_id="void-1", reason="refund")
    new_owner = str(Keypair().pubkey())
    again = operate(stack, "reissue", ids[1], operation_id="again-1", owner=new_owner)
    wait_rows(stack, "ticket_operations", "operation_id", ["void-1", "again-1"])
    assert decode_mint(account(client, Pubkey.from_string(mints[1]))).supply == 0
    assert holding(client, again.operation.address, new_owner).amount == 1
    code, report = reconcile(stack)
    assert code == 0, report

    # each landed change wrote its webhook event, numbered in the ticket's order
    assert outbox(stack, ids[0]) == [
        ("mint.completed", 1),
        ("transfer.completed", 2),
        ("ticket.checked_in", 3),
    ]
    events = outbox(stack, ids[1], data=True)
    assert [(t, n) for t, n, _ in events] == [
        ("mint.completed", 1),
        ("ticket.checked_in", 2),
        ("ticket.invalidated", 3),
        ("ticket.reissued", 4),
    ]
    reissued = events[-1][2]
    assert (reissued["operation_id"], reissued["state"], reissued["holder"]) == (
        "again-1",
        "reissued",
        new_owner,
    )
    assert reissued["versions"][-1]["address"] == again.operation.address
    assert reissued["signature"] and reissued["slot"] > 0


def outbox(stack, ticket_id: str, *, data: bool = False) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT type, sequence, data FROM webhook_outbox WHERE subject = %s ORDER BY sequence",
            (f"ticket:{ticket_id}",),
        ).fetchall()
    return [tuple(r) if data else tuple(r[:2]) for r in rows]


@pytest.mark.slow
def test_token2022_lifecycle_under_faults_and_sigkill_happens_once(stack, localnet):
    stack.start_workers(processes=2, threads=8)
    items, mints, _ = mint_tickets(stack, "T22F", 20)
    ids = [i["ticket_id"] for i in items]
    buyers = lifecycle_under_faults(
        stack, localnet, ids, voided=5, reissued=2, resold=range(5, 8), seed=13
    )
    client = Client(stack.rpc_url)
    for t, buyer in buyers.items():
        assert holding(client, mints[ids.index(t)], buyer).amount == 1
    supplies = [decode_mint(account(client, Pubkey.from_string(m))).supply for m in mints]
    assert supplies == [0] * 5 + [1] * 15
    code, report = reconcile(stack)
    assert code == 0, report
