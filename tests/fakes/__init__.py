"""In-memory fakes of our ports (``actors/workflows/ports.py``), for unit tests without services:
the ledger's unit of work (:mod:`tests.fakes.ledger`) and the chain (:mod:`tests.fakes.chain`)."""

from tests.fakes.chain import FakeChain, token2022_mint, token_account
from tests.fakes.ledger import FakeLedger, FakeUnitOfWork

__all__ = ["FakeChain", "FakeLedger", "FakeUnitOfWork", "token2022_mint", "token_account"]
