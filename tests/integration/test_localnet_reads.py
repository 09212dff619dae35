"""History and scan reads of the embedded validator, through solana-py's own requests."""

from __future__ import annotations

import base64

import httpx
import pytest
from solana.rpc.api import Client
from solana.rpc.types import DataSliceOpts, MemcmpOpts
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
)


def send(client: Client, payer: Keypair, ixs, *signers: Keypair):
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(
        MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), [payer, *signers]
    )
    sig = client.send_transaction(tx).value
    client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    return sig


def make_mint(client: Client, payer: Keypair, program) -> Keypair:
    mint = Keypair()
    rent = client.get_minimum_balance_for_rent_exemption(82).value
    create = CreateAccountParams(
        from_pubkey=payer.pubkey(), to_pubkey=mint.pubkey(), lamports=rent, space=82, owner=program
    )
    init = InitializeMintParams(
        decimals=0,
        freeze_authority=None,
        mint=mint.pubkey(),
        mint_authority=payer.pubkey(),
        program_id=program,
    )
    send(client, payer, [create_account(create), initialize_mint(init)], mint)
    return mint


@pytest.mark.parametrize("program", [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID], ids=["spl", "2022"])
def test_program_accounts_filters(localnet, funded_keypair, program):
    client, payer = Client(localnet.url), funded_keypair
    alice, bob = Keypair().pubkey(), Keypair().pubkey()
    m1, m2 = (make_mint(client, payer, program).pubkey() for _ in range(2))
    send(
        client,
        payer,
        [
            create_idempotent_associated_token_account(payer.pubkey(), alice, m1, program),
            create_idempotent_associated_token_account(payer.pubkey(), alice, m2, program),
            create_idempotent_associated_token_account(payer.pubkey(), bob, m1, program),
        ],
    )
    ata = {
        (o, m): get_associated_token_address(o, m, program) for o in (alice, bob) for m in (m1, m2)
    }
    # A Token-2022 ATA carries the ImmutableOwner extension: 165 + type byte + 4-byte TLV.
    size = 165 if program == TOKEN_PROGRAM_ID else 170

    # The owner field of a token account is bytes 32..64.
    owned = client.get_program_accounts(
        program, "confirmed", "base64", filters=[size, MemcmpOpts(offset=32, bytes=str(alice))]
    ).value
    assert sorted(a.pubkey for a in owned) == sorted([ata[alice, m1], ata[alice, m2]])
    assert all(a.account.owner == program and len(a.account.data) == size for a in owned)
    (bobs,) = client.get_program_accounts(
        program, filters=[MemcmpOpts(offset=32, bytes=str(bob))]
    ).value
    assert bobs.pubkey == ata[bob, m1]

    # dataSize: the mint authority (offset 4, after the COption tag) picks the 82-byte mints.
    mints = client.get_program_accounts(
        program, filters=[82, MemcmpOpts(offset=4, bytes=str(payer.pubkey()))]
    ).value
    assert sorted(a.pubkey for a in mints) == sorted([m1, m2])
    assert (
        client.get_program_accounts(
            program, filters=[166, MemcmpOpts(offset=4, bytes=str(payer.pubkey()))]
        ).value
        == []
    )

    # dataSlice returns only the asked bytes; the filters still saw the whole account.
    sliced = client.get_program_accounts(
        program,
        encoding="base64",
        data_slice=DataSliceOpts(offset=32, length=32),
        filters=[MemcmpOpts(offset=0, bytes=str(m1))],
    ).value
    assert sorted(bytes(a.account.data) for a in sliced) == sorted([bytes(alice), bytes(bob)])

    # withContext and a base64 memcmp, as web3.js can send them.
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getProgramAccounts",
        "params": [
            str(program),
            {
                "encoding": "base64",
                "withContext": True,
                "filters": [
                    {"dataSize": size},
                    {
                        "memcmp": {
                            "offset": 32,
                            "bytes": base64.b64encode(bytes(bob)).decode(),
                            "encoding": "base64",
                        }
                    },
                ],
            },
        ],
    }
    res = httpx.post(localnet.url, json=body).json()["result"]
    assert res["context"]["slot"] > 0
    (item,) = res["value"]
    assert item["pubkey"] == str(ata[bob, m1])
    assert item["account"]["data"][1] == "base64"
    assert item["account"]["space"] == size and item["account"]["owner"] == str(program)


def test_signatures_for_address(localnet, funded_keypair):
    client, sender = Client(localnet.url), funded_keypair
    other = Keypair().pubkey()
    ix = lambda n: transfer(  # noqa: E731
        TransferParams(from_pubkey=sender.pubkey(), to_pubkey=other, lamports=10_000 + n)
    )
    t1, t2, t3 = (send(client, sender, [ix(n)]) for n in range(3))

    def sigs(address=None, **kw):
        found = client.get_signatures_for_address(address or sender.pubkey(), **kw).value
        return [s.signature for s in found]

    everything = sigs()
    assert everything[:3] == [t3, t2, t1] and len(everything) == 4  # and the funding airdrop
    assert sigs(other) == [t3, t2, t1]
    assert sigs(limit=2) == [t3, t2]
    assert sigs(before=t3) == [t2, t1, everything[3]]
    assert sigs(until=t1) == [t3, t2]
    assert sigs(before=t3, until=t1) == [t2]
    (first,) = client.get_signatures_for_address(other, limit=1).value
    assert first.err is None and first.memo is None and first.slot > 0
    assert first.block_time == client.get_block_time(first.slot).value
    assert first.confirmation_status is not None
    assert sigs(Keypair().pubkey()) == []


def test_block_time_and_first_block(localnet):
    client = Client(localnet.url)
    assert client.get_first_available_block().value == 1
    assert client.get_minimum_ledger_slot().value == 1
    slot = client.get_slot("processed").value
    # whole seconds, never earlier than the first slot's (how close to now: not a test's call)
    assert isinstance(client.get_block_time(slot).value, int)
    assert client.get_block_time(1).value <= client.get_block_time(slot).value
    future = slot + 1_000_000
    res = httpx.post(
        localnet.url, json={"jsonrpc": "2.0", "id": 1, "method": "getBlockTime", "params": [future]}
    ).json()
    assert res["error"]["code"] == -32004
    assert res["error"]["message"] == f"Block not available for slot {future}"
    past = httpx.post(
        localnet.url, json={"jsonrpc": "2.0", "id": 1, "method": "getBlockTime", "params": [0]}
    ).json()
    assert past["error"]["code"] == -32001  # before the first slot: "cleaned up"


def test_inflation_reward_is_empty_per_address(localnet):
    keys = [str(Keypair().pubkey()), str(Keypair().pubkey())]
    assert rpc(localnet.url, "getInflationReward", keys).json()["result"] == [None, None]
    assert Client(localnet.url).get_inflation_reward([Keypair().pubkey()]).value == [None]
    bad = rpc(localnet.url, "getInflationReward", ["not-a-key"]).json()["error"]
    assert bad["code"] == -32602


def rpc(url: str, method: str, *params):
    return httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})


def test_get_block(localnet, funded_keypair):
    client, sender = Client(localnet.url), funded_keypair
    ix = transfer(
        TransferParams(from_pubkey=sender.pubkey(), to_pubkey=Keypair().pubkey(), lamports=10**6)
    )
    sig = send(client, sender, [ix])
    slot = client.get_transaction(sig, max_supported_transaction_version=0).value.slot

    opts = {"transactionDetails": "signatures", "rewards": False}
    block = rpc(localnet.url, "getBlock", slot, opts).json()["result"]
    assert str(sig) in block["signatures"]
    assert block["blockHeight"] == slot and block["parentSlot"] == slot - 1
    assert block["blockTime"] == client.get_block_time(slot).value
    assert "rewards" not in block and "transactions" not in block
    parent = rpc(localnet.url, "getBlock", slot - 1, opts).json()["result"]
    assert block["previousBlockhash"] == parent["blockhash"] != block["blockhash"]

    # solana-py asks for full transactions and parses them.
    full = client.get_block(slot, max_supported_transaction_version=0).value
    (mine,) = [t for t in full.transactions if t.transaction.signatures[0] == sig]
    assert mine.meta.fee == 5000 and mine.meta.err is None
    assert str(full.blockhash) == block["blockhash"]

    missing = rpc(localnet.url, "getBlock", slot + 1_000_000, opts).json()["error"]
    assert missing["code"] == -32004
