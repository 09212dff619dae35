"""The fee-payer pool's keys and settings: ``SOLANA_PAYER_KEYPAIRS`` (a list of files, or a
folder's ``*.json`` in name order) wins over ``SOLANA_PAYER_KEYPAIR`` (a pool of one);
``SOLANA_AUTHORITY_KEYPAIR`` defaults to the first payer; errors name the file, never the key;
``minter config`` shows public keys only."""

from __future__ import annotations

import json

import pytest
from solders.keypair import Keypair

from actors.infra import config as cfg
from actors.infra.errors import SettingsError
from minter.errors import KeypairError
from minter.keys import load_payer_pool, pool_files, write_keypair_file

SECRET = "s" * 40


@pytest.fixture
def keys(tmp_path):
    """Three keypair files whose name order (a, b, c) is not their creation order."""
    folder = tmp_path / "payers"
    pairs = {}
    for name in ("c", "a", "b"):
        kp = Keypair()
        pairs[name] = (kp, write_keypair_file(kp, folder / f"{name}.json"))
    (folder / "notes.txt").write_text("not a key")
    return folder, pairs


def test_a_folder_is_its_json_files_in_name_order(keys):
    folder, pairs = keys
    assert [p.name for p in pool_files(folder)] == ["a.json", "b.json", "c.json"]
    pool = load_payer_pool(str(folder))
    assert [p.pubkey for p in pool] == [pairs[n][0].pubkey() for n in "abc"]


def test_a_list_is_taken_in_its_own_order(keys):
    _, pairs = keys
    spec = f"{pairs['c'][1]}, {pairs['a'][1]}"
    assert [p.pubkey for p in load_payer_pool(spec)] == [
        pairs["c"][0].pubkey(),
        pairs["a"][0].pubkey(),
    ]


def test_loader_errors_name_the_file_never_the_key(keys, tmp_path):
    folder, pairs = keys
    with pytest.raises(KeypairError, match="not found: .*missing.json"):
        load_payer_pool(f"{pairs['a'][1]},{tmp_path / 'missing.json'}")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KeypairError, match="holds no \\*.json file"):
        load_payer_pool(empty)
    with pytest.raises(KeypairError, match="hold the same key") as twice:
        load_payer_pool(f"{pairs['a'][1]},{pairs['a'][1]}")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([1, 2, 3]))
    with pytest.raises(KeypairError, match="bad.json") as short:
        load_payer_pool(f"{pairs['b'][1]},{bad}")
    secret = str(pairs["a"][0])  # str(Keypair) is the base58 secret key
    for exc in (twice.value, short.value):
        assert secret not in str(exc) and str(list(bytes(pairs["a"][0]))) not in str(exc)


def env(**more):
    return {"SOLANA_RPC_URL": "http://127.0.0.1:8899", "MINT_KEY_SECRET": SECRET, **more}


def test_the_pool_wins_and_the_authority_defaults_to_its_first_payer(keys, tmp_path):
    folder, pairs = keys
    single = Keypair()
    path = write_keypair_file(single, tmp_path / "single.json")
    s = cfg.load_settings(
        env(SOLANA_PAYER_KEYPAIRS=str(folder), SOLANA_PAYER_KEYPAIR=str(path)), require=cfg.CHAIN
    )
    first = pairs["a"][0].pubkey()
    assert [p.pubkey for p in s.signer.payers] == [pairs[n][0].pubkey() for n in "abc"]
    assert s.signer.payer.pubkey == first and s.signer.authority.pubkey == first
    assert s.signer.payer_min_lamports == 50_000_000


def test_a_pool_alone_needs_no_default_keypair_file(keys, monkeypatch, tmp_path):
    folder, pairs = keys
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/solana/id.json here
    s = cfg.load_settings(env(SOLANA_PAYER_KEYPAIRS=str(folder)), require=cfg.CHAIN)
    assert len(s.signer.payers) == 3


def test_one_payer_is_a_pool_of_one_and_its_own_authority(tmp_path):
    kp = Keypair()
    path = write_keypair_file(kp, tmp_path / "id.json")
    s = cfg.load_settings(env(SOLANA_PAYER_KEYPAIR=str(path)), require=cfg.CHAIN)
    assert [p.pubkey for p in s.signer.payers] == [kp.pubkey()]
    assert s.signer.authority.pubkey == kp.pubkey()


def test_an_authority_of_its_own_and_the_minimum(keys, tmp_path):
    folder, _ = keys
    auth = Keypair()
    path = write_keypair_file(auth, tmp_path / "authority.json")
    s = cfg.load_settings(
        env(
            SOLANA_PAYER_KEYPAIRS=str(folder),
            SOLANA_AUTHORITY_KEYPAIR=str(path),
            MINT_PAYER_MIN_LAMPORTS="1000",
        ),
        require=cfg.CHAIN,
    )
    assert s.signer.authority.pubkey == auth.pubkey()
    assert auth.pubkey() not in [p.pubkey for p in s.signer.payers]
    assert s.signer.payer_min_lamports == 1000


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("SOLANA_PAYER_KEYPAIRS", "/nowhere/a.json", "not found"),
        ("SOLANA_AUTHORITY_KEYPAIR", "/nowhere/auth.json", "not found"),
        ("MINT_PAYER_MIN_LAMPORTS", "-1", "must not be negative"),
    ],
)
def test_a_bad_pool_setting_names_its_variable(name, value, says):
    with pytest.raises(SettingsError) as err:
        cfg.load_settings(env(**{name: value}))
    assert str(err.value).startswith(name) and says in str(err.value)


def test_config_shows_public_keys_only(keys, tmp_path):
    folder, pairs = keys
    s = cfg.load_settings(env(SOLANA_PAYER_KEYPAIRS=str(folder)), require=cfg.CHAIN)
    shown = s.shown()["signer"]
    assert shown["payers"] == [str(pairs[n][0].pubkey()) for n in "abc"]
    assert shown["authority"] == str(pairs["a"][0].pubkey())
    assert shown["payers_source"] == str(folder)
    text = json.dumps(s.shown())
    for kp, _ in pairs.values():
        assert str(kp) not in text and str(list(bytes(kp))) not in text
