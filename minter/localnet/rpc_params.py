"""JSON-RPC error and parameter parsing shared by the method modules (rpc.py, rpc_reads.py)."""

from __future__ import annotations

from solders.pubkey import Pubkey
from solders.signature import Signature


class RpcError(Exception):
    """Raised by a method to answer a JSON-RPC error."""

    def __init__(self, code: int, message: str, data=None) -> None:
        super().__init__(message)
        self.code, self.message, self.data = code, message, data


def _params(params, n: int) -> list:
    params = list(params or [])
    return params + [None] * (n - len(params))


def _pubkey(value) -> Pubkey:
    try:
        return Pubkey.from_string(value)
    except (ValueError, TypeError):
        raise RpcError(-32602, f"Invalid param: {value!r} is not a valid pubkey") from None


def _signature(value) -> Signature:
    try:
        return Signature.from_string(value)
    except (ValueError, TypeError):
        raise RpcError(-32602, "Invalid param: invalid signature") from None
