"""Settings from the environment (DESIGN.md, Interfaces), validated at start.

Each command asks only for what it uses (``minter migrate`` needs ``DATABASE_URL`` alone), and
a variable that is set is always checked. A problem stops the process with one line naming
the variable; no value of a secret is ever put in a message.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from actors.infra.errors import SettingsError
from minter.errors import KeypairError
from minter.keys import DEFAULT_KEYPAIR_PATH, Payer, load_keypair_file

STANDARDS = ("metaplex", "token2022")
COMMITMENTS = ("processed", "confirmed", "finalized")
DEFAULT_STANDARD = "metaplex"
DEFAULT_COMMITMENT = "confirmed"
MIN_SECRET_LENGTH = 32  # HS256 and the HMAC seed both want at least 256 bits

# Groups a command can ask for.
DATABASE = ("DATABASE_URL",)
CHAIN = ("SOLANA_RPC_URL", "SOLANA_PAYER_KEYPAIR", "MINT_KEY_SECRET")
QUEUE = ("REDIS_URL",)
API = ("JWT_SECRET",)
ALL_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "SOLANA_RPC_URL",
    "SOLANA_PAYER_KEYPAIR",
    "MINT_KEY_SECRET",
    "NFT_STANDARD",
    "SOLANA_COMMITMENT",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "MONITORING_DATABASE_URL",
)


class _Secret(bytes):
    """Bytes that never show themselves in ``repr`` or ``str``."""

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None
    redis_url: str | None = None
    rpc_url: str | None = None
    payer: Payer | None = None
    mint_key_secret: bytes | None = field(default=None, repr=False)
    standard: str = DEFAULT_STANDARD
    commitment: str = DEFAULT_COMMITMENT
    jwt_secret: bytes | None = field(default=None, repr=False)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    monitoring_database_url: str | None = None


def _url(name: str, value: str, schemes: tuple[str, ...], *, need_path: bool = False) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise SettingsError(
            name, f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
        )
    if not parts.hostname and parts.scheme != "unix":
        raise SettingsError(name, "has no host")
    if need_path and parts.path.strip("/") == "":
        raise SettingsError(name, "has no database name")
    try:
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        raise SettingsError(name, "has a malformed port") from None
    return value


def _secret(name: str, value: str) -> bytes:
    if len(value) < MIN_SECRET_LENGTH:
        raise SettingsError(name, f"must be at least {MIN_SECRET_LENGTH} characters")
    return _Secret(value.encode())


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}")
    return value


def _payer(name: str, value: str) -> Payer:
    try:
        return load_keypair_file(Path(value))
    except KeypairError as exc:
        raise SettingsError(name, str(exc)) from None


_PG_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
_PARSERS = {
    "DATABASE_URL": lambda n, v: _url(n, v, _PG_SCHEMES, need_path=True),
    "MONITORING_DATABASE_URL": lambda n, v: _url(n, v, _PG_SCHEMES, need_path=True),
    "REDIS_URL": lambda n, v: _url(n, v, ("redis", "rediss", "unix")),
    "SOLANA_RPC_URL": lambda n, v: _url(n, v, ("http", "https")),
    "SOLANA_PAYER_KEYPAIR": _payer,
    "MINT_KEY_SECRET": _secret,
    "JWT_SECRET": _secret,
    "NFT_STANDARD": lambda n, v: _choice(n, v, STANDARDS),
    "SOLANA_COMMITMENT": lambda n, v: _choice(n, v, COMMITMENTS),
    "JWT_ISSUER": lambda n, v: v,
    "JWT_AUDIENCE": lambda n, v: v,
}
_FIELDS = {
    "DATABASE_URL": "database_url",
    "MONITORING_DATABASE_URL": "monitoring_database_url",
    "REDIS_URL": "redis_url",
    "SOLANA_RPC_URL": "rpc_url",
    "SOLANA_PAYER_KEYPAIR": "payer",
    "MINT_KEY_SECRET": "mint_key_secret",
    "JWT_SECRET": "jwt_secret",
    "NFT_STANDARD": "standard",
    "SOLANA_COMMITMENT": "commitment",
    "JWT_ISSUER": "jwt_issuer",
    "JWT_AUDIENCE": "jwt_audience",
}


def load_settings(env: Mapping[str, str] | None = None, *, require: Iterable[str] = ()) -> Settings:
    """Read and check the environment; raise :class:`SettingsError` on the first problem.

    ``require`` names the variables the calling command cannot run without.
    ``SOLANA_PAYER_KEYPAIR`` falls back to ``~/.config/solana/id.json``.
    """
    env = os.environ if env is None else env
    required = set(require)
    unknown = required - set(ALL_VARIABLES)
    if unknown:
        raise ValueError(f"unknown settings asked for: {sorted(unknown)}")
    values: dict[str, object] = {}
    for name in ALL_VARIABLES:
        raw = env.get(name, "").strip()
        if not raw and name == "SOLANA_PAYER_KEYPAIR" and name in required:
            raw = str(DEFAULT_KEYPAIR_PATH)
        if not raw:
            if name in required:
                raise SettingsError(name, "is not set")
            continue
        values[_FIELDS[name]] = _PARSERS[name](name, raw)
    if "monitoring_database_url" not in values and "database_url" in values:
        values["monitoring_database_url"] = values["database_url"]
    return Settings(**values)
