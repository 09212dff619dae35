"""A unit of work: one session, its repositories, and a rollback unless committed."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from ledger.lifecycle_repository import CollectionRepository, OperationRepository
from ledger.repository import (
    AttemptRepository,
    MetricsRepository,
    MintRepository,
    TransferRepository,
)


class UnitOfWork:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.mints = MintRepository(self.session)
        self.transfers = TransferRepository(self.session)
        self.attempts = AttemptRepository(self.session)
        self.collections = CollectionRepository(self.session)
        self.operations = OperationRepository(self.session)
        self.metrics = MetricsRepository(self.session)
        return self

    def __exit__(self, *exc) -> None:
        # Rows read stay readable after the block (writes go through guarded UPDATEs, never
        # through these objects), and nothing uncommitted survives the rollback.
        self.session.expunge_all()
        self.rollback()
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
