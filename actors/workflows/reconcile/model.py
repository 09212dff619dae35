"""What reconciliation finds: the discrepancy classes, one discrepancy, and the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

MISSING = "missing_on_chain"


LANDED = "on_chain_not_completed"


OWNER_CHANGED = "owner_changed"


STUCK = "stuck"


DIFFERS = "chain_differs"


CLASSES = (MISSING, LANDED, OWNER_CHANGED, STUCK, DIFFERS)


@dataclass
class Discrepancy:
    kind: str
    table: str  # nft_mints, nft_transfers, nft_collections or ticket_operations
    key: str  # ticket_id, transfer_id, event_id or operation_id
    status: str  # the ledger's status when read
    detail: str
    fixed: str | None = None  # what --fix did, if anything

    # the row's identity when read: a row that moved since was being worked on, not wrong
    updated_at: datetime | None = field(default=None, repr=False)


@dataclass
class Report:
    mints: int = 0
    transfers: int = 0
    collections: int = 0
    operations: int = 0
    seconds: float = 0.0
    discrepancies: list[Discrepancy] = field(default_factory=list)

    @property
    def open(self) -> list[Discrepancy]:
        return [d for d in self.discrepancies if d.fixed is None]

    @property
    def agrees(self) -> bool:
        return not self.open

    def as_json(self) -> dict:
        rows = self.mints + self.transfers + self.collections + self.operations
        return {
            "agrees": self.agrees,
            "mints_checked": self.mints,
            "transfers_checked": self.transfers,
            "collections_checked": self.collections,
            "operations_checked": self.operations,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(rows / self.seconds, 1) if self.seconds else None,
            "counts": {c: sum(d.kind == c for d in self.discrepancies) for c in CLASSES},
            "fixed": sum(d.fixed is not None for d in self.discrepancies),
            "discrepancies": [
                {k: v for k, v in asdict(d).items() if k != "updated_at"}
                for d in self.discrepancies
            ],
        }
