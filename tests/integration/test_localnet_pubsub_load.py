"""200 concurrent signatureSubscribe clients over 20 connections all get their notification,
each true to getSignatureStatuses and never before the commitment (figures:
scripts/bench_pubsub.py)."""

from __future__ import annotations

import asyncio

import pytest
from solana.rpc.api import Client
from solders.keypair import Keypair

from devtools.pubsub_load import run_round, signed_transfers
from minter.localnet import admin
from minter.localnet.process import LocalnetProcess

SUBSCRIPTIONS = 200
CONNECTIONS = 20


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=40) as proc:
        yield proc


def test_200_signature_subscriptions_over_20_connections(fast_localnet):
    client = Client(fast_localnet.url)
    payer = Keypair()
    sig = client.request_airdrop(payer.pubkey(), 10 * 10**9).value
    client.confirm_transaction(sig, commitment="confirmed", sleep_seconds=0.02)
    txs = signed_transfers(client, payer, SUBSCRIPTIONS)
    before = admin.get_stats(fast_localnet.url)["pubsub"]["notifications"]

    out = asyncio.run(
        run_round(fast_localnet.url, fast_localnet.ws_url, txs, connections=CONNECTIONS)
    )

    assert len(out.notes) == SUBSCRIPTIONS and set(out.notes) == set(out.signatures)
    assert all(note["value"] == {"err": None} for note in out.notes.values())
    assert len(out.slots) == SUBSCRIPTIONS  # every one landed
    for sig, note in out.notes.items():
        # notified in the slot its transaction became confirmed, not before
        assert note["context"]["slot"] >= out.slots[sig]
    assert len(out.delays) == SUBSCRIPTIONS
    assert min(out.delays) >= 0  # no notification arrived before its commitment
    after = admin.get_stats(fast_localnet.url)["pubsub"]
    sent = after["notifications"].get("signatureNotification", 0)
    assert sent - before.get("signatureNotification", 0) == SUBSCRIPTIONS
