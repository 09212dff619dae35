"""The Token-2022 ticket lifecycle on chain: a ticket minted by the service's own builder, then
checked in, moved by the platform and burned by it, through the validator's JSON-RPC."""

from __future__ import annotations

import time

import pytest
from solders.keypair import Keypair
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import (
    TransferCheckedParams,
    create_idempotent_associated_token_account,
    transfer_checked,
)

from actors.workflows.mints import MintSigner, build_signed
from minter.keys import Payer, derive_mint_keypair
from minter.nft import parse_mint_request, verify_minted
from minter.nft.decode import (
    decode_mint,
    decode_token_account,
    decode_token_metadata,
    permanent_delegate,
    tlv_entries,
)
from minter.nft.token2022 import (
    EXT_METADATA_POINTER,
    EXT_PERMANENT_DELEGATE,
    EXT_TOKEN_METADATA,
    Token2022Mint,
    update_field,
)
from minter.nft.token2022_lifecycle import (
    CHECKED_IN,
    TicketHolding,
    burn_by_delegate_instructions,
    check_in_instructions,
    lifecycle_transaction,
    transfer_by_delegate_instructions,
)
from minter.nft.transaction import rent_exempt
from minter.rpc import ChainClient, TransactionRejected

SECRET = b"lifecycle-test-secret-0123456789"
SCANNED = "2026-12-31T21:04:05Z"
ACCOUNT_FROZEN = "Custom(17)"  # TokenError::AccountFrozen


@pytest.fixture
def chain(localnet):
    client = ChainClient(localnet.url)
    yield client
    client.close()


@pytest.fixture
def platform(funded_keypair) -> Keypair:
    """The payer: freeze authority, permanent delegate and metadata update authority."""
    return funded_keypair


def mint_ticket(chain, platform: Keypair, holder: Pubkey, **fields):
    item = {
        "ticket_id": f"LC-{time.time_ns()}",
        "owner": str(holder),
        "event_id": "E-7",
        "venue_id": "V-3",
        "seat": "B12",
        "metadata": {"name": "Ticket #1", "symbol": "TIX", "uri": "https://t.example/1.json"},
        **fields,
    }
    req = parse_mint_request(item, default_standard="token2022")
    signer = MintSigner(payer=Payer(platform), mint_secret=SECRET)
    mint = derive_mint_keypair(SECRET, req.ticket_id)
    tx, _ = build_signed(req, chain=chain, signer=signer, mint=mint)
    confirm(chain, chain.send(bytes(tx)))
    return req, mint.pubkey()


def confirm(chain, sig):
    chain.client.confirm_transaction(sig, "confirmed", sleep_seconds=0.05)
    assert chain.statuses([sig])[0].err is None


def run(chain, platform: Keypair, ixs, *signers: Keypair):
    blockhash, _ = chain.latest_blockhash()
    tx = lifecycle_transaction(
        ixs, payer=platform, recent_blockhash=blockhash, signers=tuple(signers)
    )
    confirm(chain, chain.send(bytes(tx)))


def holding(chain, mint: Pubkey, holder: Pubkey):
    (acc,) = chain.accounts([TicketHolding(mint, holder).account])
    return None if acc is None else decode_token_account(bytes(acc.data))


def mint_data(chain, mint: Pubkey) -> bytes:
    (acc,) = chain.accounts([mint])
    return bytes(acc.data)


def test_a_new_ticket_has_the_platform_as_freeze_authority_and_permanent_delegate(chain, platform):
    holder = Keypair().pubkey()
    req, mint = mint_ticket(chain, platform, holder)
    (acc,) = chain.accounts([mint])
    data = bytes(acc.data)
    state = decode_mint(data)
    assert (state.freeze_authority, state.mint_authority, state.supply) == (
        platform.pubkey(),
        None,
        1,
    )
    assert set(tlv_entries(data)) == {
        EXT_METADATA_POINTER,
        EXT_PERMANENT_DELEGATE,
        EXT_TOKEN_METADATA,
    }
    assert permanent_delegate(data) == platform.pubkey()
    final = Token2022Mint(
        platform.pubkey(), mint, holder, req.name, req.symbol, req.uri, tuple(req.extra_fields)
    ).final_len
    assert len(data) == final and acc.lamports == rent_exempt(final)
    assert not holding(chain, mint, holder).frozen
    assert verify_minted(chain.client, req, mint).ok


def test_check_in_writes_the_time_keeps_the_fields_and_freezes(chain, platform):
    holder = Keypair()
    req, mint = mint_ticket(chain, platform, holder.pubkey())
    ixs = check_in_instructions(
        mint, holder.pubkey(), authority=platform.pubkey(), checked_in=SCANNED, freeze=True
    )
    run(chain, platform, ixs)
    (acc,) = chain.accounts([mint])
    meta = decode_token_metadata(bytes(acc.data))
    assert (meta.name, meta.symbol, meta.uri) == (req.name, req.symbol, req.uri)
    assert meta.additional == (*req.extra_fields, (CHECKED_IN, SCANNED))
    assert meta.update_authority == platform.pubkey()
    assert acc.lamports >= rent_exempt(len(acc.data))
    assert holding(chain, mint, holder.pubkey()).frozen

    # the holder can no longer pass it on, even to an account that exists
    buyer = Keypair().pubkey()
    to_buyer = create_idempotent_associated_token_account(
        platform.pubkey(), buyer, mint, TOKEN_2022_PROGRAM_ID
    )
    own = transfer_checked(
        TransferCheckedParams(
            program_id=TOKEN_2022_PROGRAM_ID,
            source=TicketHolding(mint, holder.pubkey()).account,
            mint=mint,
            dest=TicketHolding(mint, buyer).account,
            owner=holder.pubkey(),
            amount=1,
            decimals=0,
        )
    )
    with pytest.raises(TransactionRejected) as err:
        run(chain, platform, [to_buyer, own], holder)
    assert ACCOUNT_FROZEN in err.value.err
    assert holding(chain, mint, holder.pubkey()).amount == 1


def test_check_in_without_freezing_leaves_the_account_usable(chain, platform):
    holder = Keypair().pubkey()
    _, mint = mint_ticket(chain, platform, holder)
    ixs = check_in_instructions(
        mint, holder, authority=platform.pubkey(), checked_in=SCANNED, freeze=False
    )
    run(chain, platform, ixs)
    assert decode_token_metadata(mint_data(chain, mint)).additional[-1] == (CHECKED_IN, SCANNED)
    assert not holding(chain, mint, holder).frozen


def test_a_new_key_without_its_rent_is_refused(chain, platform):
    _, mint = mint_ticket(chain, platform, Keypair().pubkey())
    with pytest.raises(TransactionRejected) as err:
        run(chain, platform, [update_field(mint, platform.pubkey(), CHECKED_IN, SCANNED)])
    assert "InsufficientFundsForRent" in err.value.err


def test_the_permanent_delegate_moves_a_ticket_without_the_holder(chain, platform):
    holder, buyer = Keypair().pubkey(), Keypair().pubkey()
    req, mint = mint_ticket(chain, platform, holder)
    ixs = transfer_by_delegate_instructions(
        mint, holder, buyer, delegate=platform.pubkey(), payer=platform.pubkey()
    )
    run(chain, platform, ixs)  # signed by the platform alone
    assert holding(chain, mint, holder).amount == 0
    moved = holding(chain, mint, buyer)
    assert (moved.amount, moved.owner, moved.frozen) == (1, buyer, False)
    assert verify_minted(chain.client, req, mint, holder=buyer).ok


def test_the_permanent_delegate_moves_a_checked_in_ticket_and_refreezes_it(chain, platform):
    holder, buyer = Keypair().pubkey(), Keypair().pubkey()
    _, mint = mint_ticket(chain, platform, holder)
    check_in = check_in_instructions(
        mint, holder, authority=platform.pubkey(), checked_in=SCANNED, freeze=True
    )
    run(chain, platform, check_in)
    without_thaw = transfer_by_delegate_instructions(
        mint, holder, buyer, delegate=platform.pubkey(), payer=platform.pubkey()
    )
    with pytest.raises(TransactionRejected) as err:
        run(chain, platform, without_thaw)
    assert ACCOUNT_FROZEN in err.value.err
    ixs = transfer_by_delegate_instructions(
        mint,
        holder,
        buyer,
        delegate=platform.pubkey(),
        payer=platform.pubkey(),
        frozen=True,
        refreeze=True,
    )
    run(chain, platform, ixs)
    left = holding(chain, mint, holder)
    assert (left.amount, left.frozen) == (0, False)
    moved = holding(chain, mint, buyer)
    assert (moved.amount, moved.frozen) == (1, True)


@pytest.mark.parametrize("checked_in", [False, True])
def test_the_permanent_delegate_burns_a_ticket(chain, platform, checked_in):
    holder = Keypair().pubkey()
    _, mint = mint_ticket(chain, platform, holder)
    if checked_in:
        ixs = check_in_instructions(
            mint, holder, authority=platform.pubkey(), checked_in=SCANNED, freeze=True
        )
        run(chain, platform, ixs)
    burn = burn_by_delegate_instructions(
        mint, holder, delegate=platform.pubkey(), frozen=checked_in
    )
    run(chain, platform, burn)
    assert decode_mint(mint_data(chain, mint)).supply == 0
    assert holding(chain, mint, holder).amount == 0
