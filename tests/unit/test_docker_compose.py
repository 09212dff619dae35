"""docker-compose.yml cannot run here (no Docker engine): keep it honest against the code."""

from pathlib import Path

import pytest
import yaml

from actors import settings as cfg
from actors.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services(compose):
    assert set(compose["services"]) == {"postgres", "redis", "migrate", "worker", "api"}


@pytest.mark.parametrize(
    "service,command", [("migrate", "migrate"), ("worker", "worker"), ("api", "api")]
)
def test_commands_parse_with_the_real_cli(compose, service, command):
    argv = compose["services"][service]["command"]
    args = build_parser().parse_args(argv)
    assert args.command == command


def test_image_entrypoint_is_the_console_command():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["minter"]' in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'minter = "actors.cli:main"' in pyproject


@pytest.mark.parametrize("service", ["migrate", "worker", "api"])
def test_environment_names_are_settings(compose, service):
    env = compose["services"][service]["environment"]
    assert set(env) <= set(cfg.ALL_VARIABLES), set(env) - set(cfg.ALL_VARIABLES)


@pytest.mark.parametrize(
    "service,needs",
    [
        ("migrate", cfg.DATABASE),
        ("worker", cfg.DATABASE + cfg.QUEUE + cfg.CHAIN),
        ("api", cfg.DATABASE + cfg.QUEUE + cfg.CHAIN + cfg.API),
    ],
)
def test_each_service_gets_what_its_command_requires(compose, service, needs):
    assert set(needs) <= set(compose["services"][service]["environment"])


def test_urls_point_at_the_compose_services(compose):
    env = compose["services"]["worker"]["environment"]
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    pg = compose["services"]["postgres"]["environment"]
    assert f"{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@" in env["DATABASE_URL"]
    assert env["DATABASE_URL"].endswith("/" + pg["POSTGRES_DB"])


def test_payer_keypair_is_mounted_where_the_setting_points(compose):
    svc = compose["services"]["worker"]
    target = svc["environment"]["SOLANA_PAYER_KEYPAIR"]
    assert any(v.rsplit(":", 2)[1] == target for v in svc["volumes"])


def test_image_copies_every_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for pkg in ("minter", "ledger", "actors", "migrations", "alembic.ini"):
        assert pkg in dockerfile
        assert (ROOT / pkg).exists()
