"""PubSub on token accounts in jsonParsed, as wallets watch them: accountSubscribe on an
associated token account and programSubscribe on the token program with the owner memcmp."""

from __future__ import annotations

import asyncio
import json

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    mint_to,
)
from websockets.asyncio.client import connect

from minter.localnet.process import LocalnetProcess
from tests.integration.test_localnet_pubsub import TIMEOUT, _request
from tests.integration.test_localnet_reads import make_mint, send

OWNER_OFFSET = 32  # SPL token account: mint (32), owner (32), amount (8), …
# an SPL token account; Token-2022's associated account adds the ImmutableOwner extension
ACCOUNT_SIZE = {TOKEN_PROGRAM_ID: 165, TOKEN_2022_PROGRAM_ID: 170}


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=40) as proc:
        yield proc


def parsed_amount(account: dict) -> str:
    assert account["data"]["space"] == ACCOUNT_SIZE[Pubkey.from_string(account["owner"])]
    parsed = account["data"]["parsed"]
    assert parsed["type"] == "account"
    return parsed["info"]["tokenAmount"]["amount"]


@pytest.mark.parametrize("program", [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID], ids=["spl", "2022"])
def test_token_account_notifications_json_parsed(fast_localnet, program):
    client = Client(fast_localnet.url)
    payer = Keypair()
    sig = client.request_airdrop(payer.pubkey(), 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    owner = Keypair().pubkey()
    mint = make_mint(client, payer, program)
    ata = get_associated_token_address(owner, mint.pubkey(), program)
    expected_label = "spl-token" if program == TOKEN_PROGRAM_ID else "spl-token-2022"

    async def scenario():
        async with connect(fast_localnet.ws_url) as ws:
            opts = {"encoding": "jsonParsed", "commitment": "confirmed"}
            account_sub = (await _request(ws, 1, "accountSubscribe", [str(ata), opts]))["result"]
            owner_filter = {"memcmp": {"offset": OWNER_OFFSET, "bytes": str(owner)}}
            program_sub = (
                await _request(
                    ws, 2, "programSubscribe", [str(program), {**opts, "filters": [owner_filter]}]
                )
            )["result"]
            create = create_idempotent_associated_token_account(
                payer.pubkey(), owner, mint.pubkey(), program
            )
            send(client, payer, [create])
            amount = MintToParams(
                program_id=program,
                mint=mint.pubkey(),
                dest=ata,
                mint_authority=payer.pubkey(),
                amount=1,
            )
            send(client, payer, [mint_to(amount)])
            notes = []
            while len(notes) < 4:
                msg = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
                if msg.get("method") in ("accountNotification", "programNotification"):
                    notes.append(msg)
            return account_sub, program_sub, notes

    account_sub, program_sub, notes = asyncio.run(scenario())
    by_sub: dict[int, list[dict]] = {}
    for note in notes:
        by_sub.setdefault(note["params"]["subscription"], []).append(note["params"]["result"])
    # one notification per change, in order: created with 0, then 1 minted
    accounts = by_sub[account_sub]
    assert [parsed_amount(r["value"]) for r in accounts] == ["0", "1"]
    assert accounts[0]["context"]["slot"] <= accounts[1]["context"]["slot"]
    info = accounts[1]["value"]["data"]["parsed"]["info"]
    assert info["owner"] == str(owner) and info["mint"] == str(mint.pubkey())
    assert accounts[1]["value"]["data"]["program"] == expected_label
    assert accounts[1]["value"]["owner"] == str(program)
    programs = by_sub[program_sub]
    assert [r["value"]["pubkey"] for r in programs] == [str(ata), str(ata)]
    assert [parsed_amount(r["value"]["account"]) for r in programs] == ["0", "1"]
    assert [r["context"]["slot"] for r in programs] == [r["context"]["slot"] for r in accounts]
