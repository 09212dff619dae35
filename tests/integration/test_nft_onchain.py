"""Ticket NFTs on chain through the validator's JSON-RPC with the real client."""

from __future__ import annotations

import os
import time

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from actors.workflows.mints import MintSigner, build_signed
from minter.keys import Payer, derive_mint_keypair
from minter.nft import parse_mint_request, verify_minted
from minter.nft.decode import decode_master_edition, decode_metaplex_metadata
from minter.nft.metaplex import master_edition_pda, metadata_pda
from minter.rpc import ChainClient, TransactionRejected

SECRET = b"onchain-test-secret-0123456789ab"
PDA_OWNER = Pubkey.find_program_address(
    [b"wallet"], Pubkey.from_string("SMPLecH534NA9acpos4G6x7uf3LWbCAwZQE9e8ZekMu")
)[0]

CASES = [
    {"metadata": {"name": "Ticket #1", "symbol": "TIX", "uri": "https://t.example/1.json"}},
    {
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": "B12",
        "metadata": {"name": "Entrée générale ✓", "symbol": "FÊTE", "uri": "https://t.example/é"},
    },
    {
        "owner": str(PDA_OWNER),  # a smart-wallet PDA: off curve
        "metadata": {"name": "n" * 32, "symbol": "S" * 10, "uri": "u" * 200},
    },
]


@pytest.fixture
def chain(localnet):
    client = ChainClient(localnet.url)
    yield client
    client.close()


def mint_one(chain, signer, item, standard):
    req = parse_mint_request(item, default_standard=standard)
    mint = derive_mint_keypair(SECRET, req.ticket_id)
    tx, _ = build_signed(req, chain=chain, signer=signer, mint=mint)
    sig = chain.send(bytes(tx))
    chain.client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    return req, mint.pubkey(), tx


@pytest.mark.parametrize("case", range(len(CASES)))
def test_token2022_ticket_is_minted_as_asked(chain, funded_keypair, case):
    signer = MintSigner(payer=Payer(funded_keypair), mint_secret=SECRET)
    item = {
        "ticket_id": f"OC-{case}-{time.time_ns()}",
        "owner": str(Keypair().pubkey()),
        **CASES[case],
    }
    req, mint, _ = mint_one(chain, signer, item, "token2022")
    result = verify_minted(chain.client, req, mint)
    assert result.ok, result.reasons
    other = parse_mint_request({**item, "seat": "Z99"}, default_standard="token2022")
    wrong = verify_minted(chain.client, other, mint)
    assert not wrong.ok and any("metadata" in r for r in wrong.reasons)


def test_the_chain_refuses_a_second_mint_of_a_ticket(chain, funded_keypair):
    signer = MintSigner(payer=Payer(funded_keypair), mint_secret=SECRET)
    item = {"ticket_id": f"TWICE-{time.time_ns()}", "owner": str(Keypair().pubkey()), **CASES[0]}
    req, mint, first = mint_one(chain, signer, item, "token2022")
    time.sleep(0.5)  # a later slot: the rebuilt transaction has a new blockhash
    with pytest.raises(TransactionRejected) as err:
        tx, _ = build_signed(
            req, chain=chain, signer=signer, mint=derive_mint_keypair(SECRET, req.ticket_id)
        )
    assert "InstructionError" in err.value.err
    supply = Client(chain.url).get_token_supply(mint).value.amount
    assert supply == "1"


needs_metaplex = pytest.mark.skipif(
    not os.environ.get("MPL_TOKEN_METADATA_SO"),
    reason="MPL_TOKEN_METADATA_SO not set: the Metaplex program binary is not on this machine",
)


@needs_metaplex
@pytest.mark.parametrize("case", range(len(CASES)))
def test_metaplex_ticket_is_minted_as_asked(chain, funded_keypair, case):
    signer = MintSigner(payer=Payer(funded_keypair), mint_secret=SECRET)
    item = {
        "ticket_id": f"MPL-{case}-{time.time_ns()}",
        "owner": str(Keypair().pubkey()),
        **CASES[case],
    }
    req, mint, _ = mint_one(chain, signer, item, "metaplex")
    result = verify_minted(chain.client, req, mint)
    assert result.ok, result.reasons
    meta_acc, edition_acc = chain.accounts([metadata_pda(mint), master_edition_pda(mint)])
    assert decode_metaplex_metadata(bytes(meta_acc.data)).name == req.name
    assert decode_master_edition(bytes(edition_acc.data)).max_supply == 0
