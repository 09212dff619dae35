"""Operator knobs from the environment (optional; each has a documented default)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from actors.infra.bootstrap import Tuning
from actors.infra.errors import SettingsError

TUNING_VARIABLES = {
    "MINT_SEND_RATE": ("send_rate", int),  # sends per second across all workers
    "SOLANA_RPC_TIMEOUT": ("rpc_timeout", float),  # seconds for one RPC request
    "SOLANA_SKIP_PREFLIGHT": ("skip_preflight", lambda v: v.lower() in ("1", "true", "yes")),
    "SOLANA_BLOCKHASH_TTL": ("blockhash_ttl", float),  # seconds a blockhash is reused
    "SOLANA_COMPUTE_UNIT_PRICE": ("compute_unit_price", int),  # micro-lamports per CU
    "DATABASE_POOL_SIZE": ("db_pool_size", int),
    "MINT_PENDING_AGE": ("pending_age", float),  # seconds before a pending row is re-enqueued
    "MINT_CONFIRM_INTERVAL": ("confirm_interval", float),
    "MINT_SWEEP_INTERVAL": ("sweep_interval", float),
    # signed transactions per ticket or transfer before one expired unseen fails it
    "MINT_MAX_ATTEMPTS": ("max_attempts", int),
}


def tuning_from_env(env: Mapping[str, str] | None = None) -> Tuning:
    env = os.environ if env is None else env
    values = {}
    for name, (attr, parse) in TUNING_VARIABLES.items():
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            values[attr] = parse(raw)
        except ValueError:
            raise SettingsError(name, "is malformed") from None
        if isinstance(values[attr], int | float) and values[attr] < 0:
            raise SettingsError(name, "must not be negative")
    if values.get("max_attempts", 1) < 1:  # every row gets one attempt; 0 is not "unlimited"
        raise SettingsError("MINT_MAX_ATTEMPTS", "must be at least 1")
    return Tuning(**values)
