"""One settings model (pydantic-settings) for every command, read from the environment.

The variables keep their flat names (a contract: DESIGN.md, Interfaces; README, Settings); each
is the alias of one field of a section, so ``settings.database.url`` is ``DATABASE_URL``. Each
command asks only for what it uses (``minter migrate`` needs ``DATABASE_URL`` alone) and a
variable that is set is always checked. A problem stops the process with one line naming the
variable; no value of a secret is ever put in a message, and secrets stay ``SecretBytes`` until
the call that needs them (:func:`reveal`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretBytes,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from actors.infra.errors import SettingsError
from actors.infra.sendrate import DEFAULT_MAX as SENDRATE_MAX
from actors.infra.sendrate import DEFAULT_MIN as SENDRATE_MIN
from actors.infra.sendrate import DEFAULT_STEP as SENDRATE_STEP
from actors.infra.webhook_http import (
    DEFAULT_DISABLE_AFTER,
    DEFAULT_RATE_LIMIT,
    DEFAULT_SCHEDULE,
    DEFAULT_TIMEOUT,
    check_secret,
)
from minter.errors import KeypairError
from minter.fees import DEFAULT_MAX_PRIORITY_LAMPORTS, DEFAULT_PERCENTILE, DEFAULT_STEP
from minter.keys import DEFAULT_KEYPAIR_PATH, Payer, load_keypair_file, load_payer_pool

MIN_SECRET_LENGTH = 32  # HS256 and the HMAC seed both want at least 256 bits
MASK = "**********"  # what `minter config` shows for a secret
DEFAULT_STANDARD = "core"  # NFT_STANDARD when a request names none (DESIGN.md: new deployments)
DEFAULT_COMMITMENT = "confirmed"  # what a read and a confirmation wait for
DEFAULT_POOL_SIZE = 16  # ledger connections a process keeps (a worker: one per thread, no churn)
DEFAULT_RPC_TIMEOUT = 10.0  # seconds for one RPC request
DEFAULT_BLOCKHASH_TTL = 0.2  # seconds a fetched blockhash is reused
DEFAULT_SEND_RATE = 100  # sends per second across all workers at start (legacy: 10, see README)
DEFAULT_SEND_RATE_MIN = SENDRATE_MIN  # the adaptive rate's floor and ceiling, and its step
DEFAULT_SEND_RATE_MAX = SENDRATE_MAX  # (actors.infra.sendrate): a local validator is not capped
DEFAULT_SEND_RATE_STEP = SENDRATE_STEP
DEFAULT_MAX_ATTEMPTS = 20  # as actors.workflows.lifecycle.DEFAULT_MAX_ATTEMPTS
DEFAULT_PENDING_AGE = 30.0  # seconds before the sweeper re-enqueues a pending row
DEFAULT_CONFIRM_INTERVAL = 0.25  # seconds between confirmer passes
DEFAULT_SWEEP_INTERVAL = 5.0  # seconds between sweeper passes
DEFAULT_METRICS_INTERVAL = 15.0  # seconds between reports, as actors.workflows.report
DEFAULT_METRICS_PORT = 9191  # Dramatiq's Prometheus middleware's own default
DEFAULT_METRICS_HOST = "0.0.0.0"  # every interface: the scraper runs elsewhere
DEFAULT_LOG_LEVEL = "INFO"  # DEBUG also shows the per-request library lines
PAYER_VARIABLE = "SOLANA_PAYER_KEYPAIR"  # default path: minter.keys.DEFAULT_KEYPAIR_PATH
PAYERS_VARIABLE = "SOLANA_PAYER_KEYPAIRS"  # the fee-payer pool: files, or a folder; wins
AUTHORITY_VARIABLE = "SOLANA_AUTHORITY_KEYPAIR"  # default: the first payer of the pool
DEFAULT_PAYER_MIN_LAMPORTS = 50_000_000  # as actors.workflows.payers.DEFAULT_MIN_LAMPORTS

# ---------------------------------------------------------------------------------------------
# value types: each check raises ValueError with a message that never quotes the value


def _url(schemes: tuple[str, ...], *, need_path: bool = False) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in schemes:
            starts = " or ".join(s + "://" for s in schemes)
            raise ValueError(f"must be a URL starting with {starts}")
        if not parts.hostname and parts.scheme != "unix":
            raise ValueError("has no host")
        if need_path and parts.path.strip("/") == "":
            raise ValueError("has no database name")
        try:
            parts.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            raise ValueError("has a malformed port") from None
        return value

    return AfterValidator(check)


def _long_enough(secret: SecretBytes) -> SecretBytes:
    if len(secret.get_secret_value().decode(errors="replace")) < MIN_SECRET_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
    return secret


def _read_payer(value: Any) -> Any:
    if value is None or isinstance(value, Payer):
        return value
    try:
        return load_keypair_file(Path(value))
    except KeypairError as exc:  # names the file, never the key
        raise ValueError(str(exc)) from None


def _read_pool(value: Any) -> Any:
    if value is None or (isinstance(value, tuple) and all(isinstance(p, Payer) for p in value)):
        return value
    try:
        return load_payer_pool(value)
    except KeypairError as exc:  # names the file, never the key
        raise ValueError(str(exc)) from None


def _webhook_secret(secret: SecretBytes) -> SecretBytes:
    check_secret(secret.get_secret_value().decode(errors="replace"))
    return secret


def _schedule(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = tuple(float(p) for p in value.split(","))
        except ValueError:
            raise ValueError("must be comma-separated seconds, e.g. 0,5,300") from None
    if not value or any(not (0 <= v < float("inf")) for v in value):
        raise ValueError("must be one or more non-negative seconds")
    return value


PostgresUrl = Annotated[str, _url(("postgresql", "postgres", "postgresql+psycopg"), need_path=True)]
RedisUrl = Annotated[str, _url(("redis", "rediss", "unix"))]
RpcUrl = Annotated[str, _url(("http", "https"))]
Secret = Annotated[SecretBytes, AfterValidator(_long_enough)]
PayerKey = Annotated[Payer, BeforeValidator(_read_payer)]
PayerPool = Annotated[tuple[Payer, ...], BeforeValidator(_read_pool)]
Seconds = Annotated[float, Field(ge=0)]
WebhookSecret = Annotated[SecretBytes, AfterValidator(_webhook_secret)]
Schedule = Annotated[tuple[float, ...], BeforeValidator(_schedule)]
WebhookUrl = Annotated[str, _url(("http", "https"))]
Count = Annotated[int, Field(ge=0)]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]


def _var(name: str, default: Any = None, **constraints: Any) -> Any:
    """A field read from the environment variable ``name``."""
    return Field(default, validation_alias=name, **constraints)


# ---------------------------------------------------------------------------------------------
# sections


class _Section(BaseModel):
    """A group of settings; each field is read from the variable its alias names, or built by
    field name (tests)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        allow_inf_nan=False,  # "inf" seconds is not a setting
        arbitrary_types_allowed=True,  # Payer
    )


class DatabaseSettings(_Section):
    url: PostgresUrl | None = _var("DATABASE_URL")
    monitoring_url: PostgresUrl | None = _var("MONITORING_DATABASE_URL")  # default: url
    pool_size: Count = _var("DATABASE_POOL_SIZE", DEFAULT_POOL_SIZE)

    @model_validator(mode="before")
    @classmethod
    def _monitoring_defaults_to_ledger(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if not (data.get("MONITORING_DATABASE_URL") or data.get("monitoring_url")):
            url = data.get("DATABASE_URL") or data.get("url")
            if url:
                data = {**data, "MONITORING_DATABASE_URL": url}
        return data


class BrokerSettings(_Section):
    redis_url: RedisUrl | None = _var("REDIS_URL")


def _rpc_urls(value: Any) -> Any:
    if isinstance(value, str):
        value = tuple(u.strip() for u in value.split(",") if u.strip())
    check = _url(("http", "https")).func
    for url in value or ():
        check(url)
    if value is not None and len(value) == 0:
        raise ValueError("must name at least one URL")
    return value


RpcUrls = Annotated[tuple[str, ...], BeforeValidator(_rpc_urls)]


def _compute_unit_price(value: Any) -> Any:
    if value == "auto" or (isinstance(value, int) and value >= 0):
        return value
    try:
        price = int(str(value))
    except ValueError:
        price = -1
    if price < 0:
        raise ValueError("must be auto or micro-lamports per compute unit (a whole number)")
    return price


ComputeUnitPrice = Annotated[Literal["auto"] | int, BeforeValidator(_compute_unit_price)]


class ChainSettings(_Section):
    rpc_url: RpcUrl | None = _var("SOLANA_RPC_URL")
    # several endpoints, comma-separated: reads from the healthiest, sends to all (failover)
    rpc_urls: RpcUrls | None = _var("SOLANA_RPC_URLS")
    commitment: Literal["processed", "confirmed", "finalized"] = _var(
        "SOLANA_COMMITMENT", DEFAULT_COMMITMENT
    )
    rpc_timeout: Seconds = _var("SOLANA_RPC_TIMEOUT", DEFAULT_RPC_TIMEOUT)
    # mints and transfers simulate before they are signed, so preflight would run them twice
    skip_preflight: bool = _var("SOLANA_SKIP_PREFLIGHT", True)
    blockhash_ttl: Seconds = _var("SOLANA_BLOCKHASH_TTL", DEFAULT_BLOCKHASH_TTL)
    # micro-lamports per CU, or "auto": the recent fees of the transaction's writable accounts
    compute_unit_price: ComputeUnitPrice | None = _var("SOLANA_COMPUTE_UNIT_PRICE")
    max_priority_lamports: Count = _var(
        "SOLANA_MAX_PRIORITY_LAMPORTS", DEFAULT_MAX_PRIORITY_LAMPORTS
    )  # the most "auto" pays a transaction in priority fee
    priority_percentile: float = _var(
        "SOLANA_PRIORITY_FEE_PERCENTILE", DEFAULT_PERCENTILE, ge=0, le=100
    )
    priority_step: float = _var("SOLANA_PRIORITY_FEE_STEP", DEFAULT_STEP, ge=1)  # per rebuild

    @model_validator(mode="before")
    @classmethod
    def _first_of_the_urls(cls, data: Any) -> Any:
        # SOLANA_RPC_URLS alone names the endpoints; the first stands for SOLANA_RPC_URL
        if isinstance(data, dict) and not (data.get("SOLANA_RPC_URL") or data.get("rpc_url")):
            urls = data.get("SOLANA_RPC_URLS") or data.get("rpc_urls")
            first = urls.split(",")[0].strip() if isinstance(urls, str) else (urls or [None])[0]
            if first and first.startswith(("http://", "https://")):  # else its own check says
                data = {**data, "SOLANA_RPC_URL": first}
        return data


class SignerSettings(_Section):
    """Who pays and who signs. The fee payers are a pool (``SOLANA_PAYER_KEYPAIRS``: files, or
    a folder's ``*.json`` in name order), or ``SOLANA_PAYER_KEYPAIR`` alone (a pool of one);
    once read, ``payers`` is the pool either way, ``payer`` its first member and ``authority``
    the key that signs metadata, collections, delegates and lifecycle operations
    (``SOLANA_AUTHORITY_KEYPAIR``, default: the first payer). Mints are paid by the pool;
    collections, lifecycle operations and transfers by the authority."""

    # one variable, read once at start: the key, and the file it came from (what `minter config`
    # shows); `require` checks `payer`, the first field of the variable
    payer: PayerKey | None = _var(PAYER_VARIABLE)
    keypair_path: Path | None = _var(PAYER_VARIABLE, DEFAULT_KEYPAIR_PATH)  # None: the pool
    payers: PayerPool | None = _var(PAYERS_VARIABLE)
    payers_source: str | None = _var(PAYERS_VARIABLE)  # the files or folder, as given
    authority: PayerKey | None = _var(AUTHORITY_VARIABLE)
    # a payer below this is skipped (a warning and a metric) until topped up
    payer_min_lamports: Count = _var("MINT_PAYER_MIN_LAMPORTS", DEFAULT_PAYER_MIN_LAMPORTS)
    mint_key_secret: Secret | None = _var("MINT_KEY_SECRET")

    @model_validator(mode="after")
    def _pool_and_authority(self) -> SignerSettings:
        # frozen: the derived values are set once, here, as if they had been read
        pool = self.payers or ((self.payer,) if self.payer is not None else None)
        object.__setattr__(self, "payers", pool)
        if self.payers_source is not None and pool:  # the pool wins over SOLANA_PAYER_KEYPAIR
            object.__setattr__(self, "payer", pool[0])
            object.__setattr__(self, "keypair_path", None)
        if self.authority is None and pool:
            object.__setattr__(self, "authority", pool[0])
        return self


class MintingSettings(_Section):
    standard: Literal["core", "metaplex", "token2022"] = _var("NFT_STANDARD", DEFAULT_STANDARD)
    send_rate: Count = _var("MINT_SEND_RATE", DEFAULT_SEND_RATE)  # where the adaptive rate starts
    send_rate_min: float = _var("MINT_SEND_RATE_MIN", DEFAULT_SEND_RATE_MIN, gt=0)
    send_rate_max: float = _var("MINT_SEND_RATE_MAX", DEFAULT_SEND_RATE_MAX, gt=0)
    send_rate_step: float = _var("MINT_SEND_RATE_STEP", DEFAULT_SEND_RATE_STEP, gt=0)
    # signed transactions per ticket or transfer before one expired unseen fails it; every
    # row gets one attempt, so 0 is not "unlimited"
    max_attempts: int = _var("MINT_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, ge=1)
    pending_age: Seconds = _var("MINT_PENDING_AGE", DEFAULT_PENDING_AGE)
    confirm_interval: Seconds = _var("MINT_CONFIRM_INTERVAL", DEFAULT_CONFIRM_INTERVAL)
    sweep_interval: Seconds = _var("MINT_SWEEP_INTERVAL", DEFAULT_SWEEP_INTERVAL)
    metrics_interval: float = _var("MINT_METRICS_INTERVAL", DEFAULT_METRICS_INTERVAL, gt=0)


class ApiSettings(_Section):
    jwt_secret: Secret | None = _var("JWT_SECRET")
    jwt_issuer: str | None = _var("JWT_ISSUER")
    jwt_audience: str | None = _var("JWT_AUDIENCE")


class WorkerSettings(_Section):
    metrics_port: int = _var("WORKER_METRICS_PORT", DEFAULT_METRICS_PORT, ge=1, le=65535)
    metrics_host: str = _var("WORKER_METRICS_HOST", DEFAULT_METRICS_HOST)


class WebhookSettings(_Section):
    # WEBHOOK_URL with WEBHOOK_SECRET: the endpoint "default", beside those of the API
    url: WebhookUrl | None = _var("WEBHOOK_URL")
    secret: WebhookSecret | None = _var("WEBHOOK_SECRET")
    allow_http_loopback: bool = _var("WEBHOOK_ALLOW_HTTP_LOOPBACK", False)  # development only
    timeout: float = _var("WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT, gt=0)
    schedule: Schedule = _var("WEBHOOK_RETRY_SCHEDULE", DEFAULT_SCHEDULE)
    rate_limit: int = _var("WEBHOOK_RATE_LIMIT", DEFAULT_RATE_LIMIT, ge=1)  # per endpoint, /s
    disable_after: Seconds = _var("WEBHOOK_DISABLE_AFTER", DEFAULT_DISABLE_AFTER)


class LoggingSettings(_Section):
    format: Literal["json", "console"] | None = _var("LOG_FORMAT")  # None: console on a tty
    level: LogLevel = _var("LOG_LEVEL", DEFAULT_LOG_LEVEL)


# ---------------------------------------------------------------------------------------------
# the model


# The mapping :func:`load_settings` was given, read in place of os.environ while it builds.
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("environ", default=None)


class VariablesSource(PydanticBaseSettingsSource):
    """Each section's fields from their own flat variables (``DATABASE_URL``, not
    ``DATABASE__URL``) in ``env`` (default ``os.environ``); a blank value counts as unset."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str] | None) -> None:
        super().__init__(settings_cls)
        self.env = os.environ if env is None else env

    def get_field_value(self, field, field_name):  # abstract in the base; unused by __call__
        return None, field_name, False

    def __call__(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for (section, _), name in _fields(self.settings_cls).items():
            raw = (self.env.get(name) or "").strip()
            if raw:
                out.setdefault(section, {})[name] = raw
        return out


class Settings(BaseSettings):
    """Every setting of every command, by section. :func:`load_settings` builds it for a command;
    ``Settings()`` reads ``os.environ`` with no requirement."""

    model_config = SettingsConfigDict(frozen=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)
    signer: SignerSettings = Field(default_factory=SignerSettings)
    minting: MintingSettings = Field(default_factory=MintingSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_other_sources):
        # the variables keep their flat names (a contract), so one source maps them onto sections
        return (init_settings, VariablesSource(settings_cls, _environ.get()))

    def require(self, names: Iterable[str]) -> None:
        """Raise :class:`SettingsError` naming the first of ``names`` that is not set (the payer's
        default path is applied by :func:`load_settings` only)."""
        for name in names:
            section, field = VARIABLES[name]
            if getattr(getattr(self, section), field) is None:
                raise SettingsError(name, "is not set")

    def shown(self) -> dict[str, dict[str, Any]]:
        """The effective settings by section, JSON-ready: secrets and URL passwords masked, the
        payer as its public key."""
        shown = {}
        for section in type(self).model_fields:
            values = getattr(self, section)
            shown[section] = {n: _shown(getattr(values, n)) for n in type(values).model_fields}
        return shown


@cache
def _fields(settings_cls: type[BaseModel]) -> dict[tuple[str, str], str]:
    """(section, field) -> its variable, in the model's order."""
    return {
        (section, name): info.validation_alias
        for section, outer in settings_cls.model_fields.items()
        for name, info in outer.annotation.model_fields.items()
    }


FIELD_VARIABLES = _fields(Settings)
# variable -> the first (section, field) it sets, what `require` checks (reversed: first wins)
VARIABLES = {name: key for key, name in reversed(FIELD_VARIABLES.items())}
ALL_VARIABLES = tuple(dict.fromkeys(FIELD_VARIABLES.values()))  # in the model's order

# Groups a command can ask for.
DATABASE = ("DATABASE_URL",)
CHAIN = ("SOLANA_RPC_URL", PAYER_VARIABLE, "MINT_KEY_SECRET")
QUEUE = ("REDIS_URL",)
API = ("JWT_SECRET",)


def load_settings(env: Mapping[str, str] | None = None, *, require: Iterable[str] = ()) -> Settings:
    """Read and check ``env`` (default ``os.environ``); raise :class:`SettingsError` on the first
    problem. ``require`` names the variables the calling command cannot run without;
    ``SOLANA_PAYER_KEYPAIR`` then falls back to ``~/.config/solana/id.json``."""
    env = os.environ if env is None else env
    required = tuple(require)
    unknown = set(required) - set(ALL_VARIABLES)
    if unknown:
        raise ValueError(f"unknown settings asked for: {sorted(unknown)}")
    if (
        PAYER_VARIABLE in required
        and not (env.get(PAYER_VARIABLE) or "").strip()
        and not (env.get(PAYERS_VARIABLE) or "").strip()
    ):
        env = {**env, PAYER_VARIABLE: str(DEFAULT_KEYPAIR_PATH)}  # the Solana CLI's own default
    token = _environ.set(env)  # this mapping alone, never os.environ beside it
    try:
        settings = Settings()
    except ValidationError as exc:
        raise _settings_error(exc) from None
    finally:
        _environ.reset(token)
    settings.require(required)
    return settings


def reveal(secret: SecretBytes | None) -> bytes | None:
    """The secret's bytes for the one call that needs them; they still never print."""
    return None if secret is None else _RedactedBytes(secret.get_secret_value())


class _RedactedBytes(bytes):
    """Bytes that never show themselves in ``repr`` or ``str``."""

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


def _settings_error(exc: ValidationError) -> SettingsError:
    error = exc.errors(include_url=False, include_input=False)[0]
    loc = error["loc"]
    name = next((p for p in loc if isinstance(p, str) and p in VARIABLES), ".".join(map(str, loc)))
    return SettingsError(name, _problem(error))


def _problem(error: Any) -> str:
    """Our words for a pydantic error (never its input, which may be a secret)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", "is malformed"))
    if kind.startswith("int_"):
        return "must be an integer"
    if kind.startswith("float_") or kind == "finite_number":
        return "must be a number"
    if kind.startswith("bool_"):
        return "must be true or false"
    if kind == "literal_error":
        return f"must be {ctx['expected']}"
    if kind == "greater_than_equal":
        return "must not be negative" if ctx["ge"] == 0 else f"must be at least {ctx['ge']:g}"
    if kind == "greater_than":
        return f"must be greater than {ctx['gt']:g}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']:g}"
    return f"is malformed ({kind})"


def _shown(value: Any) -> Any:
    if isinstance(value, SecretBytes):
        return MASK
    if isinstance(value, Payer):
        return str(value.pubkey)
    if isinstance(value, tuple) and value and all(isinstance(v, Payer) for v in value):
        return [str(v.pubkey) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password:  # postgresql://user:password@host/db
            host = parts.netloc.rpartition("@")[2]
            return parts._replace(netloc=f"{parts.username or ''}:{MASK}@{host}").geturl()
    return value
