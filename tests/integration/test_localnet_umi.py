"""Metaplex Umi (umi-bundle-defaults, from tests/js/umi's lockfile) on the embedded validator.

Umi confirms with web3.js's blockhash strategy, which waits on a signatureSubscribe
notification from RPC port + 1: the airdrop, `transferSol` and `createAccount` with
`sendAndConfirm`, then `getAccount`, `getBalance`, `getTransaction` and `getRent` read back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from solana.rpc.api import Client
from solders.pubkey import Pubkey

from minter.localnet import admin
from minter.localnet.process import LocalnetProcess

UMI = Path(__file__).resolve().parents[1] / "js" / "umi"
SENT = 54321
FEE = 5000


@pytest.fixture(scope="module")
def fast_localnet():
    with LocalnetProcess(slot_ms=40) as proc:
        yield proc


def run_umi(url: str) -> dict:
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (UMI / "node_modules").exists():
        pytest.skip("tests/js/umi/node_modules missing: scripts/setup.sh installs it")
    res = subprocess.run(
        ["node", str(UMI / "smoke.mjs"), url], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def check(out: dict, url: str) -> None:
    assert out["transferErr"] is None and out["createErr"] is None
    assert out["receiverBalance"] == SENT
    # one SOL, less the transfer, its fee, the new account's rent and its fee (two signers)
    assert out["payerBalance"] == 10**9 - SENT - FEE - out["rent"] - 2 * FEE
    assert out["account"] == {
        "size": 42,
        "lamports": Client(url).get_minimum_balance_for_rent_exemption(42).value,
        "owner": "11111111111111111111111111111111",
    }
    assert out["transferSlot"] > 0 and out["transferFee"] == FEE


@pytest.mark.parametrize("slots", ["default", "fast"])
def test_umi_airdrop_transfer_create_and_fetch(slots, request):
    url = request.getfixturevalue("localnet" if slots == "default" else "fast_localnet").url
    embedded = slots == "fast" or request.getfixturevalue("localnet").embedded
    before = admin.get_stats(url)["pubsub"]["notifications"] if embedded else None
    out = run_umi(url)
    check(out, url)
    if embedded:
        after = admin.get_stats(url)["pubsub"]["notifications"]
        # three confirmations, each answered over the socket
        got = after.get("signatureNotification", 0) - before.get("signatureNotification", 0)
        assert got >= 3
    assert Client(url).get_balance(Pubkey.from_string(out.get("receiver", ""))).value == SENT
