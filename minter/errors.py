"""Errors raised by the Solana side of the service (``minter``).

One tree under :class:`MinterError`. Messages name the field or the account at fault and
never carry key material.
"""


class MinterError(Exception):
    """Raised when anything in ``minter`` fails; the root of this package's errors."""


class KeypairError(MinterError):
    """Raised when a keypair file is missing, unreadable or not a Solana CLI keypair."""


class ValidationError(MinterError):
    """Raised when a mint or transfer request has a bad field; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class TransientRpcError(MinterError):
    """Raised when an RPC call failed in a way worth retrying (timeout, 429, 5xx, node behind)."""


class PermanentRpcError(MinterError):
    """Raised when the cluster refused a request in a way that retrying cannot change."""
