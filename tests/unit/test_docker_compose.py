"""docker-compose.yml cannot run here (no Docker engine): keep it honest against the code."""

import json
import re
import shlex
import tomllib
from pathlib import Path, PurePosixPath

import pytest
import yaml

from actors.entrypoints.cli.main import build_parser
from actors.infra import config as cfg

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
    assert 'minter = "actors.entrypoints.cli.main:main"' in pyproject


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


def dockerfile_steps() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments cut."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [ln.strip() for ln in text.splitlines()]
    return [
        (ln.split(None, 1)[0].upper(), ln.split(None, 1)[1] if " " in ln else "")
        for ln in lines
        if ln and not ln.startswith("#")
    ]


def copy_targets(args: str, workdir: PurePosixPath) -> dict[str, PurePosixPath]:
    """Where a COPY puts each build-context source in the image, by Docker's rules: a
    directory's contents become the destination; a file goes into a destination ending in "/"
    (or ".", or shared by several sources) under its own name, otherwise it is the destination."""
    parts = json.loads(args) if args.startswith("[") else shlex.split(args)
    *sources, dest = [a for a in parts if not a.startswith("--")]  # --chown, --chmod ...
    target = workdir / dest
    into = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    return {
        src.rstrip("/"): target / src if into and not (ROOT / src).is_dir() else target
        for src in sources
    }


@pytest.fixture(scope="module")
def image():
    """(workdir at run time, each copied source's path in the image, sources copied before
    `pip install`), from the Dockerfile's own lines."""
    workdir, landed, before_install = PurePosixPath("/"), {}, None
    for op, args in dockerfile_steps():
        if op == "WORKDIR":
            workdir = workdir / args
        elif op == "COPY":
            landed |= copy_targets(args, workdir)
        elif op == "RUN" and "pip install" in args and before_install is None:
            before_install = set(landed)
    return workdir, landed, before_install or set()


def test_image_copies_every_package(image):
    workdir, landed, _ = image
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    # what `pip install .` reads, the packages, and what `minter migrate` finds beside its cwd
    for path in ["pyproject.toml", "README.md", *packages, "migrations", "alembic.ini"]:
        assert (ROOT / path).exists(), path
        assert landed.get(path) == workdir / path, (path, landed.get(path))


def test_image_installs_after_copying_the_packages(image):
    _, _, before_install = image
    assert {"pyproject.toml", "README.md", "minter", "ledger", "actors"} <= before_install
