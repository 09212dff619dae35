"""JSON views the RPC answers with: jsonParsed token accounts and mints, getTransaction."""

from __future__ import annotations

import based58 as base58
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from spl.token.constants import TOKEN_2022_PROGRAM_ID, TOKEN_PROGRAM_ID

MINT_LEN = 82
TOKEN_ACCOUNT_LEN = 165
_PROGRAM_NAMES = {TOKEN_PROGRAM_ID: "spl-token", TOKEN_2022_PROGRAM_ID: "spl-token-2022"}
_STATES = {0: "uninitialized", 1: "initialized", 2: "frozen"}


def _coption_key(data: bytes, at: int) -> str | None:
    return (
        str(Pubkey.from_bytes(data[at + 4 : at + 36])) if data[at : at + 4] != b"\0" * 4 else None
    )


def ui_amount(amount: int, decimals: int) -> dict:
    ui = amount / (10**decimals)
    text = str(amount) if decimals == 0 else f"{ui:.{decimals}f}".rstrip("0").rstrip(".")
    return {"amount": str(amount), "decimals": decimals, "uiAmount": ui, "uiAmountString": text}


def _is_mint(acc, data: bytes) -> bool:
    if acc.owner == TOKEN_PROGRAM_ID:
        return len(data) == MINT_LEN
    return len(data) == MINT_LEN or (len(data) > TOKEN_ACCOUNT_LEN and data[165] == 1)


def _is_token_account(acc, data: bytes) -> bool:
    if acc.owner == TOKEN_PROGRAM_ID:
        return len(data) == TOKEN_ACCOUNT_LEN
    return len(data) == TOKEN_ACCOUNT_LEN or (len(data) > TOKEN_ACCOUNT_LEN and data[165] == 2)


def mint_decimals(chain, mint: Pubkey) -> int:
    acc = chain.account(mint)
    return bytes(acc.data)[44] if acc is not None else 0


def token_amount(chain, acc) -> dict | None:
    """``getTokenAccountBalance``'s value for a token account, or None if it is not one."""
    data = bytes(acc.data)
    if acc.owner not in _PROGRAM_NAMES or not _is_token_account(acc, data):
        return None
    mint = Pubkey.from_bytes(data[0:32])
    return ui_amount(int.from_bytes(data[64:72], "little"), mint_decimals(chain, mint))


def parse_token_account(chain, acc, data: bytes) -> dict | None:
    """jsonParsed for mints and token accounts of either token program; None otherwise."""
    program = _PROGRAM_NAMES.get(acc.owner)
    if program is None:
        return None
    if _is_mint(acc, data):
        info = {
            "decimals": data[44],
            "freezeAuthority": _coption_key(data, 46),
            "isInitialized": bool(data[45]),
            "mintAuthority": _coption_key(data, 0),
            "supply": str(int.from_bytes(data[36:44], "little")),
        }
        kind = "mint"
    elif _is_token_account(acc, data):
        mint = Pubkey.from_bytes(data[0:32])
        info = {
            "isNative": data[109:113] != b"\0" * 4,
            "mint": str(mint),
            "owner": str(Pubkey.from_bytes(data[32:64])),
            "state": _STATES.get(data[108], "initialized"),
            "tokenAmount": ui_amount(
                int.from_bytes(data[64:72], "little"), mint_decimals(chain, mint)
            ),
        }
        kind = "account"
    else:
        return None
    return {"program": program, "parsed": {"info": info, "type": kind}, "space": len(data)}


def _token_balances(chain, entries: list[dict]) -> list[dict]:
    out = []
    for e in entries:
        decimals = mint_decimals(chain, Pubkey.from_string(e["mint"]))
        out.append({**e, "uiTokenAmount": ui_amount(int(e["uiTokenAmount"]["amount"]), decimals)})
    return out


def transaction_json(chain, tx: VersionedTransaction, rec) -> dict:
    """``getTransaction`` with ``encoding: json``."""
    msg = tx.message
    header = msg.header
    message = {
        "accountKeys": [str(k) for k in msg.account_keys],
        "header": {
            "numReadonlySignedAccounts": header.num_readonly_signed_accounts,
            "numReadonlyUnsignedAccounts": header.num_readonly_unsigned_accounts,
            "numRequiredSignatures": header.num_required_signatures,
        },
        "instructions": [
            {
                "accounts": list(ix.accounts),
                "data": base58.b58encode(bytes(ix.data)).decode(),
                "programIdIndex": ix.program_id_index,
                "stackHeight": None,
            }
            for ix in msg.instructions
        ],
        "recentBlockhash": str(msg.recent_blockhash),
    }
    versioned = isinstance(msg, MessageV0)
    if versioned:
        message["addressTableLookups"] = []
    return {
        "slot": rec.slot,
        "blockTime": None,
        "version": 0 if versioned else "legacy",
        "transaction": {"signatures": [str(s) for s in tx.signatures], "message": message},
        "meta": {
            "err": rec.err,
            "status": {"Ok": None} if rec.err is None else {"Err": rec.err},
            "fee": rec.fee,
            "preBalances": rec.pre_balances,
            "postBalances": rec.post_balances,
            "innerInstructions": [],
            "logMessages": rec.logs,
            "preTokenBalances": _token_balances(chain, rec.pre_token),
            "postTokenBalances": _token_balances(chain, rec.post_token),
            "rewards": [],
            "loadedAddresses": {"readonly": [], "writable": []},
            "computeUnitsConsumed": rec.units,
        },
    }
