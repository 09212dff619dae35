"""Errors raised by the ledger (``ledger``)."""


class LedgerError(Exception):
    """Raised when anything in ``ledger`` fails; the root of this package's errors."""


class MigrationError(LedgerError):
    """Raised when the migration scripts cannot be found or a migration fails."""


class UnpublishedChange(LedgerError):
    """Raised when a terminal change would commit without a publisher to write its event."""
