"""The end-to-end tests' stack: the service's commands over the session's PostgreSQL, Redis and
validator, with a fresh database and keys per test (a module may define its own, wider one)."""

from __future__ import annotations

import pytest

from devtools.stack import Stack
from tests.e2e.helpers import FAST


@pytest.fixture
def stack(postgres, redis_url, redis_server, localnet):
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=FAST) as s:
        yield s
