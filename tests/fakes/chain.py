"""A cluster behind the :class:`~actors.workflows.ports.Chain` port, arranged by each test.

:class:`FakeChain` answers with the accounts, statuses, block height, simulation and send
outcomes a test sets, and records every send. Accounts are laid out as the token programs lay
them out, so ``minter.nft`` decodes and checks them as it does the cluster's.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from solders.account import Account
from solders.hash import Hash
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from solders.transaction_status import TransactionConfirmationStatus, TransactionStatus
from spl.token.constants import TOKEN_2022_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from minter.errors import MinterError
from minter.nft.core import CORE_PROGRAM_ID
from minter.nft.core_plugins import Attributes, PermanentFreezeDelegate, encode_plugin
from minter.nft.token2022 import EXT_TOKEN_METADATA
from minter.rpc import Simulation

LEVELS = {
    "processed": TransactionConfirmationStatus.Processed,
    "confirmed": TransactionConfirmationStatus.Confirmed,
    "finalized": TransactionConfirmationStatus.Finalized,
}


@dataclass
class FakeChain:
    """A cluster a test arranges: what is on chain, what landed, how the next sends go."""

    height: int = 1_000
    valid_for: int = 150  # blocks a blockhash stays valid
    simulation: Simulation = field(default_factory=lambda: Simulation(60_000, None, []))
    send_errors: list[Exception] = field(default_factory=list)  # raised by the next sends
    on_send: Callable[[bytes], None] | None = None  # the chain changing while a send is out
    sent: list[bytes] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)  # the size of each send_many
    healthy: str = "ok"
    balances: dict[Pubkey, int] = field(default_factory=dict)
    spent: dict[str, int] = field(default_factory=dict)  # signature -> lamports
    fees: list[int] = field(default_factory=list)  # what getRecentPrioritizationFees answers
    fees_asked: list[list[Pubkey]] = field(default_factory=list)
    _accounts: dict[Pubkey, Account] = field(default_factory=dict)
    _landed: dict[str, TransactionStatus] = field(default_factory=dict)
    _holders: dict[Pubkey, dict[Pubkey, int]] = field(default_factory=dict)  # mint -> ATA: n

    # -- what a test arranges ------------------------------------------------------------------
    def land(self, signature: str, *, err=None, level: str | None = "confirmed") -> None:
        """The signature is known to the cluster: landed OK, or with ``err``."""
        self._landed[str(signature)] = TransactionStatus(
            self.height, None, err, err, LEVELS[level] if level else None
        )

    def forget(self, signature: str) -> None:
        """The cluster no longer knows the signature (another cluster, or pruned history)."""
        self._landed.pop(str(signature), None)

    def advance(self, blocks: int) -> None:
        self.height += blocks

    def put(self, address: Pubkey, account: Account | None) -> None:
        if account is None:
            self._accounts.pop(address, None)
        else:
            self._accounts[address] = account

    def hold(self, mint: Pubkey, owner: Pubkey, program: Pubkey, amount: int = 1) -> Pubkey:
        """``owner``'s associated token account holds ``amount`` of ``mint``; 0 closes it."""
        ata = get_associated_token_address(owner, mint, program)
        self.put(ata, token_account(mint, owner, amount, program) if amount else None)
        holders = self._holders.setdefault(mint, {})
        holders[ata] = amount
        return ata

    def sent_signatures(self) -> list[str]:
        return [str(VersionedTransaction.from_bytes(raw).signatures[0]) for raw in self.sent]

    # -- the port ------------------------------------------------------------------------------
    def latest_blockhash(self) -> tuple[Hash, int]:
        return Hash.new_unique(), self.height + self.valid_for

    def block_height(self) -> int:
        return self.height

    def health(self) -> str:
        return self.healthy

    def balance(self, pubkey: Pubkey) -> int:
        return self.balances.get(pubkey, 0)

    def accounts(self, pubkeys: Sequence[Pubkey]) -> list[Account | None]:
        return [self._accounts.get(k) for k in pubkeys]

    def largest_token_accounts(self, mint: Pubkey) -> list[tuple[Pubkey, int]]:
        holders = self._holders.get(mint, {})
        return sorted(((a, n) for a, n in holders.items() if n), key=lambda h: -h[1])

    def fee_payer_spent(self, signature: Signature) -> int | None:
        return self.spent.get(str(signature))

    def statuses(self, signatures: Sequence[Signature]) -> list[TransactionStatus | None]:
        return [self._landed.get(str(s)) for s in signatures]

    def simulate(self, tx: VersionedTransaction) -> Simulation:
        return self.simulation

    def send(self, raw: bytes) -> Signature:
        self.sent.append(raw)
        if self.on_send is not None:
            self.on_send(raw)
        if self.send_errors:
            raise self.send_errors.pop(0)
        return VersionedTransaction.from_bytes(raw).signatures[0]

    def send_many(self, raws: Sequence[bytes]) -> list:
        self.batches.append(len(raws))
        out = []
        for raw in raws:
            try:
                out.append(self.send(raw))
            except MinterError as exc:  # the error send would raise, in its place
                out.append(exc)
        return out

    def recent_fees(self, accounts: Sequence[Pubkey]) -> list[int]:
        self.fees_asked.append(list(accounts))
        return list(self.fees)


# ---------------------------------------------------------------------------------------------
# accounts as the token programs lay them out (what minter.nft.decode reads)


def token_account(mint: Pubkey, owner: Pubkey, amount: int, program: Pubkey) -> Account:
    # mint, owner, amount, no delegate, initialized, not native, nothing delegated, no closer
    data = bytes(mint) + bytes(owner) + struct.pack("<Q", amount) + bytes(36) + b"\1" + bytes(56)
    return Account(2_039_280, data, program, False, 0)


def token2022_mint(
    mint: Pubkey,
    *,
    name: str,
    symbol: str,
    uri: str,
    extra: Sequence[tuple[str, str]] = (),
    supply: int = 1,
    program: Pubkey = TOKEN_2022_PROGRAM_ID,
) -> Account:
    """A Token-2022 mint with no mint authority and its TokenMetadata extension."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<I", len(raw)) + raw

    base = bytes(36) + struct.pack("<Q", supply) + b"\0\1" + bytes(36)  # 82 bytes
    fields = b"".join(s(k) + s(v) for k, v in extra)
    meta = bytes(32) + bytes(mint) + s(name) + s(symbol) + s(uri)
    meta += struct.pack("<I", len(extra)) + fields
    data = base.ljust(165, b"\0") + b"\1" + struct.pack("<HH", EXT_TOKEN_METADATA, len(meta))
    return Account(5_000_000, data + meta, program, False, 0)


def core_asset(
    owner: Pubkey,
    *,
    name: str,
    uri: str,
    attributes: Sequence[tuple[str, str]] | None = (),
    collection: Pubkey | None = None,
    frozen: bool | None = False,
) -> Account:
    """A Metaplex Core AssetV1 as the program lays it out: base, plugin header, the plugins'
    data, their registry. ``attributes=None`` or ``frozen=None`` leaves that plugin out; no
    collection makes the asset its own (update authority: a fresh address)."""

    def s(text: str) -> bytes:
        raw = text.encode()
        return struct.pack("<I", len(raw)) + raw

    authority = b"\2" + bytes(collection) if collection else b"\1" + bytes(Pubkey.new_unique())
    base = b"\1" + bytes(owner) + authority + s(name) + s(uri) + b"\0"  # seq: None
    plugins = []
    if attributes is not None:
        plugins.append(Attributes(tuple(attributes)))
    if frozen is not None:
        plugins.append(PermanentFreezeDelegate(frozen))
    if not plugins:
        return Account(3_000_000, base, CORE_PROGRAM_ID, False, 0)
    body, records = b"", b""
    for p in plugins:
        offset = len(base) + 9 + len(body)  # after the 9-byte plugin header
        body += encode_plugin(p)
        records += bytes([p.type, 2]) + struct.pack("<Q", offset)  # authority: UpdateAuthority
    header = b"\3" + struct.pack("<Q", len(base) + 9 + len(body))
    registry = b"\4" + struct.pack("<I", len(plugins)) + records + struct.pack("<I", 0)
    return Account(3_000_000, base + header + body + registry, CORE_PROGRAM_ID, False, 0)
