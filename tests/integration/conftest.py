"""Fixtures of the API tests: a Stack over the session's services, and the app in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from devtools.stack import Stack
from tests.support.tokens import JWT_SECRET


@pytest.fixture
def stack(postgres, redis_url, redis_server, localnet):
    env = {"JWT_SECRET": JWT_SECRET, "MINT_SEND_RATE": "1000"}
    with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
        yield s


@pytest.fixture
def api(stack):
    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as client:
        yield client
