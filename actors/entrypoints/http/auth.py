"""Bearer tokens for the ``/v1`` routes: HS256 JWTs signed with ``JWT_SECRET`` (PyJWT).

``exp`` is required; ``iss`` and ``aud`` are checked when configured. Only HS256 is accepted,
so a token signed with another algorithm (or ``none``) is refused whatever its claims.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt

ALGORITHM = "HS256"
DEFAULT_LEEWAY = 5  # seconds of clock skew tolerated on exp/nbf


class AuthError(Exception):
    """Raised when a bearer token is missing, malformed, expired, forged or of another algorithm."""


@dataclass(frozen=True)
class TokenVerifier:
    secret: bytes = field(repr=False)
    issuer: str | None = None
    audience: str | None = None
    leeway: int = DEFAULT_LEEWAY

    def verify(self, authorization: str | None) -> dict:
        """The token's claims, from an ``Authorization: Bearer …`` header value."""
        if not authorization:
            raise AuthError("missing bearer token")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("authorization must be 'Bearer <token>'")
        options = {
            "require": ["exp"]
            + (["iss"] if self.issuer else [])
            + (["aud"] if self.audience else [])
        }
        try:
            return jwt.decode(
                token.strip(),
                self.secret,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
