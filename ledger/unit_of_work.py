"""A unit of work: one session, its repositories, and a rollback unless committed.

Terminal changes (a row reaching ``completed`` or ``failed``) are noted by the repositories;
:meth:`UnitOfWork.commit` hands them to ``publish`` first, which writes their webhook events in
the same transaction, so a change can never commit without its event. ``publish`` may return an
action to run after the commit (waking the deliverers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session, sessionmaker

from ledger.errors import UnpublishedChange
from ledger.lifecycle_repository import CollectionRepository, OperationRepository
from ledger.repository import (
    CHANGES,
    AttemptRepository,
    Change,
    MetricsRepository,
    MintRepository,
    TransferRepository,
)
from ledger.webhook_repository import WebhookRepository

Publish = Callable[["UnitOfWork", Sequence[Change]], Callable[[], None] | None]


class UnitOfWork:
    def __init__(
        self, session_factory: sessionmaker[Session], *, publish: Publish | None = None
    ) -> None:
        self._factory = session_factory
        self._publish = publish
        self.session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.mints = MintRepository(self.session)
        self.transfers = TransferRepository(self.session)
        self.attempts = AttemptRepository(self.session)
        self.collections = CollectionRepository(self.session)
        self.operations = OperationRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.metrics = MetricsRepository(self.session)
        return self

    def __exit__(self, *exc) -> None:
        # Rows read stay readable after the block (writes go through guarded UPDATEs, never
        # through these objects), and nothing uncommitted survives the rollback.
        self.session.expunge_all()
        self.rollback()
        self.session.close()

    def commit(self) -> None:
        changes = self.session.info.pop(CHANGES, None)
        after = None
        if changes:
            if self._publish is None:
                self.rollback()
                raise UnpublishedChange(
                    f"{len(changes)} terminal change(s) and no publisher for their events"
                )
            after = self._publish(self, changes)
        self.session.commit()
        if after is not None:
            after()

    def rollback(self) -> None:
        self.session.info.pop(CHANGES, None)
        self.session.rollback()
