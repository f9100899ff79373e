"""Bearer tokens for the HTTP view: who may read and change what (PyJWT).

A token's ``sub`` is an agent id and its ``role`` is ``agent`` or ``supervisor``.
An agent reads, streams and changes only its own projection and status; a
supervisor reads everything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import jwt

__all__ = ["AuthError", "Authenticator", "Identity", "mint_token"]

ROLES: Final = ("agent", "supervisor")
COOKIE: Final = "streamstats_token"


class AuthError(Exception):
    """A request that may not go on; ``status`` is 401 or 403."""

    def __init__(self, status: Literal[401, 403], message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a valid token speaks for."""

    agent_id: str
    role: Literal["agent", "supervisor"]

    def may_see(self, agent_id: str) -> bool:
        """Whether this identity may read or change ``agent_id``'s data."""
        return self.role == "supervisor" or self.agent_id == agent_id


@dataclass(frozen=True, slots=True)
class Authenticator:
    """Checks tokens signed with an HS256 secret or an RS256 key pair."""

    algorithm: Literal["HS256", "RS256"]
    key: str

    @classmethod
    def from_settings(cls, secret: str, public_key_file: str) -> Authenticator:
        """HS256 when a secret is set, RS256 with the PEM public key file otherwise."""
        if secret:
            return cls("HS256", secret)
        if public_key_file:
            return cls("RS256", Path(public_key_file).read_text())
        raise ValueError(
            "set STREAMSTATS_JWT_SECRET (HS256) or STREAMSTATS_JWT_PUBLIC_KEY_FILE (RS256), "
            "or switch access control off with STREAMSTATS_AUTH=off"
        )

    def identify(self, token: str | None) -> Identity:
        """The identity of ``token``; :class:`AuthError` (401) when missing or invalid."""
        if not token:
            raise AuthError(401, "a bearer token is required: Authorization: Bearer <token>")
        try:
            claims = jwt.decode(
                token, self.key, algorithms=[self.algorithm], options={"require": ["sub"]}
            )
        except jwt.PyJWTError as error:
            raise AuthError(401, f"the token is not valid: {error}") from None
        role = claims.get("role", "agent")
        if role not in ROLES:
            raise AuthError(401, f"the token's role {role!r} is not agent or supervisor")
        return Identity(str(claims["sub"]), role)


def mint_token(
    agent_id: str,
    role: Literal["agent", "supervisor"],
    *,
    secret: str = "",
    private_key: str = "",
    ttl_seconds: int = 24 * 3600,
) -> str:
    """A signed token for ``agent_id``: HS256 with ``secret``, else RS256 with ``private_key``."""
    claims = {"sub": agent_id, "role": role, "exp": int(time.time()) + ttl_seconds}
    if secret:
        return jwt.encode(claims, secret, algorithm="HS256")
    if private_key:
        return jwt.encode(claims, private_key, algorithm="RS256")
    raise ValueError("set STREAMSTATS_JWT_SECRET, or pass --private-key FILE for RS256")
