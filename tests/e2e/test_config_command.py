"""`minter config`: the effective settings by section, every variable listed, secrets masked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from solders.keypair import Keypair

from actors.infra.config import ALL_VARIABLES, FIELD_VARIABLES, MASK
from actors.infra.logs import secret_forms
from minter.keys import write_keypair_file

ROOT = Path(__file__).resolve().parents[2]
MINT_SECRET = "m" * 20 + "MINT-SECRET-VALUE" + "m" * 20
JWT_SECRET = "j" * 20 + "JWT-SECRET-VALUE" + "j" * 20
DB_PASSWORD = "db-password-value"


@pytest.fixture
def payer(tmp_path):
    kp = Keypair()
    return kp, write_keypair_file(kp, tmp_path / "payer.json")


@pytest.fixture
def env(tmp_path, payer):
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DATABASE_URL": f"postgresql://minter:{DB_PASSWORD}@127.0.0.1:5432/ledger",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SOLANA_RPC_URL": "http://127.0.0.1:8899",
        "SOLANA_PAYER_KEYPAIR": str(payer[1]),
        "MINT_KEY_SECRET": MINT_SECRET,
        "JWT_SECRET": JWT_SECRET,
        "MINT_SEND_RATE": "250",
        "LOG_LEVEL": "debug",
    }


def minter_config(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "actors.entrypoints.cli", "config", *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def secrets_of(payer: Keypair) -> set[str]:
    forms = {MINT_SECRET, JWT_SECRET, DB_PASSWORD, str(payer)}  # str(Keypair): base58 secret
    return forms | secret_forms(bytes(payer))


@pytest.mark.parametrize("args", [(), ("--json",)], ids=["table", "json"])
def test_no_secret_from_the_environment_is_printed(env, payer, args):
    res = minter_config(env, *args)
    assert res.returncode == 0, res.stderr
    for secret in secrets_of(payer[0]):
        assert secret not in res.stdout + res.stderr
    assert MASK in res.stdout


def test_the_table_lists_every_variable_by_section(env, payer):
    res = minter_config(env)
    assert res.returncode == 0, res.stderr
    rows = {line.split()[1]: line.split() for line in res.stdout.splitlines()[2:]}
    assert set(ALL_VARIABLES) <= set(rows)
    assert rows["MINT_SEND_RATE"][::2] == ["minting.send_rate", "250"]
    assert rows["LOG_LEVEL"][2] == "DEBUG"
    assert rows["JWT_ISSUER"][2] == "-"  # not set
    assert rows["MONITORING_DATABASE_URL"][2] == rows["DATABASE_URL"][2]  # its default
    sections = [line.split()[0].split(".")[0] for line in res.stdout.splitlines()[2:]]
    assert sections == sorted(sections, key=sections.index)  # each section's rows together


def test_json_is_the_settings_by_section(env, payer):
    res = minter_config(env, "--json")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert {(s, f) for s, fields in shown.items() for f in fields} == set(FIELD_VARIABLES)
    assert shown["signer"]["payer"] == str(payer[0].pubkey())
    assert shown["signer"]["mint_key_secret"] == shown["api"]["jwt_secret"] == MASK
    assert shown["database"]["url"] == f"postgresql://minter:{MASK}@127.0.0.1:5432/ledger"
    assert shown["minting"]["send_rate"] == 250 and shown["minting"]["max_attempts"] == 20


def test_an_empty_environment_shows_the_defaults(tmp_path):
    res = minter_config({"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, "--json")
    assert res.returncode == 0, res.stderr
    shown = json.loads(res.stdout)
    assert shown["database"]["url"] is None and shown["signer"]["mint_key_secret"] is None
    assert shown["signer"]["keypair_path"] == "~/.config/solana/id.json"
    assert shown["worker"] == {"metrics_port": 9191, "metrics_host": "0.0.0.0"}


def test_a_malformed_variable_still_stops_it_in_one_line(env):
    res = minter_config({**env, "JWT_SECRET": "short-secret-value"})
    assert res.returncode == 2
    assert res.stderr == "minter: JWT_SECRET: must be at least 32 characters\n"
