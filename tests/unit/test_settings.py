"""Each setting, missing or malformed, stops the process with one line naming it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from solders.keypair import Keypair

from actors.infra.config import ALL_VARIABLES, CHAIN, DATABASE, QUEUE, load_settings
from actors.infra.errors import SettingsError
from minter.keys import write_keypair_file

GOOD_SECRET = "s" * 40
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def keypair_path(tmp_path):
    kp = Keypair()
    return kp, write_keypair_file(kp, tmp_path / "payer.json")


@pytest.fixture
def good_env(keypair_path):
    return {
        "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SOLANA_RPC_URL": "http://127.0.0.1:8899",
        "SOLANA_PAYER_KEYPAIR": str(keypair_path[1]),
        "MINT_KEY_SECRET": GOOD_SECRET,
        "NFT_STANDARD": "token2022",
        "SOLANA_COMMITMENT": "finalized",
        "JWT_SECRET": "j" * 40,
    }


EVERYTHING = DATABASE + CHAIN + QUEUE + ("JWT_SECRET",)


def test_good_environment_loads(good_env, keypair_path):
    s = load_settings(good_env, require=EVERYTHING)
    assert s.signer.payer.pubkey == keypair_path[0].pubkey()
    assert s.minting.standard == "token2022" and s.chain.commitment == "finalized"
    assert s.database.monitoring_url == good_env["DATABASE_URL"]


def test_defaults(good_env):
    env = {k: v for k, v in good_env.items() if k not in ("NFT_STANDARD", "SOLANA_COMMITMENT")}
    s = load_settings(env, require=EVERYTHING)
    assert (s.minting.standard, s.chain.commitment) == ("core", "confirmed")


@pytest.mark.parametrize("name", EVERYTHING)
def test_missing_required_variable_is_named(good_env, name, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/solana/id.json to fall back on
    env = dict(good_env)
    del env[name]
    with pytest.raises(SettingsError) as err:
        load_settings(env, require=EVERYTHING)
    assert err.value.name == name
    assert str(err.value).startswith(f"{name}: ")
    assert "\n" not in str(err.value)


MALFORMED = {
    "DATABASE_URL": ["mysql://h/db", "postgresql://127.0.0.1:5432/", "postgresql://h:notaport/db"],
    "MONITORING_DATABASE_URL": ["http://h/db"],
    "REDIS_URL": ["http://127.0.0.1:6379", "redis://:99999999/0"],
    "SOLANA_RPC_URL": ["ws://127.0.0.1:8900", "127.0.0.1:8899"],
    "SOLANA_PAYER_KEYPAIR": ["/nonexistent/id.json"],
    "MINT_KEY_SECRET": ["short"],
    "JWT_SECRET": ["short"],
    "NFT_STANDARD": ["erc721"],
    "SOLANA_COMMITMENT": ["max"],
}


@pytest.mark.parametrize("name,value", [(n, v) for n, vals in MALFORMED.items() for v in vals])
def test_malformed_variable_is_named_without_its_value(good_env, name, value):
    env = {**good_env, name: value}
    with pytest.raises(SettingsError) as err:
        load_settings(env, require=EVERYTHING)
    assert err.value.name == name
    if name in ("MINT_KEY_SECRET", "JWT_SECRET"):
        assert value not in str(err.value)


@pytest.mark.parametrize(
    "content",
    ["not json", json.dumps([1, 2, 3]), json.dumps(["a"] * 64), json.dumps([300] * 64)],
)
def test_bad_keypair_file_is_named(good_env, tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SettingsError) as err:
        load_settings({**good_env, "SOLANA_PAYER_KEYPAIR": str(path)}, require=EVERYTHING)
    assert err.value.name == "SOLANA_PAYER_KEYPAIR"


def test_payer_defaults_to_solana_cli_path(good_env, tmp_path, monkeypatch):
    kp = Keypair()
    write_keypair_file(kp, tmp_path / ".config/solana/id.json")
    monkeypatch.setenv("HOME", str(tmp_path))
    env = {k: v for k, v in good_env.items() if k != "SOLANA_PAYER_KEYPAIR"}
    assert load_settings(env, require=EVERYTHING).signer.payer.pubkey == kp.pubkey()


def test_only_what_the_command_needs_is_required():
    s = load_settings({"DATABASE_URL": "postgresql://u@h/db"}, require=DATABASE)
    assert s.chain.rpc_url is None and s.signer.payer is None


def test_secrets_never_in_repr(good_env, keypair_path):
    s = load_settings(good_env, require=EVERYTHING)
    text = repr(s) + str(s.signer.payer) + repr(s.signer.mint_key_secret) + str(s.api.jwt_secret)
    assert GOOD_SECRET not in text and "j" * 40 not in text
    assert str(keypair_path[0]) not in text  # str(Keypair) is the base58 secret key


def test_command_line_prints_one_line_naming_the_variable(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "actors.entrypoints.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert res.returncode == 2
    assert res.stderr.strip() == "minter: DATABASE_URL: is not set"


def test_every_documented_variable_is_known():
    assert set(ALL_VARIABLES) >= {
        "DATABASE_URL",
        "REDIS_URL",
        "SOLANA_RPC_URL",
        "SOLANA_PAYER_KEYPAIR",
        "MINT_KEY_SECRET",
        "NFT_STANDARD",
        "SOLANA_COMMITMENT",
        "JWT_SECRET",
        "MONITORING_DATABASE_URL",
    }
