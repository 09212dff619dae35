"""The one settings model: its sections, defaults and checks beyond test_settings.py."""

import pytest
from pydantic import SecretBytes

from actors.infra import config as cfg
from actors.infra.errors import SettingsError
from actors.workflows.report import DEFAULT_INTERVAL


def test_tuning_defaults_are_the_documented_ones():
    s = cfg.load_settings({})
    assert (s.minting.send_rate, s.minting.max_attempts) == (100, 20)
    assert (s.minting.pending_age, s.minting.confirm_interval, s.minting.sweep_interval) == (
        30.0,
        0.25,
        5.0,
    )
    assert s.minting.metrics_interval == DEFAULT_INTERVAL == 15.0
    chain = s.chain
    assert (chain.rpc_timeout, chain.skip_preflight, chain.blockhash_ttl) == (10.0, True, 0.2)
    assert chain.compute_unit_price is None and s.database.pool_size == 16
    assert (s.worker.metrics_port, s.worker.metrics_host) == (9191, "0.0.0.0")
    assert (s.logging.format, s.logging.level) == (None, "INFO")


def test_every_variable_sets_its_field():
    env = {
        "DATABASE_POOL_SIZE": "7",
        "SOLANA_RPC_TIMEOUT": "2.5",
        "SOLANA_SKIP_PREFLIGHT": "false",
        "SOLANA_BLOCKHASH_TTL": "1",
        "SOLANA_COMPUTE_UNIT_PRICE": "1000",
        "MINT_CONFIRM_INTERVAL": "0.5",
        "MINT_SWEEP_INTERVAL": "9",
        "MINT_METRICS_INTERVAL": "1",
        "WORKER_METRICS_PORT": "9999",
        "WORKER_METRICS_HOST": "127.0.0.1",
        "LOG_FORMAT": "console",
        "LOG_LEVEL": "warning",
        "JWT_ISSUER": "platform",
        "JWT_AUDIENCE": "minter",
        "WEBHOOK_URL": "https://hooks.example/minter",
        "WEBHOOK_ALLOW_HTTP_LOOPBACK": "1",
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_RETRY_SCHEDULE": "0, 1,2.5",
        "WEBHOOK_RATE_LIMIT": "5",
        "WEBHOOK_DISABLE_AFTER": "60",
    }
    s = cfg.load_settings(env)
    assert s.database.pool_size == 7
    assert (s.chain.rpc_timeout, s.chain.skip_preflight) == (2.5, False)
    assert (s.chain.blockhash_ttl, s.chain.compute_unit_price) == (1.0, 1000)
    assert (s.minting.confirm_interval, s.minting.sweep_interval) == (0.5, 9.0)
    assert s.minting.metrics_interval == 1.0
    assert (s.worker.metrics_port, s.worker.metrics_host) == (9999, "127.0.0.1")
    assert (s.logging.format, s.logging.level) == ("console", "WARNING")
    assert (s.api.jwt_issuer, s.api.jwt_audience) == ("platform", "minter")
    wh = s.webhooks
    assert (wh.url, wh.allow_http_loopback, wh.timeout) == ("https://hooks.example/minter", True, 2)
    assert (wh.schedule, wh.rate_limit, wh.disable_after) == ((0.0, 1.0, 2.5), 5, 60.0)


def test_issue_19_settings():
    s = cfg.load_settings(
        {
            "SOLANA_RPC_URLS": "http://a.example:1,https://b.example/k",
            "SOLANA_COMPUTE_UNIT_PRICE": "auto",
            "SOLANA_MAX_PRIORITY_LAMPORTS": "5000",
            "MINT_SEND_RATE_MIN": "2",
            "MINT_SEND_RATE_MAX": "300",
        }
    )
    assert s.chain.rpc_urls == ("http://a.example:1", "https://b.example/k")
    assert s.chain.rpc_url == "http://a.example:1"  # the first stands for SOLANA_RPC_URL
    assert (s.chain.compute_unit_price, s.chain.max_priority_lamports) == ("auto", 5000)
    assert (s.minting.send_rate_min, s.minting.send_rate_max) == (2.0, 300.0)
    defaults = cfg.load_settings({})
    assert defaults.minting.send_rate_max >= 1000  # a local validator is not capped at 10/s
    assert cfg.load_settings({"SOLANA_COMPUTE_UNIT_PRICE": "1500"}).chain.compute_unit_price == 1500


def test_webhook_defaults_are_crossmints():
    wh = cfg.load_settings({}).webhooks
    assert wh.schedule == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert (wh.timeout, wh.allow_http_loopback, wh.url, wh.secret) == (15, False, None, None)


@pytest.mark.parametrize(
    "name,value",
    [
        ("DATABASE_POOL_SIZE", "many"),
        ("SOLANA_RPC_TIMEOUT", "inf"),
        ("SOLANA_SKIP_PREFLIGHT", "perhaps"),
        ("SOLANA_COMPUTE_UNIT_PRICE", "-5"),
        ("MINT_SWEEP_INTERVAL", "nan"),
        ("MINT_METRICS_INTERVAL", "-1"),
        ("WORKER_METRICS_PORT", "70000"),
        ("LOG_FORMAT", "xml"),
        ("LOG_LEVEL", "loud"),
        ("WEBHOOK_URL", "ftp://hooks.example/x"),
        ("WEBHOOK_SECRET", "whsec_tooshortsecretvalue"),
        ("WEBHOOK_SECRET", "plain-secret-without-prefix-0123456789"),
        ("WEBHOOK_TIMEOUT", "-1"),
        ("WEBHOOK_RETRY_SCHEDULE", "0,soon"),
        ("WEBHOOK_RETRY_SCHEDULE", "0,-5"),
        ("WEBHOOK_RATE_LIMIT", "0"),
        ("MINT_SEND_RATE_MAX", "-1"),
        ("MINT_SEND_RATE_STEP", "none"),
        ("SOLANA_RPC_URLS", "ftp://x"),
        ("SOLANA_COMPUTE_UNIT_PRICE", "fast"),
        ("SOLANA_PRIORITY_FEE_PERCENTILE", "101"),
        ("SOLANA_MAX_PRIORITY_LAMPORTS", "-3"),
    ],
)
def test_a_malformed_knob_is_named_in_one_line(name, value):
    with pytest.raises(SettingsError) as err:
        cfg.load_settings({name: value})
    assert err.value.name == name
    assert str(err.value).startswith(f"{name}: ") and "\n" not in str(err.value)
    assert value not in err.value.problem


def test_a_blank_variable_is_unset():
    s = cfg.load_settings({"DATABASE_URL": "  ", "MINT_SEND_RATE": ""})
    assert s.database.url is None and s.minting.send_rate == 100


def test_secrets_stay_secret_until_revealed():
    s = cfg.load_settings({"MINT_KEY_SECRET": "k" * 40, "JWT_SECRET": "j" * 40})
    assert isinstance(s.signer.mint_key_secret, SecretBytes)
    raw = cfg.reveal(s.signer.mint_key_secret)
    assert raw == b"k" * 40 and "k" * 40 not in repr(raw) + str(raw)
    assert cfg.reveal(None) is None


def test_require_names_the_first_missing_variable():
    s = cfg.load_settings({"DATABASE_URL": "postgresql://u@h/db"})
    s.require(cfg.DATABASE)
    with pytest.raises(SettingsError) as err:
        s.require(cfg.DATABASE + cfg.QUEUE)
    assert str(err.value) == "REDIS_URL: is not set"


def test_unknown_requirements_are_a_bug():
    with pytest.raises(ValueError):
        cfg.load_settings({}, require=("NO_SUCH_SETTING",))


def test_the_model_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("MINT_SEND_RATE", "42")
    monkeypatch.setenv("SOLANA_COMMITMENT", "finalized")
    s = cfg.Settings()
    assert (s.minting.send_rate, s.chain.commitment) == (42, "finalized")
    assert cfg.load_settings().minting.send_rate == 42


def test_a_given_mapping_is_read_alone(monkeypatch):
    monkeypatch.setenv("MINT_SEND_RATE", "42")
    assert cfg.load_settings({}).minting.send_rate == 100


def test_each_variable_names_one_setting():
    assert len(cfg.ALL_VARIABLES) == len(set(cfg.ALL_VARIABLES))
    # one variable gives two fields: the key(s) and the file(s) they came from
    shared = {n for n in cfg.ALL_VARIABLES if list(cfg.FIELD_VARIABLES.values()).count(n) > 1}
    assert shared == {cfg.PAYER_VARIABLE, cfg.PAYERS_VARIABLE}
    assert cfg.VARIABLES[cfg.PAYER_VARIABLE] == ("signer", "payer")  # what `require` checks
