"""Exit codes of every ``minter`` command (DESIGN.md, Interfaces), and which failures mean a
dependency is unreachable, so ops scripts can tell "the ledger differs" from "Postgres is down".

| code | meaning |
|---|---|
| 0 | OK |
| 1 | differ (reconcile, status, a conflict in enqueue) or not ready (health) |
| 2 | usage or settings error, or a request field refused |
| 3 | a dependency (PostgreSQL, Redis, the Solana RPC) unreachable |
| 4 | an unexpected failure (a bug; the traceback is printed) |
"""

from __future__ import annotations

import dramatiq.errors
import httpx
import psycopg
import redis
import sqlalchemy.exc
from solana.exceptions import SolanaRpcException

from minter.errors import TransientRpcError

EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERNAL = 4

POSTGRES, REDIS, RPC = "postgres", "redis", "rpc"


def unreachable(exc: BaseException) -> str | None:
    """The dependency ``exc`` (or an exception it was raised from) says is unreachable."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
            return POSTGRES
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return POSTGRES
        if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return REDIS
        if isinstance(exc, dramatiq.errors.BrokerConnectionError):  # the broker is Redis here
            return REDIS
        if isinstance(exc, TransientRpcError | SolanaRpcException | httpx.TransportError):
            return RPC
        exc = exc.__cause__ or exc.__context__
    return None
