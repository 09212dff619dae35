"""Structured logs (structlog): JSON in production, readable lines on a terminal.

``LOG_FORMAT`` (``json`` or ``console``) overrides the choice made from whether stderr is a
terminal; ``LOG_LEVEL`` sets the level (default INFO): both reach :func:`configure_logging`
from the settings' ``logging`` section. Dramatiq's and uvicorn's stdlib logs go through the same
renderer; libraries that log every HTTP request (httpx and the like) are held at WARNING unless
the level is DEBUG. As a last guard, :func:`register_secrets` names values
(the payer key, the mint seed secret, the JWT secret, in every printable form) that are cut out
of any line that would carry one; code is written so that none ever does.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable

import based58  # solana-py's own base58 dependency
import structlog

REDACTED = "[redacted]"
DEFAULT_LEVEL = "INFO"
# Libraries that log a line per request at INFO (httpx "HTTP Request: …", uvicorn's access
# lines, solana-py's "Transaction sent"): kept at WARNING unless the level is DEBUG. Dramatiq is
# not among them: its INFO lines are lifecycle (booting, ready, shutting down) and retries.
DEFAULT_QUIET_LOGGERS = ("httpx", "httpcore", "urllib3", "uvicorn.access", "solanaweb3")
_secrets: set[str] = set()


def secret_forms(raw: bytes) -> set[str]:
    """The ways a secret could be printed: text, hex, base58, a JSON byte array."""

    forms = {raw.hex(), based58.b58encode(raw).decode(), json.dumps(list(raw))}
    forms.add(json.dumps(list(raw), separators=(",", ":")))
    try:
        forms.add(raw.decode())
    except UnicodeDecodeError:
        pass
    return {f for f in forms if len(f) >= 8}


def register_secrets(values: Iterable[bytes]) -> None:
    for raw in values:
        if raw:
            _secrets.update(secret_forms(bytes(raw)))


def register_settings_secrets(settings) -> None:
    """The secrets of a :class:`actors.infra.config.Settings`, registered for cutting."""
    secrets = (
        settings.signer.mint_key_secret,
        settings.api.jwt_secret,
        settings.webhooks.secret,
    )
    values = [s.get_secret_value() for s in secrets if s is not None]
    keys = (settings.signer.payer, settings.signer.authority, *(settings.signer.payers or ()))
    values.extend(bytes(k.keypair) for k in keys if k is not None)
    register_secrets(values)


def _scrub(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def scrub(text: str) -> str:
    """``text`` with every registered secret cut out (for messages printed outside logging)."""
    return _scrub(text)


class _ScrubbingRenderer:
    def __init__(self, inner) -> None:
        self.inner = inner

    def __call__(self, logger, method, event):
        out = self.inner(logger, method, event)
        return _scrub(out) if _secrets and isinstance(out, str) else out


def configure_logging(*, fmt: str | None = None, level: str | None = None) -> None:
    """``fmt`` and ``level`` as the settings' ``logging`` section gives them (``LOG_FORMAT``,
    ``LOG_LEVEL``); no format means console on a terminal, JSON otherwise."""
    fmt = fmt or ("console" if sys.stderr.isatty() else "json")
    level_no = logging.getLevelName((level or DEFAULT_LEVEL).upper())
    if not isinstance(level_no, int):
        level_no = logging.INFO
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    inner = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    renderer = _ScrubbingRenderer(inner)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level_no),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level_no)
    # NOTSET under DEBUG, so a second call (tests, a CLI re-run) undoes an earlier quieting;
    # never below the root's level, since a propagated record skips the root's own level check
    quiet = logging.NOTSET if level_no <= logging.DEBUG else max(logging.WARNING, level_no)
    for name in DEFAULT_QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
