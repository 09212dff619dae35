"""`minter webhooks list|replay|test` as an operator runs them, against the endpoint of
WEBHOOK_URL (put by the workers as they start) and a receiver that verifies every request."""

from __future__ import annotations

import json
import time

import pytest

from devtools.stack import Stack
from tests.e2e.helpers import FAST
from tests.support.webhook_receiver import Receiver, new_secret


@pytest.fixture
def hooked(postgres, redis_server, localnet):
    secret = new_secret()
    with Receiver(secret) as receiver:
        env = {
            **FAST,
            "WEBHOOK_URL": receiver.url,
            "WEBHOOK_SECRET": secret,
            "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
        }
        with Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s:
            yield s, receiver


def listed(stack: Stack) -> list[dict]:
    return json.loads(stack.minter("webhooks", "list").stdout)


def test_list_test_and_replay_from_the_command_line(hooked):
    stack, receiver = hooked
    assert listed(stack) == []  # nothing until a worker starts
    stack.start_workers(processes=1, threads=2)
    deadline = time.monotonic() + 30
    while not (endpoints := listed(stack)) and time.monotonic() < deadline:
        time.sleep(0.5)
    (default,) = endpoints
    assert default["name"] == "default" and default["status"] == "active"
    assert default["url"] == receiver.url
    assert "secret" not in json.dumps(default)

    sent = stack.minter("webhooks", "test", default["id"])
    result = json.loads(sent.stdout)
    assert result["delivered"] is True and result["status_code"] == 200
    (record,) = receiver.records  # signed with WEBHOOK_SECRET, or it would be a bad_signature
    assert (record.answer, record.type) == ("ok", "webhook.test")

    receiver.set_faults(fail_rate=1.0)
    refused = stack.minter("webhooks", "test", default["id"], check=False)
    assert refused.returncode == 1 and json.loads(refused.stdout)["status_code"] == 500

    replay = stack.minter("webhooks", "replay", default["id"], "--since", "2020-01-01T00:00:00Z")
    assert json.loads(replay.stdout) == {"id": default["id"], "replayed": 0}  # nothing happened
    unknown = stack.minter("webhooks", "replay", "we_none", "--since", "2020-01-01T00:00Z",
                           check=False)  # fmt: skip
    assert unknown.returncode == 1 and "no webhook endpoint we_none" in unknown.stderr
    bad = stack.minter("webhooks", "replay", default["id"], "--since", "last week", check=False)
    assert bad.returncode == 2 and "--since" in bad.stderr
    missing = stack.minter("webhooks", "test", "we_none", check=False)
    assert missing.returncode == 1
