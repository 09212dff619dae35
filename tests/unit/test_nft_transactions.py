"""Ticket NFT intake and transactions, without a cluster."""

from __future__ import annotations

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.pubkey import Pubkey

from minter.errors import ValidationError
from minter.keys import Payer, derive_mint_keypair
from minter.nft import (
    MAX_TRANSACTION_BYTES,
    build_mint_transaction,
    from_flat,
    parse_mint_request,
)
from minter.nft.decode import decode_metaplex_metadata
from minter.nft.metaplex import (
    CREATE_MASTER_EDITION_V3,
    CREATE_METADATA_V3,
    TOKEN_METADATA_PROGRAM_ID,
    master_edition_pda,
    metadata_pda,
)

OWNER = str(Keypair().pubkey())
BASE = {
    "ticket_id": "T-1001",
    "owner": OWNER,
    "metadata": {"name": "Ticket #1001", "symbol": "TIX", "uri": "https://t.example/1001.json"},
}


def with_meta(**meta):
    return {**BASE, "metadata": {**BASE["metadata"], **meta}}


def test_mint_key_is_deterministic_per_ticket_and_secret():
    a = derive_mint_keypair(b"s" * 32, "T-1").pubkey()
    assert a == derive_mint_keypair(b"s" * 32, "T-1").pubkey()
    assert a != derive_mint_keypair(b"s" * 32, "T-2").pubkey()
    assert a != derive_mint_keypair(b"t" * 32, "T-1").pubkey()


@pytest.mark.parametrize(
    "field,data",
    [
        ("owner", {**BASE, "owner": "not an address"}),
        ("owner", {**BASE, "owner": "3yZe7d"}),
        ("owner", {k: v for k, v in BASE.items() if k != "owner"}),
        ("ticket_id", {**BASE, "ticket_id": ""}),
        ("ticket_id", {**BASE, "ticket_id": "x" * 129}),
        ("standard", {**BASE, "standard": "erc721"}),
        ("name", with_meta(name="n" * 33)),
        ("name", with_meta(name="é" * 17)),  # 34 UTF-8 bytes in 17 characters
        ("name", with_meta(name="")),
        ("symbol", with_meta(symbol="S" * 11)),
        ("uri", with_meta(uri="u" * 201)),
        ("seller_fee_basis_points", with_meta(seller_fee_basis_points=10001)),
        ("seller_fee_basis_points", with_meta(seller_fee_basis_points=-1)),
        ("seller_fee_basis_points", with_meta(seller_fee_basis_points="250")),
        ("creators", with_meta(creators=[{"address": OWNER, "share": 50}])),
        ("creators", with_meta(creators=[{"address": str(Keypair().pubkey()), "share": 20}] * 6)),
        ("creators[0].address", with_meta(creators=[{"address": "nope", "share": 100}])),
        ("seat", {**BASE, "seat": "s" * 33}),
        ("ticket_id", {**BASE, "ticket_id": "T\x00"}),  # PostgreSQL text refuses NUL
        ("name", with_meta(name="N\x00")),
        ("uri", with_meta(uri="https://t.example/\ud800")),  # a lone surrogate, valid in JSON
        ("venue_id", {**BASE, "venue_id": "\udfff"}),
    ],
)
def test_each_invalid_field_is_named(field, data):
    with pytest.raises(ValidationError) as err:
        parse_mint_request(data, default_standard="token2022")
    assert err.value.field == field


def test_flat_csv_form_equals_nested_form():
    flat = {k: v for k, v in BASE.items() if k != "metadata"} | BASE["metadata"]
    flat |= {"seller_fee_basis_points": "250", "creators": f"{OWNER}:100", "is_mutable": "true"}
    nested = with_meta(
        seller_fee_basis_points=250, creators=[{"address": OWNER, "share": 100}], is_mutable=True
    )
    assert parse_mint_request(from_flat(flat), default_standard="metaplex") == parse_mint_request(
        nested, default_standard="metaplex"
    )


def test_ledger_payload_round_trips():
    req = parse_mint_request(
        with_meta(seller_fee_basis_points=250, creators=[{"address": OWNER, "share": 100}]),
        default_standard="metaplex",
    )
    assert parse_mint_request(req.to_ledger_payload(), default_standard="token2022") == req


LONGEST = {
    "ticket_id": "T" * 128,
    "owner": OWNER,
    "event_id": "e" * 32,
    "venue_id": "v" * 32,
    "seat": "s" * 32,
    "metadata": {
        "name": "é" * 16,
        "symbol": "S" * 10,
        "uri": "u" * 200,
        "seller_fee_basis_points": 10000,
        "creators": [{"address": str(Keypair().pubkey()), "share": 20} for _ in range(5)],
        "is_mutable": True,
    },
}


@pytest.mark.parametrize("standard", ["metaplex", "token2022"])
def test_longest_allowed_metadata_fits_one_transaction(standard):
    longest = {**LONGEST, "standard": standard}
    if standard == "token2022":  # no royalties, creators or immutability on Token-2022
        meta = longest["metadata"]
        longest["metadata"] = {k: v for k, v in meta.items() if k in ("name", "symbol", "uri")}
    req = parse_mint_request(longest, default_standard=standard)
    tx = build_mint_transaction(
        req,
        payer=Payer(Keypair()),
        mint=Keypair(),
        recent_blockhash=Hash.new_unique(),
        compute_unit_limit=200_000,
        compute_unit_price=1000,
    )
    assert len(bytes(tx)) <= MAX_TRANSACTION_BYTES


def test_metaplex_instruction_data_decodes_back():
    payer = Payer(Keypair())
    mint = Keypair()
    req = parse_mint_request(with_meta(seller_fee_basis_points=250), default_standard="metaplex")
    tx = build_mint_transaction(
        req, payer=payer, mint=mint, recent_blockhash=Hash.new_unique(), compute_unit_limit=200_000
    )
    msg = tx.message
    keys = list(msg.account_keys)
    meta_ix = next(
        ix
        for ix in msg.instructions
        if keys[ix.program_id_index] == TOKEN_METADATA_PROGRAM_ID
        and bytes(ix.data)[0] == CREATE_METADATA_V3
    )
    data = bytes(meta_ix.data)[1:]
    # an account laid out as key, update authority, mint, then the same DataV2
    account = bytes([4]) + bytes(payer.pubkey) + bytes(mint.pubkey()) + data[:-2] + b"\x00\x00"
    decoded = decode_metaplex_metadata(account)
    assert (decoded.name, decoded.symbol, decoded.uri, decoded.seller_fee_basis_points) == (
        "Ticket #1001",
        "TIX",
        "https://t.example/1001.json",
        250,
    )
    assert decoded.creators == ((payer.pubkey, True, 100),)
    # the PDAs from Token Metadata's documented seeds, not from the code under test
    program = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")
    seeds = [b"metadata", bytes(program), bytes(mint.pubkey())]
    metadata, _ = Pubkey.find_program_address(seeds, program)
    edition, _ = Pubkey.find_program_address([*seeds, b"edition"], program)
    edition_ix = next(
        ix
        for ix in msg.instructions
        if keys[ix.program_id_index] == program and bytes(ix.data)[0] == CREATE_MASTER_EDITION_V3
    )
    assert keys[meta_ix.program_id_index] == program
    assert keys[meta_ix.accounts[0]] == metadata
    assert [keys[edition_ix.accounts[i]] for i in (0, 5)] == [edition, metadata]
    assert Pubkey.from_string("SysvarRent111111111111111111111111111111111") in keys


def test_pdas_follow_the_documented_seeds():
    program = Pubkey.from_string("metaqbxxUerdq28cj1RbAWkYQm3ybzjb6a8bt518x1s")
    for _ in range(32):
        mint = Keypair().pubkey()
        seeds = [b"metadata", bytes(program), bytes(mint)]
        assert metadata_pda(mint) == Pubkey.find_program_address(seeds, program)[0]
        assert (
            master_edition_pda(mint)
            == Pubkey.find_program_address([*seeds, b"edition"], program)[0]
        )


@pytest.mark.parametrize(
    "uri_len, extra",
    [(21, {}), (5, {"event_id": "E", "venue_id": "V", "seat": "S"}), (30, {"event_id": "E-12"})],
)
def test_token2022_rent_covers_every_metadata_length(uri_len, extra):
    """Token-2022 pads an account that would be multisig-sized (355 bytes); the rent we pay
    must cover the length the program really leaves, for every name length."""
    from solders.litesvm import LiteSVM

    from minter.keys import Payer
    from minter.nft import build_mint_transaction
    from minter.nft.token2022 import Token2022Mint

    svm, payer = LiteSVM(), Keypair()
    svm.airdrop(payer.pubkey(), 10**12)
    for n in range(1, 33):
        item = {
            "ticket_id": f"T{n}",
            "owner": str(Keypair().pubkey()),
            "standard": "token2022",
            "metadata": {"name": "N" * n, "symbol": "TIX", "uri": "u" * uri_len},
            **extra,
        }
        req = parse_mint_request(item, default_standard="token2022")
        mint = Keypair()
        tx = build_mint_transaction(
            req,
            payer=Payer(payer),
            mint=mint,
            recent_blockhash=svm.latest_blockhash(),
            compute_unit_limit=400_000,
        )
        result = svm.send_transaction(tx)
        assert not hasattr(result, "err"), (n, result)
        expected = Token2022Mint(
            payer=payer.pubkey(),
            mint=mint.pubkey(),
            owner=req.owner,
            name=req.name,
            symbol=req.symbol,
            uri=req.uri,
            extra=tuple(req.extra_fields),
        ).final_len
        assert len(svm.get_account(mint.pubkey()).data) == expected


# ---------------------------------------------------------------------------------------------
# Token-2022: the mint's and the lifecycle's instructions against the official SPL clients
# (@solana/spl-token and @solana/spl-token-metadata, tests/js/spl, pinned in its lockfile)

T22_CASES = [
    dict(name="Ticket #1", symbol="TIX", uri="https://t.example/1.json", extra=[]),
    dict(
        name="Entrée générale ✓",
        symbol="FÊTE",
        uri="https://t.example/é",
        extra=[["event_id", "E-7"], ["venue_id", "V-3"], ["seat", "B12"]],
    ),
    dict(name="n" * 32, symbol="S" * 10, uri="u" * 200, extra=[["seat", "s" * 32]]),
]


def test_token2022_instructions_match_the_official_client():
    from minter.nft.token2022 import MINT_WITH_EXTENSIONS_LEN, Token2022Mint, token2022_instructions
    from minter.nft.token2022_lifecycle import (
        CHECKED_IN,
        burn_by_delegate_instructions,
        check_in_instructions,
        transfer_by_delegate_instructions,
    )
    from tests.support.node import instruction_view, node_runner

    official = node_runner("spl")
    args, ours = [], []
    for case in T22_CASES:
        payer, mint, owner, to = (Keypair().pubkey() for _ in range(4))
        p = Token2022Mint(
            payer, mint, owner, case["name"], case["symbol"], case["uri"],
            tuple(tuple(kv) for kv in case["extra"]),
        )  # fmt: skip
        mint_ixs = token2022_instructions(p, rent_lamports=1)[1:]  # after CreateAccount
        check_in = check_in_instructions(
            mint, owner, authority=payer, checked_in="2026-12-31T21:04:05Z", freeze=True
        )
        thaw, burn = burn_by_delegate_instructions(mint, owner, delegate=payer, frozen=True)
        destination, _, transfer = transfer_by_delegate_instructions(
            mint, owner, to, delegate=payer, payer=payer, frozen=True
        )
        lifecycle = dict(
            checkIn=check_in[1],
            freeze=check_in[2],
            thaw=thaw,
            burn=burn,
            destination=destination,
            transfer=transfer,
        )
        ours.append(
            {
                "ownerAccount": str(p.owner_account),
                "mintLen": MINT_WITH_EXTENSIONS_LEN,
                "mint": [instruction_view(ix) for ix in mint_ixs],
                "lifecycle": {k: instruction_view(ix) for k, ix in lifecycle.items()},
            }
        )
        keys = dict(payer=str(payer), mint=str(mint), owner=str(owner), to=str(to))
        args.append({**case, **keys, "checkedIn": "2026-12-31T21:04:05Z"})
        assert bytes(check_in[1].data).endswith(
            bytes(CHECKED_IN, "ascii") + b"\x14\0\0\0" + b"2026-12-31T21:04:05Z"
        )
    for i, (theirs, mine) in enumerate(zip(official(args), ours, strict=True)):
        assert (theirs["ownerAccount"], theirs["mintLen"]) == (
            mine["ownerAccount"],
            mine["mintLen"],
        )
        for n, (a, b) in enumerate(zip(theirs["mint"], mine["mint"], strict=True)):
            assert a == b, (i, "mint", n)
        for name, ix in theirs["lifecycle"].items():
            assert ix == mine["lifecycle"][name], (i, name)
