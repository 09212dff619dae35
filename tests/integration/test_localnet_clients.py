"""The official clients work against the embedded validator unchanged."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from solana.rpc.api import Client
from solana.rpc.async_api import AsyncClient
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import CreateAccountParams, TransferParams, create_account, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

ROOT = Path(__file__).resolve().parents[2]
WEB3 = ROOT / "tests" / "js" / "web3"


def transfer_tx(client, sender: Keypair, to, lamports: int) -> VersionedTransaction:
    blockhash = client.get_latest_blockhash().value.blockhash
    ix = transfer(TransferParams(from_pubkey=sender.pubkey(), to_pubkey=to, lamports=lamports))
    return VersionedTransaction(
        MessageV0.try_compile(sender.pubkey(), [ix], [], blockhash), [sender]
    )


def test_solana_py_sync(localnet):
    client = Client(localnet.url)
    a, b = Keypair(), Keypair()
    client.confirm_transaction(
        client.request_airdrop(a.pubkey(), 2 * 10**9).value, "confirmed", sleep_seconds=0.05
    )
    sig = client.send_transaction(transfer_tx(client, a, b.pubkey(), 12345)).value
    client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    (status,) = client.get_signature_statuses([sig]).value
    assert status.err is None and status.slot > 0
    assert client.get_balance(b.pubkey(), "confirmed").value == 12345
    assert client.get_balance(a.pubkey(), "confirmed").value == 2 * 10**9 - 12345 - 5000
    tx = client.get_transaction(sig, max_supported_transaction_version=0).value
    assert tx.transaction.meta.fee == 5000
    assert tx.transaction.meta.post_balances[1] == 12345


def test_solana_py_async(localnet):
    async def run():
        async with AsyncClient(localnet.url) as client:
            a, b = Keypair(), Keypair()
            sig = (await client.request_airdrop(a.pubkey(), 10**9)).value
            await client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
            blockhash = (await client.get_latest_blockhash()).value.blockhash
            ix = transfer(
                TransferParams(from_pubkey=a.pubkey(), to_pubkey=b.pubkey(), lamports=777)
            )
            tx = VersionedTransaction(MessageV0.try_compile(a.pubkey(), [ix], [], blockhash), [a])
            sig = (await client.send_transaction(tx)).value
            await client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
            statuses = (await client.get_signature_statuses([sig])).value
            return (await client.get_balance(b.pubkey())).value, statuses[0]

    balance, status = asyncio.run(run())
    assert balance == 777 and status.err is None


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_web3js(localnet):
    if not (WEB3 / "node_modules").exists():
        pytest.skip("tests/js/web3/node_modules missing: scripts/setup.sh installs it")
    res = subprocess.run(
        ["node", str(WEB3 / "smoke.mjs"), localnet.url], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["receiverBalance"] == 54321
    assert out["accountChange"]["lamports"] == 54321  # onAccountChange fired
    assert out["senderBalance"] == 10**9 - 54321 - 5000
    assert out["status"]["err"] is None
    assert out["status"]["confirmationStatus"] in ("confirmed", "finalized")
    # and what web3.js saw, solana-py sees too
    assert Client(localnet.url).get_balance(Pubkey.from_string(out["receiver"])).value == 54321


def test_spl_token_balances(localnet, funded_keypair):
    client = Client(localnet.url)
    payer, mint, holder = funded_keypair, Keypair(), Keypair()
    ata = get_associated_token_address(holder.pubkey(), mint.pubkey())
    rent = client.get_minimum_balance_for_rent_exemption(82).value
    ixs = [
        create_account(
            CreateAccountParams(
                from_pubkey=payer.pubkey(),
                to_pubkey=mint.pubkey(),
                lamports=rent,
                space=82,
                owner=TOKEN_PROGRAM_ID,
            )
        ),
        initialize_mint(
            InitializeMintParams(
                decimals=2,
                freeze_authority=None,
                mint=mint.pubkey(),
                mint_authority=payer.pubkey(),
                program_id=TOKEN_PROGRAM_ID,
            )
        ),
        create_idempotent_associated_token_account(payer.pubkey(), holder.pubkey(), mint.pubkey()),
        mint_to(
            MintToParams(
                program_id=TOKEN_PROGRAM_ID,
                mint=mint.pubkey(),
                dest=ata,
                mint_authority=payer.pubkey(),
                amount=1234,
            )
        ),
    ]
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(
        MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), [payer, mint]
    )
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.05)
    bal = client.get_token_account_balance(ata).value
    assert (bal.amount, bal.decimals, bal.ui_amount_string) == ("1234", 2, "12.34")
    from solana.rpc.types import TokenAccountOpts

    by_mint = client.get_token_accounts_by_owner_json_parsed(
        holder.pubkey(), TokenAccountOpts(mint=mint.pubkey())
    ).value
    assert [a.pubkey for a in by_mint] == [ata]
    assert by_mint[0].account.data.parsed["info"]["tokenAmount"]["amount"] == "1234"
    by_program = client.get_token_accounts_by_owner(
        holder.pubkey(), TokenAccountOpts(program_id=TOKEN_PROGRAM_ID)
    ).value
    assert [a.pubkey for a in by_program] == [ata]


def test_resend_answers_already_processed(localnet, funded_keypair):
    from solana.rpc.core import RPCException

    client = Client(localnet.url)
    tx = transfer_tx(client, funded_keypair, Keypair().pubkey(), 1000)
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.05)
    with pytest.raises(RPCException) as err:
        client.send_transaction(tx)
    assert "AlreadyProcessed" in str(err.value.args[0].data.err)


def _raw(url, body):
    return httpx.post(url, json=body, timeout=10).json()


def test_batch_and_unknown_method(localnet):
    out = _raw(
        localnet.url,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
            {"jsonrpc": "2.0", "id": 2, "method": "getNothing"},
            {"jsonrpc": "2.0", "id": 3, "method": "getHealth"},
        ],
    )
    assert [r["id"] for r in out] == [1, 2, 3]
    assert isinstance(out[0]["result"], int)
    assert out[1]["error"]["code"] == -32601
    assert out[2]["result"] == "ok"
    assert httpx.post(localnet.url, content=b"{nope", timeout=10).json()["error"]["code"] == -32700
