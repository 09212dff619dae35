"""Our Metaplex instructions and PDAs equal, byte for byte, what the official client builds.

The official side is `@metaplex-foundation/mpl-token-metadata` with Umi (tests/js/mpl, pinned in
its lockfile), run by Node; the same argument sets go to both. Node gets only the payer, the
mint and the metadata: it derives the metadata and master edition PDAs itself
(`findMetadataPda` / `findMasterEditionPda`), so a wrong seed on our side shows as a difference.
"""

from __future__ import annotations

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from minter.nft.metaplex import (
    CreatorShare,
    MetaplexMetadata,
    create_master_edition_v3,
    create_metadata_account_v3,
    master_edition_pda,
    metadata_pda,
)
from tests.support.node import instruction_view, node_runner


def creators(n: int, payer):
    if n == 0:
        return None
    shares = [100 // n + (1 if i < 100 % n else 0) for i in range(n)]
    addresses = [payer] + [Keypair().pubkey() for _ in range(n - 1)]
    return tuple(CreatorShare(a, a == payer, s) for a, s in zip(addresses, shares, strict=True))


CASES = [
    dict(
        name="Ticket #1001",
        symbol="TIX",
        uri="https://t.example/1001.json",
        fee=250,
        creators=1,
        mutable=False,
    ),
    dict(name="n" * 32, symbol="S" * 10, uri="u" * 200, fee=10000, creators=5, mutable=True),
    dict(name="é" * 16, symbol="ÆØ", uri="https://t.example/ü", fee=0, creators=0, mutable=False),
    dict(name="🎫 Fête", symbol="", uri="ipfs://bafy", fee=9999, creators=3, mutable=True),
    dict(name="x", symbol="X", uri="x", fee=1, creators=2, mutable=False),
]


@pytest.fixture(scope="module")
def official():
    return node_runner("mpl")


view = instruction_view


def test_instructions_match_the_official_client(official):
    ours, args = [], []
    for case in CASES:
        payer, mint = Keypair().pubkey(), Keypair().pubkey()
        crs = creators(case["creators"], payer)
        p = MetaplexMetadata(
            mint=mint,
            payer=payer,
            name=case["name"],
            symbol=case["symbol"],
            uri=case["uri"],
            seller_fee_basis_points=case["fee"],
            creators=crs,
            is_mutable=case["mutable"],
        )
        ours.append(
            {
                "metadataPda": str(metadata_pda(mint)),
                "editionPda": str(master_edition_pda(mint)),
                "metadata": view(create_metadata_account_v3(p)),
                "edition": view(create_master_edition_v3(mint, payer, max_supply=0)),
            }
        )
        args.append(
            {
                "payer": str(payer),
                "mint": str(mint),
                "name": case["name"],
                "symbol": case["symbol"],
                "uri": case["uri"],
                "sellerFeeBasisPoints": case["fee"],
                "isMutable": case["mutable"],
                "creators": None
                if crs is None
                else [
                    {"address": str(c.address), "verified": c.verified, "share": c.share}
                    for c in crs
                ],
            }
        )
    theirs = official(args)
    for case, mine, official_ix in zip(CASES, ours, theirs, strict=True):
        assert mine == official_ix, case


def official_args(mint: Pubkey) -> dict:
    return {
        "payer": str(Keypair().pubkey()),
        "mint": str(mint),
        "name": "n",
        "symbol": "s",
        "uri": "u",
        "sellerFeeBasisPoints": 0,
        "isMutable": False,
        "creators": None,
    }


def test_pdas_equal_the_official_clients(official):
    # about half of all candidates are on the curve, so many of these need a bump below 255
    mints = [Keypair().pubkey() for _ in range(64)]
    theirs = official([official_args(m) for m in mints])
    ours = [(str(metadata_pda(m)), str(master_edition_pda(m))) for m in mints]
    assert ours == [(t["metadataPda"], t["editionPda"]) for t in theirs]


# A fixed mint (USDC's) with its PDAs as the official client derives them, pinned so that a
# machine without Node still checks the seeds.
USDC = Pubkey.from_string("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v")


def test_pdas_of_a_known_mint():
    assert str(metadata_pda(USDC)) == "5x38Kp4hvdomTCnCrAny4UtMUt5rQBdB6px2K1Ui45Wq"
    assert str(master_edition_pda(USDC)) == "A7FGB2kzjpDPRLMeqRLgW9XZ3JQ2RYRL4w5kUZv64ZB"
