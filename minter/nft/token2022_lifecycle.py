"""The Token-2022 ticket lifecycle: check-in, platform resale, invalidation. Pure builders.

A ticket minted by :func:`minter.nft.token2022.token2022_instructions` has the platform's key
as its metadata update authority, freeze authority and permanent delegate, so none of these
needs the holder's signature. Each builder returns the instructions of one transaction
(:func:`lifecycle_transaction` signs them). The caller says whether the holder's token account
is frozen (a frozen account can neither be burned from nor transferred out of, even by the
permanent delegate): the builders read nothing from the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from solders.hash import Hash
from solders.instruction import Instruction
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import (
    BurnCheckedParams,
    FreezeAccountParams,
    ThawAccountParams,
    TransferCheckedParams,
    burn_checked,
    create_idempotent_associated_token_account,
    freeze_account,
    get_associated_token_address,
    thaw_account,
    transfer_checked,
)

from minter.budget import compute_budget
from minter.nft.token2022 import borsh_string, update_field
from minter.nft.transaction import rent_exempt

CHECKED_IN = "checked_in"  # the TokenMetadata key check-in writes
TICKET_DECIMALS = 0
TICKET_AMOUNT = 1


def field_growth(key: str, value: str) -> int:
    """Bytes a new TokenMetadata key adds to the mint account (its two borsh strings)."""
    return len(borsh_string(key)) + len(borsh_string(value))


def rent_for_growth(extra_bytes: int) -> int:
    """Lamports that keep an account rent-exempt when it grows by ``extra_bytes`` (the rent
    minimum is linear in the size, so this does not depend on the size it grows from)."""
    return rent_exempt(extra_bytes) - rent_exempt(0)


@dataclass(frozen=True)
class TicketHolding:
    """One Token-2022 ticket as held: its mint and the wallet holding it."""

    mint: Pubkey
    holder: Pubkey

    @property
    def account(self) -> Pubkey:
        """The holder's associated token account for the ticket."""
        return get_associated_token_address(self.holder, self.mint, TOKEN_2022_PROGRAM_ID)


def freeze_ticket(t: TicketHolding, authority: Pubkey) -> Instruction:
    return freeze_account(
        FreezeAccountParams(
            program_id=TOKEN_2022_PROGRAM_ID, account=t.account, mint=t.mint, authority=authority
        )
    )


def thaw_ticket(t: TicketHolding, authority: Pubkey) -> Instruction:
    return thaw_account(
        ThawAccountParams(
            program_id=TOKEN_2022_PROGRAM_ID, account=t.account, mint=t.mint, authority=authority
        )
    )


def check_in_instructions(
    mint: Pubkey, owner: Pubkey, *, authority: Pubkey, checked_in: str, freeze: bool
) -> list[Instruction]:
    """Write ``checked_in`` (ISO 8601 UTC) into the ticket's TokenMetadata, other fields kept,
    then freeze the owner's token account when ``freeze``.

    ``authority`` (the metadata update authority and the freeze authority: the platform's key)
    signs and pays the rent of the key's bytes first: UpdateField of a new key grows the mint,
    which must stay rent-exempt. Writing the key again over a value of the same length leaves
    that rent in the mint (check-in is decided once, by the ledger).
    """
    ticket = TicketHolding(mint, owner)
    extra = rent_for_growth(field_growth(CHECKED_IN, checked_in))
    ixs = [
        transfer(TransferParams(from_pubkey=authority, to_pubkey=mint, lamports=extra)),
        update_field(mint, authority, CHECKED_IN, checked_in),
    ]
    if freeze:
        ixs.append(freeze_ticket(ticket, authority))
    return ixs


def burn_by_delegate_instructions(
    mint: Pubkey, holder: Pubkey, *, delegate: Pubkey, frozen: bool = False
) -> list[Instruction]:
    """Burn the ticket from ``holder``'s token account, signed by the permanent delegate (the
    platform's key, also the freeze authority: it thaws a ``frozen`` account first). Supply
    becomes 0; the emptied token account stays the holder's (only they may close it)."""
    ticket = TicketHolding(mint, holder)
    ixs = [thaw_ticket(ticket, delegate)] if frozen else []
    ixs.append(
        burn_checked(
            BurnCheckedParams(
                program_id=TOKEN_2022_PROGRAM_ID,
                mint=mint,
                account=ticket.account,
                owner=delegate,
                amount=TICKET_AMOUNT,
                decimals=TICKET_DECIMALS,
            )
        )
    )
    return ixs


def transfer_by_delegate_instructions(
    mint: Pubkey,
    holder: Pubkey,
    to: Pubkey,
    *,
    delegate: Pubkey,
    payer: Pubkey,
    frozen: bool = False,
    refreeze: bool = False,
) -> list[Instruction]:
    """Move the ticket from ``holder`` to ``to`` signed by the permanent delegate, without the
    holder's signature: the destination's token account is created when missing (``payer``
    pays), a ``frozen`` source is thawed first, and the destination is frozen after when
    ``refreeze`` (the delegate is the freeze authority too)."""
    source, dest = TicketHolding(mint, holder), TicketHolding(mint, to)
    ixs = [create_idempotent_associated_token_account(payer, to, mint, TOKEN_2022_PROGRAM_ID)]
    if frozen:
        ixs.append(thaw_ticket(source, delegate))
    ixs.append(
        transfer_checked(
            TransferCheckedParams(
                program_id=TOKEN_2022_PROGRAM_ID,
                source=source.account,
                mint=mint,
                dest=dest.account,
                owner=delegate,
                amount=TICKET_AMOUNT,
                decimals=TICKET_DECIMALS,
            )
        )
    )
    if refreeze:
        ixs.append(freeze_ticket(dest, delegate))
    return ixs


def lifecycle_transaction(
    instructions: list[Instruction],
    *,
    payer: Keypair,
    recent_blockhash: Hash,
    signers: tuple[Keypair, ...] = (),
    compute_unit_limit: int | None = None,
    compute_unit_price: int | None = None,
) -> VersionedTransaction:
    """One signed transaction of a lifecycle operation; ``payer`` pays the fee and signs, as
    do ``signers`` (the authority or delegate when it is another key)."""
    budget = []
    if compute_unit_limit is not None:
        budget = compute_budget(compute_unit_limit, compute_unit_price)
    message = MessageV0.try_compile(payer.pubkey(), budget + instructions, [], recent_blockhash)
    keys = {payer.pubkey(): payer} | {k.pubkey(): k for k in signers}
    return VersionedTransaction(message, list(keys.values()))
