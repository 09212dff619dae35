"""Alembic, run from code: ``minter migrate`` and the tests call these."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from ledger.db import sqlalchemy_url
from ledger.errors import MigrationError

_CANDIDATES = (
    Path(__file__).resolve().parent.parent / "migrations",  # a checkout (editable install)
    Path.cwd() / "migrations",  # an image that copies migrations/ beside the app
)


def _config(url: str) -> Config:
    for location in _CANDIDATES:
        if (location / "env.py").exists():
            break
    else:
        raise MigrationError("migrations/ not found beside the ledger package or here")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    # ConfigParser interpolation: a literal % in a password must be doubled
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(_config(url), revision)


def current(url: str) -> str | None:

    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
