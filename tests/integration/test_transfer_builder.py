"""The transfer transaction on chain, for both token programs (Metaplex NFTs use Token)."""

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.system_program import CreateAccountParams, create_account
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    InitializeMintParams,
    MintToParams,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    initialize_mint,
    mint_to,
)

from minter.transfer import TicketTransfer, build_transfer_transaction


def send(client, payer, ixs, signers):
    blockhash = client.get_latest_blockhash().value.blockhash
    tx = VersionedTransaction(MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash), signers)
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.05)


@pytest.mark.parametrize("program", [TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID])
def test_claim_moves_one_and_returns_custody_rent(localnet, funded_keypair, program):
    client = Client(localnet.url)
    payer, mint, buyer = funded_keypair, Keypair(), Keypair().pubkey()
    custody_ata = get_associated_token_address(payer.pubkey(), mint.pubkey(), program)
    send(
        client,
        payer,
        [
            create_account(
                CreateAccountParams(
                    from_pubkey=payer.pubkey(),
                    to_pubkey=mint.pubkey(),
                    space=82,
                    owner=program,
                    lamports=client.get_minimum_balance_for_rent_exemption(82).value,
                )
            ),
            initialize_mint(
                InitializeMintParams(
                    decimals=0,
                    freeze_authority=None,
                    mint=mint.pubkey(),
                    mint_authority=payer.pubkey(),
                    program_id=program,
                )
            ),
            create_idempotent_associated_token_account(
                payer.pubkey(), payer.pubkey(), mint.pubkey(), program
            ),
            mint_to(
                MintToParams(
                    program_id=program,
                    mint=mint.pubkey(),
                    dest=custody_ata,
                    mint_authority=payer.pubkey(),
                    amount=1,
                )
            ),
        ],
        [payer, mint],
    )
    before = client.get_balance(payer.pubkey(), "confirmed").value
    t = TicketTransfer(mint.pubkey(), payer.pubkey(), buyer, payer.pubkey(), program)
    tx = build_transfer_transaction(
        t,
        payer=payer,
        source=payer,
        compute_unit_limit=60_000,
        recent_blockhash=client.get_latest_blockhash().value.blockhash,
    )
    client.confirm_transaction(client.send_transaction(tx).value, "confirmed", sleep_seconds=0.05)
    assert client.get_token_account_balance(t.destination_account).value.amount == "1"
    assert client.get_account_info(custody_ata).value is None  # closed
    assert before - client.get_balance(payer.pubkey(), "confirmed").value == 5000  # fee only
