"""The embedded cluster's state: LiteSVM plus what a real node keeps that LiteSVM does not.

LiteSVM accepts only its latest blockhash, so its check is off and this class keeps the recent
blockhashes with their block heights (valid for 150 blocks, as on a real cluster). Statuses,
slots and confirmation levels are this class's own records. One lock guards everything.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from solders.account import Account
from solders.hash import Hash
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

from minter.localnet.fees import FeeCache

T = TypeVar("T")
BLOCKHASH_VALIDITY = 150  # blocks, as on mainnet
FINALIZED_DEPTH = 31  # slots behind the tip
CONFIRMED_DEPTH = 1
DEFAULT_HISTORY = 1_000_000  # signatures remembered
LAMPORTS_PER_SIGNATURE = 5000
TOKEN_PROGRAMS = (TOKEN_PROGRAM_ID, TOKEN_2022_PROGRAM_ID)
TOKEN_ACCOUNT_LEN = 165


class ChainError(Exception):
    """Raised when a transaction is refused before execution; ``err`` is the RPC error JSON."""

    def __init__(self, err, message: str, logs: list[str] | None = None, units: int = 0):
        super().__init__(message)
        self.err = err
        self.logs = logs or []
        self.units = units


@dataclass
class Record:
    """What the node remembers of one executed transaction."""

    slot: int
    err: object  # RPC error JSON, or None
    tx: bytes
    logs: list[str]
    units: int
    fee: int
    pre_balances: list[int]
    post_balances: list[int]
    pre_token: list[dict]
    post_token: list[dict]


@dataclass
class Stats:
    requests: dict = field(default_factory=lambda: defaultdict(int))
    send_requests: int = 0
    executed_ok: int = 0
    executed_err: int = 0
    preflight_failed: int = 0
    refused: dict = field(default_factory=lambda: defaultdict(int))
    dropped_responses: int = 0
    bank_busy_s: float = 0.0  # seconds the bank's thread spent running work (benchmarks)
    bank_cpu_s: float = 0.0

    def as_json(self) -> dict:
        return {
            "requests": dict(self.requests),
            "send_requests": self.send_requests,
            "executed_ok": self.executed_ok,
            "executed_err": self.executed_err,
            "preflight_failed": self.preflight_failed,
            "refused": dict(self.refused),
            "dropped_responses": self.dropped_responses,
            "bank_busy_s": self.bank_busy_s,
            "bank_cpu_s": self.bank_cpu_s,
        }


def token_balance_entry(index: int, account: Account | None) -> dict | None:
    """A ``preTokenBalances``/``postTokenBalances`` item, or None if not a token account."""
    if account is None or account.owner not in TOKEN_PROGRAMS:
        return None
    data = bytes(account.data)
    if len(data) < TOKEN_ACCOUNT_LEN or (len(data) > TOKEN_ACCOUNT_LEN and data[165] != 2):
        return None
    amount = int.from_bytes(data[64:72], "little")
    return {
        "accountIndex": index,
        "mint": str(Pubkey.from_bytes(data[0:32])),
        "owner": str(Pubkey.from_bytes(data[32:64])),
        "programId": str(account.owner),
        "uiTokenAmount": {"amount": str(amount), "decimals": None},
    }


@dataclass(frozen=True)
class _Program:
    """What a transaction's balances read of a program account (it never changes here)."""

    lamports: int
    owner: Pubkey


class LocalChain:
    def __init__(self, *, history: int = DEFAULT_HISTORY) -> None:
        self.lock = threading.RLock()
        self.programs: dict[Pubkey, _Program] = {}  # executable accounts seen by _peek
        self._bank = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bank")
        self._bank_thread = self._bank.submit(threading.current_thread).result()
        self.svm = LiteSVM().with_blockhash_check(False)
        self.slot = 1
        self.svm.warp_to_slot(self.slot)
        self.genesis_hash = self.svm.latest_blockhash()
        self.blockhashes: OrderedDict[Hash, int] = OrderedDict({self.genesis_hash: self.slot})
        self.records: OrderedDict[Signature, Record] = OrderedDict()
        self.history = history
        self.token_accounts: dict[Pubkey, set[Pubkey]] = defaultdict(set)  # by owner
        self.mint_accounts: dict[Pubkey, set[Pubkey]] = defaultdict(set)  # by mint
        self.stats = Stats()
        self.transaction_count = 0
        # LiteSVM cannot list its accounts: every key a transaction or airdrop wrote is indexed
        # here, for getProgramAccounts to read back.
        self.known_accounts: set[Pubkey] = set()
        # Signatures touching each address, oldest first (getSignaturesForAddress).
        self.by_address: dict[Pubkey, list[Signature]] = defaultdict(list)
        self.first_slot = self.slot
        self.slot_times: dict[int, int] = {self.slot: int(time.time())}  # getBlockTime
        # When each slot began (wall clock, to the microsecond): the moment its commitment levels
        # moved, for measuring notification delays from outside (localnet_getSlotTimes).
        self.slot_started: dict[int, float] = {self.slot: time.time()}
        # getBlock: each produced slot's blockhash, and the signatures it holds in order.
        self.slot_hashes: dict[int, Hash] = {self.slot: self.genesis_hash}
        self.slot_signatures: dict[int, list[Signature]] = defaultdict(list)
        # getRecentPrioritizationFees: each recent slot's compute-unit prices, as a node's cache.
        self.fees = FeeCache()
        # Called under the lock, so they see the state each event left (the PubSub server).
        self.listeners: list = []

    # time ------------------------------------------------------------------------------------
    @property
    def block_height(self) -> int:
        return self.slot  # every slot has a block here: no skipped leaders

    def advance(self) -> None:
        """One slot: a new block with a new blockhash; blockhashes older than 150 blocks go."""
        with self.lock:
            self.slot += 1
            self.svm.warp_to_slot(self.slot)
            now = time.time()
            self.slot_times[self.slot] = int(now)
            self.slot_started[self.slot] = now
            self.svm.expire_blockhash()
            self.slot_hashes[self.slot] = self.svm.latest_blockhash()
            self.blockhashes[self.svm.latest_blockhash()] = self.block_height
            while len(self.blockhashes) > BLOCKHASH_VALIDITY + 1:
                self.blockhashes.popitem(last=False)
            for listener in self.listeners:
                listener.on_slot(self.slot)

    def latest_blockhash(self) -> tuple[Hash, int]:
        with self.lock:
            return self.svm.latest_blockhash(), self.block_height + BLOCKHASH_VALIDITY

    def blockhash_valid(self, blockhash: Hash) -> bool:
        with self.lock:
            height = self.blockhashes.get(blockhash)
            return height is not None and self.block_height <= height + BLOCKHASH_VALIDITY

    def commitment_slot(self, commitment: str | None) -> int:
        depth = {"processed": 0, "confirmed": CONFIRMED_DEPTH, "finalized": FINALIZED_DEPTH}
        return max(0, self.slot - depth.get(commitment or "finalized", FINALIZED_DEPTH))

    # accounts --------------------------------------------------------------------------------
    def account(self, pubkey: Pubkey) -> Account | None:
        with self.lock:
            acc = self.svm.get_account(pubkey)
        if acc is None or (acc.lamports == 0 and not acc.executable):
            return None  # LiteSVM keeps closed accounts as empty ones
        return acc

    def airdrop(self, pubkey: Pubkey, lamports: int) -> Signature:
        with self.lock:
            res = self.svm.airdrop(pubkey, lamports)
            if hasattr(res, "err"):
                raise ChainError(json.loads(res.to_json())["err"], "airdrop failed")
            sig = res.signature()
            self._remember(
                sig, Record(self.slot, None, b"", list(res.logs()), 0, 0, [], [], [], [])
            )
            self._index(sig, [pubkey])
            for listener in self.listeners:
                listener.on_transaction(sig, self.slot, [pubkey])
            return sig

    # transactions ----------------------------------------------------------------------------
    def check_blockhash(self, tx: VersionedTransaction) -> None:
        if not self.blockhash_valid(tx.message.recent_blockhash):
            raise ChainError("BlockhashNotFound", "Blockhash not found")

    def simulate(self, tx: VersionedTransaction) -> tuple[object, list[str], int]:
        with self.lock:
            res = self.svm.simulate_transaction(tx)
        if hasattr(res, "err"):
            meta = res.meta()
            return (
                json.loads(res.to_json())["err"],
                list(meta.logs()),
                meta.compute_units_consumed(),
            )
        return None, list(res.meta().logs()), res.meta().compute_units_consumed()

    def execute(self, tx: VersionedTransaction, raw: bytes, *, preflight: bool) -> Signature:
        """Run ``tx`` as the leader would; with ``preflight`` a failing one is refused unrun.

        Every execution runs on one thread, the bank's, whichever request thread asked: LiteSVM
        run from many threads allocates from as many malloc arenas and ran a mint 20-35 %
        slower than from one."""
        return self.on_bank(lambda: self._execute(tx, raw, preflight=preflight))

    def on_bank(self, fn: Callable[[], T]) -> T:
        """``fn()`` run on the bank's thread (a batch request's calls go there together: one
        handoff for the batch, not one per transaction)."""
        if threading.current_thread() is self._bank_thread:
            return fn()
        return self._bank.submit(self._timed, fn).result()

    def _timed(self, fn: Callable[[], T]) -> T:
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn()
        finally:
            self.stats.bank_busy_s += time.perf_counter() - start
            self.stats.bank_cpu_s += time.thread_time() - cpu

    def _execute(self, tx: VersionedTransaction, raw: bytes, *, preflight: bool) -> Signature:
        sig = tx.signatures[0]
        with self.lock:
            if sig in self.records:
                raise ChainError("AlreadyProcessed", "This transaction has already been processed")
            self.check_blockhash(tx)
            if preflight:
                err, logs, units = self.simulate(tx)
                if err is not None:
                    self.stats.preflight_failed += 1
                    raise ChainError(err, _describe(err), logs, units)
            keys = list(tx.message.account_keys)
            before = [self._peek(k) for k in keys]
            res = self.svm.send_transaction(tx)
            after = [self._peek(k) for k in keys]
            failed = hasattr(res, "err")
            meta = res.meta() if failed else res
            err = json.loads(res.to_json())["err"] if failed else None
            if failed and err == "AlreadyProcessed":
                raise ChainError(err, "This transaction has already been processed")
            fee = LAMPORTS_PER_SIGNATURE * len(tx.signatures)
            record = Record(
                slot=self.slot,
                err=err,
                tx=raw,
                logs=list(meta.logs()),
                units=meta.compute_units_consumed(),
                fee=fee,
                pre_balances=[a.lamports if a else 0 for a in before],
                post_balances=[a.lamports if a else 0 for a in after],
                pre_token=[e for i, a in enumerate(before) if (e := token_balance_entry(i, a))],
                post_token=[e for i, a in enumerate(after) if (e := token_balance_entry(i, a))],
            )
            for entry in record.post_token:
                account = keys[entry["accountIndex"]]
                self.token_accounts[Pubkey.from_string(entry["owner"])].add(account)
                self.mint_accounts[Pubkey.from_string(entry["mint"])].add(account)
            self._remember(sig, record)
            self._index(sig, keys)
            self.fees.record(self.slot, tx.message)
            self.transaction_count += 1
            if failed:
                self.stats.executed_err += 1
            else:
                self.stats.executed_ok += 1
            for listener in self.listeners:
                listener.on_transaction(sig, self.slot, keys)
            return sig

    def _peek(self, key: Pubkey) -> Account | _Program | None:
        """An account as a transaction's balances need it; a program as its lamports and
        owner only (reading Token-2022's 535 kB account twice per mint was 4 % of a mint)."""
        known = self.programs.get(key)
        if known is not None:
            return known
        acc = self.svm.get_account(key)
        if acc is not None and acc.executable:
            self.programs[key] = _Program(acc.lamports, acc.owner)
        return acc

    def _index(self, sig: Signature, keys: list[Pubkey]) -> None:
        self.slot_signatures[self.slot].append(sig)
        for key in keys:
            self.known_accounts.add(key)
            self.by_address[key].append(sig)

    def accounts_owned_by(self, program: Pubkey) -> list[tuple[Pubkey, Account]]:
        with self.lock:
            keys = sorted(self.known_accounts, key=bytes)
            found = [(k, self.account(k)) for k in keys]
        return [(k, a) for k, a in found if a is not None and a.owner == program]

    def signatures_for(self, address: Pubkey) -> list[tuple[Signature, Record]]:
        """Newest first; signatures the history has forgotten are skipped."""
        with self.lock:
            sigs = self.by_address.get(address, [])
            return [(s, r) for s in reversed(sigs) if (r := self.records.get(s)) is not None]

    def _remember(self, sig: Signature, record: Record) -> None:
        self.records[sig] = record
        while len(self.records) > self.history:
            self.records.popitem(last=False)

    def statuses(self, sigs: list[Signature]) -> list[dict | None]:
        """:meth:`status` of each, under one hold of the lock (taken once per signature, a
        confirmer's 256 waited behind as many executions)."""
        with self.lock:
            return [self.status(sig) for sig in sigs]

    def status(self, sig: Signature) -> dict | None:
        with self.lock:
            rec = self.records.get(sig)
            if rec is None:
                return None
            depth = self.slot - rec.slot
        if depth >= FINALIZED_DEPTH:
            level, confirmations = "finalized", None
        else:
            level = "confirmed" if depth >= CONFIRMED_DEPTH else "processed"
            confirmations = depth
        return {
            "slot": rec.slot,
            "confirmations": confirmations,
            "err": rec.err,
            "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
            "confirmationStatus": level,
        }

    def record(self, sig: Signature) -> Record | None:
        with self.lock:
            return self.records.get(sig)

    def token_accounts_of(self, owner: Pubkey) -> list[Pubkey]:
        with self.lock:
            return sorted(self.token_accounts.get(owner, ()), key=bytes)

    def token_accounts_for_mint(self, mint: Pubkey) -> list[Pubkey]:
        with self.lock:
            return sorted(self.mint_accounts.get(mint, ()), key=bytes)


def _describe(err) -> str:
    if isinstance(err, dict) and "InstructionError" in err:
        index, detail = err["InstructionError"]
        if isinstance(detail, dict) and "Custom" in detail:
            detail = f"custom program error: {hex(detail['Custom'])}"
        return f"Transaction simulation failed: Error processing Instruction {index}: {detail}"
    return f"Transaction simulation failed: {err}"
