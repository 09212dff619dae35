"""Schema-driven fuzzing of the running API: no generated request gets a 5xx.

The app from ``build_app`` is served by uvicorn on a loopback port in a background thread,
backed by the session's real PostgreSQL, Redis and validator (no workers run, so a mint that
gets through is only enqueued). Schemathesis reads the schema from the server's own
``/openapi.json`` and generates positive and negative cases for every operation; each is sent
over HTTP and checked with ``not_a_server_error``. The first run carries a valid bearer token
of a role the route admits (service, else admin), so the /v1 handlers themselves see the
input; a smaller second run sends each case with the generated ``authorization`` header (or
none), without one, and with a forged token.
Derandomized, so a failure replays.

Not ``schemathesis.pytest.from_fixture`` + ``@schema.parametrize()``: schemathesis 4.32 sets
``request.node._nodeid``, which pytest 9.2 no longer has (AttributeError). Each operation is a
pytest parameter instead, fuzzed by Hypothesis over ``operation.as_strategy()``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from solders.keypair import Keypair

from devtools.local_services import free_port
from devtools.stack import Stack
from tests.support.tokens import JWT_SECRET, token

EXAMPLES_WITH_TOKEN = 50
EXAMPLES_WITHOUT = 15
CHECKS = [not_a_server_error]
NOT_SERVICE = {  # routes a service token may not call: fuzzed with an admin's
    "POST /v1/mints/{ticket_id}/retry",
    "POST /v1/mints/{ticket_id}/cancel",
    "POST /v1/tickets/{ticket_id}/check-in",
    "POST /v1/tickets/{ticket_id}/invalidate",
    "POST /v1/tickets/{ticket_id}/reissue",
    "POST /v1/webhooks",
    "GET /v1/webhooks",
    "DELETE /v1/webhooks/{endpoint_id}",
    "POST /v1/webhooks/{endpoint_id}/replay",
}
OPERATIONS = [
    "POST /v1/mints",
    "GET /v1/mints/{ticket_id}",
    "POST /v1/transfers",
    "GET /v1/transfers/{transfer_id}",
    "PUT /v1/events/{event_id}",
    "GET /v1/events/{event_id}",
    "POST /v1/mints/{ticket_id}/retry",
    "POST /v1/mints/{ticket_id}/cancel",
    "POST /v1/tickets/{ticket_id}/check-in",
    "POST /v1/tickets/{ticket_id}/invalidate",
    "POST /v1/tickets/{ticket_id}/reissue",
    "GET /v1/tickets/{ticket_id}",
    "POST /v1/webhooks",
    "GET /v1/webhooks",
    "DELETE /v1/webhooks/{endpoint_id}",
    "POST /v1/webhooks/{endpoint_id}/replay",
    "GET /health",
    "GET /ready",
    "GET /balance",
    "GET /metrics",
]
# Generated strings are almost never valid base58 addresses or acceptable ticket fields, so
# nearly every body would stop at the first intake check. Half of the JSON-object bodies get
# some fields made plausible (drawn from small pools), so the deeper paths run too: an intent
# recorded (202), its repeat (200), a clash (409), ledger lookups for a transfer. At most two
# tickets are enqueued; no worker runs, so nothing reaches the chain.
HOLDERS = [str(Keypair.from_seed(bytes([i]) * 32).pubkey()) for i in range(1, 4)]
METADATA = {"name": "Fuzz", "symbol": "FZ", "uri": "https://t.example/fuzz"}


def _plausible_mint(pick: int) -> dict:
    fields = {"ticket_id": f"FUZZ-{pick % 2}", "owner": HOLDERS[pick % 3], "standard": "token2022"}
    return {**fields, "metadata": METADATA} if pick < 3 else fields


PLAUSIBLE = {
    "POST /v1/mints": _plausible_mint,
    "POST /v1/transfers": lambda pick: {"ticket_id": f"FUZZ-{pick % 2}", "to": HOLDERS[pick % 3]},
    "PUT /v1/events/{event_id}": lambda pick: {
        "name": "Fuzz event",
        "uri": "https://t.example/e",
        "capacity": pick + 1,
    },
}
FORGED = f"Bearer {token('another secret entirely, 32 chars+', exp=time.time() + 3600)}"

calls: Counter[str] = Counter()  # requests per run and status, printed at teardown (pytest -s)


@pytest.fixture(scope="module")
def served(postgres, redis_server, _localnet_session):
    """The API under uvicorn on 127.0.0.1; yields its base URL."""
    import uvicorn

    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    client = redis.Redis.from_url(redis_server.url())
    client.flushall()  # as the redis_url fixture does: nothing left over from other tests
    client.close()
    env = {"JWT_SECRET": JWT_SECRET}
    stack = Stack(
        postgres=postgres, redis=redis_server, rpc_url=_localnet_session.url, extra_env=env
    )
    with stack:
        app_settings = cfg.load_settings(
            stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                build_app(app_settings),
                host="127.0.0.1",
                port=port,
                log_level="warning",
                log_config=None,  # as `minter api` runs it: our logging, not uvicorn's
            )
        )
        thread = threading.Thread(target=server.run, name="api-fuzz-uvicorn", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the API did not start"
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            print(f"\napi fuzz: {sum(calls.values())} requests; by run and status:")
            for key, count in sorted(calls.items()):
                print(f"  {key}: {count}")


@pytest.fixture(scope="module")
def api_schema(served):
    """The schema as the running server publishes it."""
    return schemathesis.openapi.from_url(f"{served}/openapi.json")


@pytest.fixture(scope="module")
def bearer() -> str:
    return f"Bearer {token(exp=time.time() + 3600)}"  # role service; outlives the run


@pytest.fixture(scope="module")
def admin_bearer() -> str:
    return f"Bearer {token(exp=time.time() + 3600, role='admin')}"


def fuzz(api_schema, label: str, examples: int, send: Callable) -> None:
    """Hypothesis-drive ``send(case)`` over positive and negative cases for one operation."""
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is not in /openapi.json"
    strategy = operation.as_strategy(GenerationMode.POSITIVE)
    if operation.body or any(True for _ in operation.iter_parameters()):
        strategy = st.one_of(strategy, operation.as_strategy(GenerationMode.NEGATIVE))
    plausible = PLAUSIBLE.get(label)
    if plausible is not None:
        strategy = st.tuples(strategy, st.none() | st.integers(0, 5)).map(
            lambda pair: _made_plausible(pair[0], pair[1], plausible)
        )

    @settings(
        max_examples=examples,
        derandomize=True,  # same cases every run; a failure replays
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case):
        send(case)

    run()


def _made_plausible(case, pick: int | None, fields: Callable):
    if pick is not None and isinstance(case.body, dict):
        case.body = {**case.body, **fields(pick)}
    return case


def test_schema_lists_exactly_the_fuzzed_operations(api_schema):
    published = {result.ok().label for result in api_schema.get_all_operations()}
    assert published == set(OPERATIONS)  # a new route gets fuzzed too: add it above


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_error_with_a_valid_token(api_schema, served, bearer, admin_bearer, label):
    valid = admin_bearer if label in NOT_SERVICE else bearer  # a role that reaches the handler

    def send(case):
        response = case.call(base_url=served, headers={"Authorization": valid}, timeout=30)
        calls[f"with token {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

    fuzz(api_schema, label, EXAMPLES_WITH_TOKEN, send)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_error_without_a_valid_token(api_schema, served, label):
    def send(case):
        response = case.call(base_url=served, timeout=30)  # the generated header, if any
        calls[f"generated auth {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

        response = case.call(base_url=served, headers={"Authorization": FORGED}, timeout=30)
        calls[f"forged {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

        generated = dict(case.headers or {})
        case.headers = {k: v for k, v in generated.items() if k.lower() != "authorization"}
        response = case.call(base_url=served, timeout=30)
        calls[f"no auth {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)

    fuzz(api_schema, label, EXAMPLES_WITHOUT, send)


# Valid but for one field, so the bad text gets past the intake's other checks. What the
# fuzzer found (or would need luck to find) and actors/api.py now answers with 422:
# PostgreSQL text refuses NUL and lone surrogates, and the 422 itself echoes the input, which
# JSON rendering refused when it held a lone surrogate or NaN.
MINT = (
    '{"ticket_id": %s, "owner": "' + HOLDERS[0] + '", "metadata": '
    '{"name": "n", "symbol": "s", "uri": "u", "seller_fee_basis_points": %s}}'
)
NASTY_BODIES = {
    "transfer id with NUL": (
        "/v1/transfers",
        '{"transfer_id": "a\\u0000", "ticket_id": "k", "to": "' + HOLDERS[0] + '"}',
    ),
    "ticket id with NUL": ("/v1/mints", MINT % ('"a\\u0000"', "1")),
    "ticket id with a lone surrogate": ("/v1/mints", MINT % ('"a\\udae1"', "1")),
    "fee a lone surrogate": ("/v1/mints", MINT % ('"k"', '"\\udae1"')),
    "fee NaN": ("/v1/mints", MINT % ('"k"', "NaN")),
    "ticket id Infinity": ("/v1/mints", MINT % ("Infinity", "1")),
}


@pytest.mark.parametrize("why", NASTY_BODIES)
def test_text_postgres_or_json_cannot_hold_gets_422(served, bearer, why):
    path, raw = NASTY_BODIES[why]
    headers = {"Authorization": bearer, "Content-Type": "application/json"}
    res = httpx.post(f"{served}{path}", content=raw, headers=headers, timeout=30)
    assert res.status_code == 422, res.text
    res.json()  # valid JSON, NaN and surrogates escaped


@pytest.mark.parametrize("route", ["/v1/mints/a%00b", "/v1/transfers/a%00b"])
def test_ids_with_nul_are_not_found(served, bearer, route):
    res = httpx.get(f"{served}{route}", headers={"Authorization": bearer}, timeout=30)
    assert res.status_code == 404, res.text


def test_a_50_mb_chunked_mint_is_refused_while_it_streams(served, bearer):
    """The real app under uvicorn: 413 long before the 50 MB are sent, and no ledger row."""
    from scripts.bench_body_limit import body_chunks, post_chunked

    port = int(served.rsplit(":", 1)[1])
    reply = post_chunked(
        port,
        body_chunks(50_000_000, 64 * 1024, fill=b" "),  # whitespace: valid JSON, were it read
        path="/v1/mints",
        headers={"Authorization": bearer, "Content-Type": "application/json"},
    )
    assert reply.status == 413 and not reply.finished, reply
    assert reply.sent < 25_000_000, reply.sent
    res = httpx.get(f"{served}/v1/mints/k", headers={"Authorization": bearer}, timeout=30)
    assert res.status_code == 404
