"""Schema-driven fuzzing of the running API (schemathesis over HTTP): no input gives a 5xx.

The app runs under uvicorn on a loopback port, backed by real PostgreSQL, Redis and the
validator; the schema is read from its own /openapi.json. Every operation gets generated cases
with a valid token (so the handlers, not only the auth layer, see them) and with bad ones.
Seeded, so a failure replays.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings

from scripts.local_services import free_port
from scripts.stack import Stack
from tests.integration.test_api import JWT_SECRET, token

EXAMPLES_WITH_TOKEN = 40
EXAMPLES_WITHOUT = 10


@pytest.fixture
def stack(postgres, redis_url, redis_server, localnet):
    env = {"JWT_SECRET": JWT_SECRET}
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
        yield s


@pytest.fixture
def served(stack):
    import uvicorn

    from actors import settings as cfg
    from actors.api import build_app

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


def fuzz(base: str, headers: dict, examples: int) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    calls, errors = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()

        @seed(20261123)
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            nonlocal calls
            response = case.call(base_url=base, headers=headers, timeout=30)
            calls += 1
            if response.status_code >= 500:
                errors.append(f"{case.method} {case.path}: {response.status_code} {case.body!r}")

        run()
    return calls, errors


def test_no_generated_request_gets_a_server_error(served):
    auth = {"Authorization": f"Bearer {token(JWT_SECRET)}"}
    calls, errors = fuzz(served, auth, EXAMPLES_WITH_TOKEN)
    assert errors == [] and calls >= 8 * 10, (calls, errors[:5])
    ledger = httpx.get(f"{served}/v1/mints/none", headers=auth).status_code
    assert ledger == 404  # the app still answers after the run


def test_no_server_error_without_a_valid_token(served):
    for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
        calls, errors = fuzz(served, headers, EXAMPLES_WITHOUT)
        assert errors == [] and calls >= 8, (calls, errors[:5])
