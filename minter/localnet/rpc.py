"""Solana JSON-RPC methods over :class:`LocalChain`, with the real API's shapes and error codes."""

from __future__ import annotations

import base64

import based58 as base58
from solders.hash import Hash
from solders.message import Message, MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from minter.localnet.chain import (
    LAMPORTS_PER_SIGNATURE,
    TOKEN_PROGRAMS,
    ChainError,
    LocalChain,
)
from minter.localnet.fees import MAX_ACCOUNTS as MAX_FEE_ACCOUNTS
from minter.localnet.rpc_params import RpcError, _params, _pubkey, _signature
from minter.localnet.rpc_reads import ReadMethods

__all__ = ["Methods", "RpcError", "_params", "_pubkey", "_signature", "decode_transaction"]

API_VERSION = "2.1.0"
U64_MAX = 2**64 - 1
SLOTS_PER_EPOCH = 432_000


def decode_transaction(data: str, encoding: str | None) -> tuple[VersionedTransaction, bytes]:
    try:
        raw = base64.b64decode(data) if encoding == "base64" else base58.b58decode(data)
        return VersionedTransaction.from_bytes(raw), raw
    except Exception:
        raise RpcError(-32602, "invalid transaction: failed to deserialize") from None


class Methods(ReadMethods):
    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain

    def ctx(self, value):
        return {"context": {"slot": self.chain.slot, "apiVersion": API_VERSION}, "value": value}

    # cluster -------------------------------------------------------------------------------------
    def getHealth(self, params):
        return "ok"

    def getVersion(self, params):
        return {"solana-core": API_VERSION, "feature-set": 0}

    def getGenesisHash(self, params):
        return str(self.chain.genesis_hash)

    def _commitment(self, opts) -> str | None:
        return (opts or {}).get("commitment") if isinstance(opts, dict) else None

    def getSlot(self, params):
        (opts,) = _params(params, 1)
        return self.chain.commitment_slot(self._commitment(opts) or "finalized")

    def getBlockHeight(self, params):
        (opts,) = _params(params, 1)
        return self.chain.commitment_slot(self._commitment(opts) or "finalized")

    def getEpochInfo(self, params):
        slot = self.chain.slot
        return {
            "absoluteSlot": slot,
            "blockHeight": self.chain.block_height,
            "epoch": slot // SLOTS_PER_EPOCH,
            "slotIndex": slot % SLOTS_PER_EPOCH,
            "slotsInEpoch": SLOTS_PER_EPOCH,
            "transactionCount": self.chain.transaction_count,
        }

    def getLatestBlockhash(self, params):
        blockhash, last_valid = self.chain.latest_blockhash()
        return self.ctx({"blockhash": str(blockhash), "lastValidBlockHeight": last_valid})

    def isBlockhashValid(self, params):
        value, _ = _params(params, 2)
        try:
            blockhash = Hash.from_string(value)
        except (ValueError, TypeError):
            raise RpcError(-32602, "Invalid param: invalid blockhash") from None
        return self.ctx(self.chain.blockhash_valid(blockhash))

    def getRecentPrioritizationFees(self, params):
        """Completed slots only (the one being filled is not in a node's cache yet)."""
        (keys,) = _params(params, 1)
        if keys is not None and not isinstance(keys, list):
            raise RpcError(-32602, "Invalid params: expected an array of addresses")
        if len(keys or []) > MAX_FEE_ACCOUNTS:
            raise RpcError(-32602, f"Too many inputs provided; max {MAX_FEE_ACCOUNTS}")
        accounts = [_pubkey(k) for k in keys or []]
        with self.chain.lock:
            return self.chain.fees.recent(self.chain.first_slot, self.chain.slot - 1, accounts)

    def getMinimumBalanceForRentExemption(self, params):
        (size, _) = _params(params, 2)
        return self.chain.svm.minimum_balance_for_rent_exemption(int(size or 0))

    def getFeeForMessage(self, params):
        (msg, _) = _params(params, 2)
        try:
            raw = base64.b64decode(msg)
            message = MessageV0.from_bytes(raw[1:]) if raw[0] & 0x80 else Message.from_bytes(raw)
        except Exception:
            raise RpcError(-32602, "Invalid param: invalid message") from None
        if not self.chain.blockhash_valid(message.recent_blockhash):
            return self.ctx(None)
        return self.ctx(LAMPORTS_PER_SIGNATURE * message.header.num_required_signatures)

    # accounts ------------------------------------------------------------------------------------
    def getBalance(self, params):
        key, _ = _params(params, 2)
        acc = self.chain.account(_pubkey(key))
        return self.ctx(acc.lamports if acc else 0)

    def _account_json(self, acc, encoding: str | None):
        if acc is None:
            return None
        data = bytes(acc.data)
        body = None
        if encoding == "jsonParsed":
            body = self._parsed(acc, data)
        if body is None:
            body = (
                [base58.b58encode(data).decode(), "base58"]
                if encoding == "base58"
                else [base64.b64encode(data).decode(), "base64"]
            )
        return {
            "data": body,
            "executable": acc.executable,
            "lamports": acc.lamports,
            "owner": str(acc.owner),
            "rentEpoch": U64_MAX,
            "space": len(data),
        }

    def _parsed(self, acc, data: bytes):
        from minter.localnet.parse import parse_token_account

        return parse_token_account(self.chain, acc, data)

    def getAccountInfo(self, params):
        key, opts = _params(params, 2)
        acc = self.chain.account(_pubkey(key))
        return self.ctx(self._account_json(acc, (opts or {}).get("encoding")))

    def getMultipleAccounts(self, params):
        keys, opts = _params(params, 2)
        if not isinstance(keys, list) or len(keys) > 100:
            raise RpcError(-32602, "Too many inputs provided; max 100")
        encoding = (opts or {}).get("encoding")
        return self.ctx(
            [self._account_json(self.chain.account(_pubkey(k)), encoding) for k in keys]
        )

    def requestAirdrop(self, params):
        key, lamports, _ = _params(params, 3)
        try:
            return str(self.chain.airdrop(_pubkey(key), int(lamports)))
        except ChainError:
            raise RpcError(-32600, "airdrop request failed") from None

    # tokens --------------------------------------------------------------------------------------
    def getTokenAccountBalance(self, params):
        from minter.localnet.parse import token_amount

        key, _ = _params(params, 2)
        acc = self.chain.account(_pubkey(key))
        amount = token_amount(self.chain, acc) if acc else None
        if amount is None:
            raise RpcError(-32602, "Invalid param: could not find account")
        return self.ctx(amount)

    def getTokenSupply(self, params):
        key, _ = _params(params, 2)
        acc = self.chain.account(_pubkey(key))
        data = bytes(acc.data) if acc else b""
        if acc is None or acc.owner not in TOKEN_PROGRAMS or len(data) < 82:
            raise RpcError(-32602, "Invalid param: not a Token mint")
        from minter.localnet.parse import ui_amount

        return self.ctx(ui_amount(int.from_bytes(data[36:44], "little"), data[44]))

    def getTokenAccountsByOwner(self, params):
        owner, flt, opts = _params(params, 3)
        owner = _pubkey(owner)
        if not isinstance(flt, dict) or not ({"mint", "programId"} & set(flt)):
            raise RpcError(-32602, "Invalid param: must specify mint or programId")
        encoding = (opts or {}).get("encoding")
        out = []
        for key in self.chain.token_accounts_of(owner):
            acc = self.chain.account(key)
            if acc is None:
                continue
            data = bytes(acc.data)
            if Pubkey.from_bytes(data[32:64]) != owner:
                continue
            if "mint" in flt and str(Pubkey.from_bytes(data[0:32])) != flt["mint"]:
                continue
            if "programId" in flt and str(acc.owner) != flt["programId"]:
                continue
            out.append({"pubkey": str(key), "account": self._account_json(acc, encoding)})
        return self.ctx(out)

    def getTokenLargestAccounts(self, params):
        from minter.localnet.parse import token_amount

        key, _ = _params(params, 2)
        mint = _pubkey(key)
        acc = self.chain.account(mint)
        if acc is None or acc.owner not in TOKEN_PROGRAMS or len(bytes(acc.data)) < 82:
            raise RpcError(-32602, "Invalid param: not a Token mint")
        found = []
        for address in self.chain.token_accounts_for_mint(mint):
            holding = self.chain.account(address)
            amount = token_amount(self.chain, holding) if holding else None
            if amount is not None:
                found.append({"address": str(address), **amount})
        found.sort(key=lambda a: -int(a["amount"]))
        return self.ctx(found[:20])  # the real method answers at most 20

    # transactions --------------------------------------------------------------------------------
    def sendTransaction(self, params):
        data, opts = _params(params, 2)
        opts = opts or {}
        tx, raw = decode_transaction(data, opts.get("encoding"))
        preflight = not opts.get("skipPreflight", False)
        try:
            return str(self.chain.execute(tx, raw, preflight=preflight))
        except ChainError as exc:
            if not preflight and exc.err == "BlockhashNotFound":
                return str(tx.signatures[0])  # the leader drops it; it never lands
            raise self._preflight_error(exc) from None

    def _preflight_error(self, exc: ChainError) -> RpcError:
        message = exc.args[0]
        if exc.err in ("BlockhashNotFound", "AlreadyProcessed"):
            message = f"Transaction simulation failed: {message}"
        data = {
            "err": exc.err,
            "logs": exc.logs,
            "accounts": None,
            "unitsConsumed": exc.units,
            "returnData": None,
            "innerInstructions": None,
        }
        return RpcError(-32002, message, data)

    def simulateTransaction(self, params):
        data, opts = _params(params, 2)
        opts = opts or {}
        tx, _ = decode_transaction(data, opts.get("encoding"))
        replacement = None
        if opts.get("replaceRecentBlockhash"):
            blockhash, last_valid = self.chain.latest_blockhash()
            replacement = {"blockhash": str(blockhash), "lastValidBlockHeight": last_valid}
        elif not self.chain.blockhash_valid(tx.message.recent_blockhash):
            return self.ctx(self._sim_value("BlockhashNotFound", [], 0, None))
        err, logs, units = self.chain.simulate(tx)
        return self.ctx(self._sim_value(err, logs, units, replacement))

    @staticmethod
    def _sim_value(err, logs, units, replacement):
        value = {
            "err": err,
            "logs": logs,
            "accounts": None,
            "unitsConsumed": units,
            "returnData": None,
            "innerInstructions": None,
        }
        if replacement:
            value["replacementBlockhash"] = replacement
        return value

    def getSignatureStatuses(self, params):
        sigs, _ = _params(params, 2)
        if not isinstance(sigs, list) or len(sigs) > 256:
            raise RpcError(-32602, "Too many inputs provided; max 256")
        return self.ctx(self.chain.statuses([_signature(s) for s in sigs]))

    def getTransaction(self, params):
        from minter.localnet.parse import transaction_json

        sig, opts = _params(params, 2)
        opts = opts if isinstance(opts, dict) else {}
        rec = self.chain.record(_signature(sig))
        if rec is None or not rec.tx:
            return None
        tx = VersionedTransaction.from_bytes(rec.tx)
        if isinstance(tx.message, MessageV0) and opts.get("maxSupportedTransactionVersion") is None:
            raise RpcError(
                -32015,
                "Transaction version (0) is not supported by the requesting client. Please try "
                "the request again with the following configuration parameter: "
                '"maxSupportedTransactionVersion": 0',
            )
        return transaction_json(self.chain, tx, rec)
