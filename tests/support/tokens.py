"""Bearer tokens for the API tests: HS256 with a secret generated per test session."""

from __future__ import annotations

import secrets
import time

import jwt

JWT_SECRET = secrets.token_hex(32)


def token(
    secret: str = JWT_SECRET,
    *,
    alg: str = "HS256",
    exp: float | None = None,
    role: str | None = "service",
    **claims,
):
    """A token of ``role`` (``role=None``: no role claim), other claims as given."""
    payload = {"sub": "ticket-service", "exp": int(exp if exp is not None else time.time() + 60)}
    if role is not None:
        payload["role"] = role
    payload.update(claims)
    return jwt.encode(payload, secret, algorithm=alg)


def auth(tok: str) -> dict:
    return {"Authorization": f"Bearer {tok}"}
