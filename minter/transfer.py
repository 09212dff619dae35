"""Moving a ticket NFT between wallets, for every standard, in one transaction.

Token programs: create the destination's associated token account idempotently, TransferChecked
of 1 (0 decimals), and, when the source is a custody wallet, close the emptied source token
account so its rent returns to the payer. Core: one TransferV1 signed by the current owner, naming
the asset's collection when it is in one. Pure builders over frozen params; the caller signs.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID
from spl.token.instructions import (
    CloseAccountParams,
    TransferCheckedParams,
    close_account,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    transfer_checked,
)

from minter.budget import compute_budget
from minter.nft.core import transfer_v1
from minter.nft.token2022_lifecycle import transfer_by_delegate_instructions

TOKEN_PROGRAMS = {"metaplex": TOKEN_PROGRAM_ID, "token2022": TOKEN_2022_PROGRAM_ID}


@dataclass(frozen=True)
class TicketTransfer:
    """One NFT (``mint``) from ``source_owner``'s token account to ``destination_owner``'s."""

    mint: Pubkey
    source_owner: Pubkey
    destination_owner: Pubkey
    payer: Pubkey
    token_program: Pubkey = TOKEN_PROGRAM_ID
    close_source: bool = True  # custody's emptied account: its rent goes back to the payer
    # a platform-run move of a Token-2022 ticket: signed by its permanent delegate (the
    # platform's key), not the holder; a ``frozen`` (checked-in) ticket is thawed and refrozen
    delegate: Pubkey | None = None
    frozen: bool = False

    @property
    def source_account(self) -> Pubkey:
        return get_associated_token_address(self.source_owner, self.mint, self.token_program)

    @property
    def destination_account(self) -> Pubkey:
        return get_associated_token_address(self.destination_owner, self.mint, self.token_program)


@dataclass(frozen=True)
class CoreTicketTransfer:
    """A Core asset from ``source_owner`` (who signs as the owner) to ``destination_owner``."""

    asset: Pubkey
    source_owner: Pubkey
    destination_owner: Pubkey
    payer: Pubkey
    collection: Pubkey | None = None  # the asset's collection: TransferV1 must name it
    # who signs: the owner (None), or the collection's permanent transfer delegate (the
    # platform's key), which moves it without the holder's signature, frozen or not
    authority: Pubkey | None = None

    @property
    def mint(self) -> Pubkey:  # the ticket's address, whatever the standard
        return self.asset


def transfer_instructions(t: TicketTransfer | CoreTicketTransfer) -> list[Instruction]:
    if isinstance(t, TicketTransfer) and t.delegate is not None:
        return transfer_by_delegate_instructions(
            t.mint,
            t.source_owner,
            t.destination_owner,
            delegate=t.delegate,
            payer=t.payer,
            frozen=t.frozen,
            refreeze=t.frozen,
        )
    if isinstance(t, CoreTicketTransfer):
        return [
            transfer_v1(
                t.asset,
                t.destination_owner,
                authority=t.authority or t.source_owner,
                payer=t.payer,
                collection=t.collection,
            )
        ]
    ixs = [
        create_idempotent_associated_token_account(
            t.payer, t.destination_owner, t.mint, t.token_program
        ),
        transfer_checked(
            TransferCheckedParams(
                program_id=t.token_program,
                source=t.source_account,
                mint=t.mint,
                dest=t.destination_account,
                owner=t.source_owner,
                amount=1,
                decimals=0,
            )
        ),
    ]
    if t.close_source:
        ixs.append(
            close_account(
                CloseAccountParams(
                    program_id=t.token_program,
                    account=t.source_account,
                    dest=t.payer,
                    owner=t.source_owner,
                )
            )
        )
    return ixs


def build_transfer_transaction(
    t: TicketTransfer | CoreTicketTransfer,
    *,
    payer: Keypair,
    source: Keypair,
    recent_blockhash: Hash,
    compute_unit_limit: int,
    compute_unit_price: int | None = None,
) -> VersionedTransaction:
    """The signed transfer; ``source`` signs as the token's (or asset's) owner (may be the payer
    itself)."""
    budget = compute_budget(compute_unit_limit, compute_unit_price)
    message = MessageV0.try_compile(
        payer.pubkey(), budget + transfer_instructions(t), [], recent_blockhash
    )
    signers = [payer] if source.pubkey() == payer.pubkey() else [payer, source]
    return VersionedTransaction(message, signers)
