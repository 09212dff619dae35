"""The ticket lifecycle of Core tickets, end to end: `minter worker` processes write each
decision on chain, and every check here decodes the chain, not the ledger.

Needs the Metaplex Core program binary (``MPL_CORE_SO``); skipped without it.
"""

from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager

import psycopg
import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from devtools.stack import Stack
from minter.nft.core import transfer_v1
from minter.nft.decode_core import decode_core_asset
from minter.nft.verify import core_asset
from tests.e2e.helpers import enqueue, kill_workers_while_running, reconcile

pytestmark = pytest.mark.skipif(
    not os.environ.get("MPL_CORE_SO"),
    reason="MPL_CORE_SO not set: the Metaplex Core program binary is not on this machine",
)
EVENT = "EV-LOCK"


@contextmanager
def services_of(stack: Stack):
    from actors.infra import config as cfg
    from actors.infra.bootstrap import build_services

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
    services = build_services(settings, chain=False)
    try:
        yield services, cfg.reveal(settings.signer.mint_key_secret), settings
    finally:
        services.close()


def operate(stack: Stack, kind: str, ticket_id: str, **body):
    from actors.workflows.tickets import operate as run

    with services_of(stack) as (services, secret, _):
        return run(
            kind,
            ticket_id,
            body,
            uow_factory=services.uow_factory,
            mint_secret=secret,
            notify=services.notify_operations,
        )


def resell(stack: Stack, transfer_id: str, ticket_id: str, to: str):
    from actors.workflows.transfers import TransferSigner, enqueue_transfer

    with services_of(stack) as (services, secret, settings):
        body = {"transfer_id": transfer_id, "ticket_id": ticket_id, "to": to, "reason": "resale"}
        return enqueue_transfer(
            body,
            uow_factory=services.uow_factory,
            signer=TransferSigner(payer=settings.signer.payer),
            notify=services.notify_transfers,
            mint_secret=secret,
        )


def wait_rows(stack: Stack, table: str, key: str, ids: list[str], timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(stack.database_url) as conn:
            rows = dict(
                conn.execute(
                    f"SELECT {key}, status FROM {table} WHERE {key} = ANY(%s)", (ids,)
                ).fetchall()
            )
        if all(rows.get(i) in ("completed", "failed") for i in ids):
            return rows
        assert time.monotonic() < deadline, f"{table} not resolved: {rows}"
        time.sleep(0.25)


def assets(stack: Stack, addresses: list[str]) -> list:
    client = Client(stack.rpc_url)
    keys = [Pubkey.from_string(a) for a in addresses]
    out = []
    for i in range(0, len(keys), 100):
        out += client.get_multiple_accounts(keys[i : i + 100]).value
    return [core_asset(a) for a in out]


def mint_event_tickets(stack: Stack, prefix: str, n: int) -> tuple[list[dict], list, dict]:
    stack.minter(
        "event", "put", EVENT, "--name", "Locked concert", "--uri", "https://t.example/e.json",
        "--venue-id", "V-3", "--transfer-policy", "locked_until_checkin", "--standard", "core",
    )  # fmt: skip
    holders = {f"{prefix}-{i:04d}": Keypair() for i in range(n)}
    items = [
        {
            "ticket_id": t,
            "owner": str(k.pubkey()),
            "event_id": EVENT,
            "seat": f"S{i}",
            "metadata": {"name": f"Ticket {i}", "uri": f"https://t.example/{i}.json"},
        }
        for i, (t, k) in enumerate(holders.items())
    ]
    results = enqueue(stack, items)
    assert set(stack.wait_until_resolved(list(holders), timeout=300).values()) == {"completed"}
    return items, results, holders


def test_100_locked_tickets_through_their_lifecycle(stack, localnet):
    stack.start_workers(processes=2, threads=8)
    items, results, holders = mint_event_tickets(stack, "LC", 100)
    addresses = [r.mint_address for r in results]
    assert all(a is not None and a.frozen for a in assets(stack, addresses))  # frozen when minted
    ids = [i["ticket_id"] for i in items]

    # the holder's own transfer is refused by the program: locked until check-in
    client = Client(stack.rpc_url)
    first, holder = ids[0], holders[ids[0]]
    stack.fund(holder.pubkey(), 10**9)
    collection = decode_core_asset(
        bytes(client.get_account_info(Pubkey.from_string(addresses[0])).value.data)
    ).collection
    ix = transfer_v1(
        Pubkey.from_string(addresses[0]),
        Keypair().pubkey(),
        authority=holder.pubkey(),
        payer=holder.pubkey(),
        collection=collection,
    )
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(holder.pubkey(), [ix], [], blockhash), [holder])
    with pytest.raises(Exception, match="custom program error|InstructionError"):
        client.send_transaction(tx)

    # the platform's resale, the only channel of a locked ticket: the permanent transfer
    # delegate moves the frozen asset without the holder's signature
    buyer = str(Keypair().pubkey())
    resell(stack, "resale-1", first, buyer)
    assert wait_rows(stack, "nft_transfers", "transfer_id", ["resale-1"]) == {
        "resale-1": "completed"
    }
    resold = assets(stack, [addresses[0]])[0]
    assert str(resold.owner) == buyer and resold.frozen
    owners = [buyer] + [i["owner"] for i in items[1:]]

    for t in ids:
        operate(stack, "check_in", t, operation_id=f"scan-{t}", gate="North")
    wait_rows(stack, "ticket_operations", "operation_id", [f"scan-{t}" for t in ids])
    after = assets(stack, addresses)
    for item, owner, asset in zip(items, owners, after, strict=True):
        attributes = dict(asset.attributes)
        assert "checked_in" in attributes and attributes["seat"] == item["seat"]
        assert asset.frozen and str(asset.owner) == owner

    # invalidated: burned; reissued: version 2 at its own address, to a new owner
    second = ids[1]
    operate(stack, "invalidate", second, operation_id="refund-1", reason="refund")
    new_owner = str(Keypair().pubkey())
    again = operate(stack, "reissue", second, operation_id="again-1", owner=new_owner)
    wait_rows(stack, "ticket_operations", "operation_id", ["refund-1", "again-1"])
    burned, v2 = assets(stack, [addresses[1], again.operation.address])
    assert burned is None
    assert v2 is not None and str(v2.owner) == new_owner and v2.frozen
    # reconciliation knows every version, check-in and move: ledger and chain agree
    code, report = reconcile(stack)
    assert code == 0, report


def lifecycle_under_faults(
    stack, localnet, ids: list[str], *, voided: int, reissued: int, resold: range, seed: int
) -> dict[str, str]:
    """Resales, then a check-in of every ticket, invalidations and reissues, under 30 % dropped
    responses, 10 % BlockhashNotFound and two SIGKILLs of the workers; asserts each landed
    exactly once (counted at the validator) and the ledger explains every attempt. Returns
    the buyers by ticket."""
    before = localnet.stats()["executed_ok"]
    localnet.set_faults(drop_response=0.3, blockhash_not_found=0.1, seed=seed)
    try:
        buyers = {ids[i]: str(Keypair().pubkey()) for i in resold}
        for t, buyer in buyers.items():  # resold first: a checked-in ticket stays put
            resell(stack, f"resale-{t}", t, buyer)
        for t in ids:
            operate(stack, "check_in", t, operation_id=f"scan-{t}", gate="South")
        for t in ids[:voided]:
            operate(stack, "invalidate", t, operation_id=f"void-{t}", reason="fraud")
        for t in ids[:reissued]:
            operate(stack, "reissue", t, operation_id=f"new-{t}", owner=str(Keypair().pubkey()))
        ops = [f"scan-{t}" for t in ids] + [f"void-{t}" for t in ids[:voided]]
        ops += [f"new-{t}" for t in ids[:reissued]]
        sales = [f"resale-{t}" for t in buyers]
        kill_workers_while_running(stack, ops, kills=2, rng=random.Random(seed))
        statuses = wait_rows(stack, "ticket_operations", "operation_id", ops)
        statuses |= wait_rows(stack, "nft_transfers", "transfer_id", sales)
    finally:
        localnet.clear_faults()
    assert set(statuses.values()) == {"completed"}, stack.worker_logs()[-3000:]
    # each exactly once on chain
    assert localnet.stats()["executed_ok"] - before == len(ops) + len(sales)
    with psycopg.connect(stack.database_url) as conn:
        landed = dict(
            conn.execute(
                "SELECT ref_id, count(*) FROM nft_attempts WHERE kind IN ('operation', 'transfer')"
                " AND outcome = 'landed' GROUP BY ref_id"
            ).fetchall()
        )
        unexplained = conn.execute(
            "SELECT count(*) FROM nft_attempts WHERE outcome IS NULL"
        ).fetchone()[0]
    assert landed == {op: 1 for op in ops + sales} and unexplained == 0
    return buyers


@pytest.mark.slow
def test_lifecycle_under_faults_and_sigkill_happens_once(stack, localnet):
    stack.start_workers(processes=2, threads=8)
    items, results, _ = mint_event_tickets(stack, "LF", 40)
    ids = [i["ticket_id"] for i in items]
    buyers = lifecycle_under_faults(
        stack, localnet, ids, voided=10, reissued=5, resold=range(10, 15), seed=9
    )
    chain = assets(stack, [r.mint_address for r in results])
    assert all(a is None for a in chain[:10])  # burned
    assert [str(a.owner) for a in chain[10:15]] == list(buyers.values())  # resold
    assert all("checked_in" in dict(a.attributes) for a in chain[10:])
    code, report = reconcile(stack)
    assert code == 0, report
