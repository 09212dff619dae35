"""History and scan reads (getProgramAccounts, getSignaturesForAddress, block times), mixed
into :class:`minter.localnet.rpc.Methods`; kept apart so rpc.py stays readable."""

from __future__ import annotations

import base64

import based58 as base58
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from minter.localnet.rpc_params import RpcError, _params, _pubkey, _signature

MAX_SIGNATURES = 1000  # the real node's cap on getSignaturesForAddress ``limit``


class ReadMethods:
    # The host class provides these (rpc.Methods).
    chain = None

    def getProgramAccounts(self, params):
        program, opts = _params(params, 2)
        program = _pubkey(program)
        opts = opts if isinstance(opts, dict) else {}
        filters = [_filter(f) for f in (opts.get("filters") or [])]
        encoding = opts.get("encoding")
        if encoding not in (None, "base64", "base58", "base64+zstd", "jsonParsed"):
            raise RpcError(-32602, f"Invalid param: unknown encoding {encoding!r}")
        data_slice = opts.get("dataSlice")
        out = []
        for key, acc in self.chain.accounts_owned_by(program):
            data = bytes(acc.data)
            if not all(f(data) for f in filters):
                continue
            body = self._account_json(acc, encoding)
            if data_slice:
                # The slice applies to the returned bytes only; filters saw the whole account.
                start = int(data_slice.get("offset", 0))
                part = data[start : start + int(data_slice.get("length", 0))]
                body["data"] = (
                    [base58.b58encode(part).decode(), "base58"]
                    if encoding == "base58"
                    else [base64.b64encode(part).decode(), "base64"]
                )
            out.append({"pubkey": str(key), "account": body})
        return self.ctx(out) if opts.get("withContext") else out

    def getSignaturesForAddress(self, params):
        address, opts = _params(params, 2)
        address = _pubkey(address)
        opts = opts if isinstance(opts, dict) else {}
        limit = opts.get("limit") or MAX_SIGNATURES
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SIGNATURES:
            raise RpcError(-32602, "Invalid limit; max 1000")
        before = _signature(opts["before"]) if opts.get("before") else None
        until = _signature(opts["until"]) if opts.get("until") else None
        found = self.chain.signatures_for(address)  # newest first
        if before is not None:
            index = next((i for i, (s, _) in enumerate(found) if s == before), None)
            found = [] if index is None else found[index + 1 :]
        out = []
        for sig, rec in found:
            if sig == until or len(out) == limit:
                break
            status = self.chain.status(sig)
            out.append(
                {
                    "signature": str(sig),
                    "slot": rec.slot,
                    "err": rec.err,
                    "memo": None,
                    "blockTime": self.chain.slot_times.get(rec.slot),
                    "confirmationStatus": status["confirmationStatus"] if status else None,
                }
            )
        return out

    def getFirstAvailableBlock(self, params):
        return self.chain.first_slot

    def minimumLedgerSlot(self, params):  # the real name has no "get"
        return self.chain.first_slot

    def getInflationReward(self, params):
        # One entry per address, as the node answers; no epoch here has paid staking rewards.
        addresses, _ = _params(params, 2)
        if not isinstance(addresses, list):
            raise RpcError(-32602, "Invalid params: addresses must be an array")
        return [None for key in addresses if _pubkey(key)]

    def getBlockTime(self, params):
        (slot,) = _params(params, 1)
        if not isinstance(slot, int) or slot < 0:
            raise RpcError(-32602, "Invalid param: slot must be a u64")
        when = self.chain.slot_times.get(slot)
        if when is None:
            raise self._no_block(slot)
        return when

    def _no_block(self, slot: int) -> RpcError:
        first = self.chain.first_slot
        if slot < first:  # the real node's answer for slots older than its ledger
            return RpcError(
                -32001,
                f"Block {slot} cleaned up, does not exist on node. First available block: {first}",
            )
        return RpcError(-32004, f"Block not available for slot {slot}")

    def getBlock(self, params):
        from minter.localnet.parse import transaction_json

        slot, opts = _params(params, 2)
        opts = opts if isinstance(opts, dict) else {}
        if not isinstance(slot, int) or slot < 0:
            raise RpcError(-32602, "Invalid param: slot must be a u64")
        details = opts.get("transactionDetails") or "full"
        if details not in ("full", "signatures", "none"):
            raise RpcError(-32602, f"Invalid param: unsupported transactionDetails {details!r}")
        if opts.get("encoding") not in (None, "json"):
            raise RpcError(-32602, "Invalid param: only encoding json is supported here")
        chain = self.chain
        with chain.lock:
            blockhash = chain.slot_hashes.get(slot)
            if blockhash is None or slot > chain.slot:
                raise self._no_block(slot)
            sigs = list(chain.slot_signatures.get(slot, ()))
            records = [chain.records.get(s) for s in sigs]
        parent = max(slot - 1, chain.first_slot)
        block = {
            "blockHeight": slot,  # no skipped slots here
            "blockTime": chain.slot_times.get(slot),
            "blockhash": str(blockhash),
            "parentSlot": slot - 1 if slot > chain.first_slot else slot,
            "previousBlockhash": str(chain.slot_hashes[parent]),
        }
        if details == "signatures":
            block["signatures"] = [str(s) for s in sigs]
        elif details == "full":
            txs = []
            for rec in records:
                if rec is None or not rec.tx:
                    continue  # airdrops keep no transaction bytes; forgotten history neither
                tx = VersionedTransaction.from_bytes(rec.tx)
                if (
                    isinstance(tx.message, MessageV0)
                    and opts.get("maxSupportedTransactionVersion") is None
                ):
                    raise RpcError(
                        -32015,
                        "Transaction version (0) is not supported by the requesting client. "
                        "Please try the request again with the following configuration "
                        'parameter: "maxSupportedTransactionVersion": 0',
                    )
                item = transaction_json(chain, tx, rec)
                txs.append({k: item[k] for k in ("transaction", "meta", "version")})
            block["transactions"] = txs
        if opts.get("rewards") is not False:  # null means the default, true
            block["rewards"] = []
        return block


def _filter(spec):
    """One getProgramAccounts filter as a predicate over account data."""
    if isinstance(spec, dict) and "dataSize" in spec:
        size = spec["dataSize"]
        return lambda data: len(data) == size
    memcmp = spec.get("memcmp") if isinstance(spec, dict) else None
    if isinstance(memcmp, dict) and "offset" in memcmp and "bytes" in memcmp:
        try:
            if memcmp.get("encoding", "base58") == "base64":
                want = base64.b64decode(memcmp["bytes"], validate=True)
            else:
                want = base58.b58decode(memcmp["bytes"].encode())
        except Exception:
            raise RpcError(-32602, "Invalid param: invalid memcmp bytes") from None
        offset = int(memcmp["offset"])
        return lambda data: data[offset : offset + len(want)] == want
    raise RpcError(-32602, f"Invalid param: unsupported filter {spec!r}")
