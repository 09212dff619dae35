"""A full run under faults, then what ops see: the `metrics` table, the workers' and the API's
/metrics, and logs that carry the mint's identifiers and never a secret."""

from __future__ import annotations

import base64
import json
import secrets
import time

import httpx
import psycopg
import pytest
from solders.keypair import Keypair

from devtools.stack import Stack
from minter.keys import load_keypair_file
from tests.e2e.helpers import FAST, claim, enqueue, requests_for, wait_transfers
from tests.support.webhook_receiver import Receiver, new_secret

# what issue 7 asks the store and /metrics to show (the enqueue counter lives in producers)
REQUIRED = (
    "minting_mints",
    "minting_enqueue_to_completed_seconds",
    "minting_ledger_rows",
    "solana_sends",
    "solana_rebroadcasts",
    "solana_rpc_latency_seconds",
    "solana_rpc_errors",
    "solana_payer_balance_lamports",
    "solana_block_height",
    "minting_webhook_deliveries",
    "minting_webhook_delivery_seconds",
    "minting_webhook_oldest_undelivered_seconds",
    "minting_webhook_endpoints_disabled",
)
JWT_SECRET = secrets.token_hex(32)
WEBHOOK_SECRET = new_secret()


@pytest.fixture(scope="module")
def run(postgres, redis_server, _localnet_session):
    """Mints and claims under dropped responses and 429s, with workers logging JSON at DEBUG
    and delivering webhooks (signed with WEBHOOK_SECRET) to a receiver."""
    receiver = Receiver(WEBHOOK_SECRET).start()
    env = {
        **FAST,
        "MINT_METRICS_INTERVAL": "1",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "DEBUG",
        "JWT_SECRET": JWT_SECRET,
        "WEBHOOK_URL": receiver.url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
    }
    localnet = _localnet_session
    with (
        receiver,
        Stack(postgres=postgres, redis=redis_server, rpc_url=localnet.url, extra_env=env) as s,
    ):
        s.start_workers(processes=2, threads=4)
        localnet.set_faults(drop_response=0.3, http_429=0.1, seed=3)
        try:
            custody = str(s.payer.pubkey())
            items = requests_for(20, "OBS") + requests_for(4, "OBC", owners=[custody] * 4)
            enqueue(s, items)
            ids = [i["ticket_id"] for i in items]
            assert set(s.wait_until_resolved(ids, timeout=180).values()) == {"completed"}
            moves = [(f"OBX-{i}", t, str(Keypair().pubkey())) for i, t in enumerate(ids[-4:])]
            claim(s, moves)
            assert set(wait_transfers(s, [m[0] for m in moves]).values()) == {"completed"}
        finally:
            localnet.clear_faults()
        outputs = [
            s.minter(*cmd, check=False)
            for cmd in (
                ("status", ids[0]),
                ("status", ids[-1], "--json"),
                ("reconcile", "--json"),
                ("health",),
                ("balance", "--json"),
                (
                    "enqueue",
                    "--ticket-id",
                    "OBS-BAD",
                    "--owner",
                    "x",
                    "--name",
                    "n",
                    "--symbol",
                    "s",
                    "--uri",
                    "u",
                ),
            )
        ]
        s.webhook_missing = receiver.wait_for(outbox_ids(s), timeout=60)
        time.sleep(2.5)  # two reporter intervals after the last completion
        exposition = httpx.get(f"http://127.0.0.1:{s.metrics_port}/", timeout=10).text
        s.stop_workers()
        logs = s.worker_logs() + "".join(o.stdout + o.stderr for o in outputs)
        s.outputs = outputs
        yield s, exposition, logs


def outbox_ids(stack: Stack) -> set[str]:
    with psycopg.connect(stack.database_url) as conn:
        return {r[0] for r in conn.execute("SELECT event_id FROM webhook_outbox").fetchall()}


def test_every_outcome_reached_the_webhook_receiver(run):
    stack, exposition, _ = run
    assert stack.webhook_missing == set()
    assert len(outbox_ids(stack)) == 24 + 4  # each mint and each claim, once
    assert 'minting_webhook_deliveries_total{result="delivered"}' in exposition


def store_rows(stack: Stack) -> list[tuple]:
    with psycopg.connect(stack.database_url) as conn:
        return conn.execute(
            "SELECT metric_name, service_name, value, metric_type, labels, timestamp FROM metrics"
        ).fetchall()


def test_metrics_table_holds_every_figure_in_legacy_columns(run):
    stack, _, _ = run
    rows = store_rows(stack)
    names = {r[0] for r in rows}
    for series in REQUIRED:
        assert any(n == series or n.startswith(series + "_") for n in names), series
    assert {r[1] for r in rows} == {"minting-worker"}
    assert {r[3] for r in rows} <= {"counter", "gauge", "histogram"}
    completed = [
        r
        for r in rows
        if r[0] == "minting_mints" and r[4] == {"result": "completed", "standard": "token2022"}
    ]
    assert max(r[2] for r in completed) == 24  # the ledger's figure, whatever the faults
    assert max(r[2] for r in rows if r[0] == "solana_sends_total") >= 24
    assert max(r[2] for r in rows if r[0] == "solana_rpc_errors_total") >= 1
    per_batch = {}
    for r in rows:
        per_batch[r[5]] = per_batch.get(r[5], 0) + 1
    assert len(per_batch) >= 2 and min(per_batch.values()) > len(REQUIRED)  # one INSERT each


def test_workers_endpoint_exposes_the_same_series(run):
    stack, exposition, _ = run
    samples = {
        line.split("{")[0].split(" ")[0]
        for line in exposition.splitlines()
        if line and not line.startswith("#")
    }
    stored = {r[0] for r in store_rows(stack)}
    for series in REQUIRED:
        assert any(n.startswith(series) for n in samples), series
    assert {n for n in stored if not n.endswith(("_p50", "_p95", "_p99"))} <= samples
    assert "dramatiq_messages_total" in samples  # Dramatiq's own middleware, same endpoint


def test_api_metrics_exposes_the_same_series(run):
    from fastapi.testclient import TestClient

    from actors.entrypoints.http.app import build_app
    from actors.infra import config as cfg

    stack, _, _ = run
    settings = cfg.load_settings(stack.env, require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API)
    with TestClient(build_app(settings)) as client:
        text = client.get("/metrics").text
    for series in REQUIRED:
        assert f"# TYPE {series}" in text, series
    assert 'minting_mints{result="completed",standard="token2022"} 24.0' in text


def _json_line(line: str) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None  # command output, not a log line
    return event if isinstance(event, dict) and "event" in event else None


def test_logs_bind_the_mint_identifiers(run):
    _, _, logs = run
    events = [e for line in logs.splitlines() if (e := _json_line(line))]
    about_mints = [e for e in events if "ticket_id" in e]
    assert about_mints and all(e.get("mint_address") for e in about_mints)
    after_signing = ("sent", "send_outcome_unknown", "send_rejected")
    signed = [e for e in about_mints if e["event"] in after_signing]
    assert all(e.get("signature") for e in signed)
    minted = {e["ticket_id"] for e in signed if "transfer_id" not in e}
    assert {f"OBS-{i:05d}" for i in range(20)} | {f"OBC-{i:05d}" for i in range(4)} <= minted


def test_reconcile_finds_ledger_and_chain_agree(run):
    """Faults delayed sends and answers, but every mint and claim happened once, as recorded."""
    stack, _, _ = run
    res = stack.outputs[2]
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert (report["agrees"], report["discrepancies"], report["fixed"]) == (True, [], 0)
    assert (report["mints_checked"], report["transfers_checked"]) == (24, 4)
    assert set(report["counts"].values()) == {0}


def test_health_and_balance_commands(run):
    stack, _, _ = run
    health, balance = stack.outputs[3], stack.outputs[4]
    assert health.returncode == 0 and health.stdout.strip().endswith("ready")
    report = json.loads(balance.stdout)
    assert report["payer"] == str(stack.payer.pubkey()) and report["cost_measured"] is True
    # measured from the payer's balance change in recent mints: rent of mint and account + fee
    assert 5_000_000 < report["cost_per_ticket_lamports"] < 6_500_000
    assert report["mints_left"] == report["lamports"] // report["cost_per_ticket_lamports"]


def _forms(raw: bytes) -> set[str]:
    import based58

    return {
        raw.hex(),
        based58.b58encode(raw).decode(),
        json.dumps(list(raw)),
        json.dumps(list(raw), separators=(",", ":")),
    }


def test_no_secret_in_any_log_or_metric(run):
    stack, exposition, logs = run
    payer = load_keypair_file(stack.workdir / "payer.json").keypair
    assert logs.count("\n") > 100  # there is something to search
    forms = _forms(bytes(payer)) | _forms(bytes(payer)[:32]) | {str(payer)}
    forms |= _forms(stack.mint_secret.encode()) | {stack.mint_secret}
    forms |= _forms(bytes.fromhex(stack.mint_secret))
    forms |= _forms(JWT_SECRET.encode()) | {JWT_SECRET}
    webhook_key = WEBHOOK_SECRET.removeprefix("whsec_")
    forms |= {WEBHOOK_SECRET, webhook_key} | _forms(base64.b64decode(webhook_key))
    seen = logs + exposition + repr(store_rows(stack))  # log lines, /metrics, the store
    leaked = [f[:12] for f in forms if f in seen]
    assert leaked == []
