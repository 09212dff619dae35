"""The entry points' webhook wiring: WEBHOOK_URL and WEBHOOK_SECRET go together; the policy and
the secrets come from the settings; the body is the same bytes on every attempt."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from standardwebhooks.webhooks import Webhook

from actors.entrypoints import services as wiring
from actors.infra import config as cfg
from actors.infra.errors import SettingsError
from actors.infra.webhook_http import new_secret
from actors.workflows.webhooks.delivery import event_body
from actors.workflows.webhooks.endpoints import EndpointRefused, check_events


@pytest.mark.parametrize(
    "env,missing",
    [
        ({"WEBHOOK_URL": "https://h.example/x"}, "WEBHOOK_SECRET"),
        ({"WEBHOOK_SECRET": new_secret()}, "WEBHOOK_URL"),
    ],
)
def test_url_and_secret_go_together(env, missing):
    services = SimpleNamespace(settings=cfg.load_settings(env), uow_factory=None)
    with pytest.raises(SettingsError) as err:
        wiring.put_default_endpoint(services)
    assert err.value.name == missing


def test_the_policy_and_the_secrets_come_from_the_settings():
    secret = new_secret()
    settings = cfg.load_settings(
        {
            "MINT_KEY_SECRET": "m" * 40,
            "WEBHOOK_SECRET": secret,
            "WEBHOOK_TIMEOUT": "2",
            "WEBHOOK_RETRY_SCHEDULE": "0,1,3",
        }
    )
    policy = wiring.policy(settings)
    assert [policy.retry_in(n) for n in (1, 2, 3)] == [1.0, 3.0, None]
    assert policy.lease.total_seconds() == 10 + 4 * 2 + 10  # rate wait, phases, margin
    secret_for = wiring.secret_for(settings)
    default = SimpleNamespace(name="default", secret_nonce=None)
    other = SimpleNamespace(name=None, secret_nonce=b"n" * 32)
    stray = SimpleNamespace(name="x", secret_nonce=None)
    assert secret_for(default) == secret
    derived = secret_for(other)
    assert derived.startswith("whsec_") and derived != secret
    assert derived == secret_for(SimpleNamespace(name=None, secret_nonce=b"n" * 32))
    assert secret_for(stray) is None
    Webhook(derived)  # a secret the library takes


def test_the_body_is_stable_and_signed_as_sent():
    event = SimpleNamespace(
        event_id="evt_1",
        type="mint.completed",
        created_at=datetime(2026, 11, 25, 10, 0, 0, 123000, tzinfo=UTC),
        sequence=3,
        data={"ticket_id": "T-1", "slot": 9},
    )
    body = event_body(event)
    assert body == event_body(event)
    assert body == (
        '{"id":"evt_1","type":"mint.completed","created_at":"2026-11-25T10:00:00.123000Z",'
        '"sequence":3,"data":{"ticket_id":"T-1","slot":9}}'
    )


def test_event_types_are_checked():
    assert check_events(None)[0] == "mint.completed"
    assert check_events(["transfer.failed", "mint.completed"]) == [
        "mint.completed",
        "transfer.failed",
    ]
    for bad in ([], ["mint.done"]):
        with pytest.raises(EndpointRefused) as err:
            check_events(bad)
        assert err.value.field == "events"
