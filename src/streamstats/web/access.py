"""Who may read and change what: the caller's token checked against the agent asked for.

A check that fails raises :class:`~streamstats.web.auth.AuthError`; handlers marked
:func:`guarded` answer it as a JSON 401 or 403.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from ..settings import Settings
from .auth import COOKIE, Authenticator, AuthError, Identity
from .responses import error_response

__all__ = ["Access", "bearer_token", "guarded"]

Component = TypeVar("Component")


def bearer_token(request: web.Request) -> str | None:
    """The caller's token: the ``Authorization`` header, else the cookie, else ``?token=``."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip()
    return request.cookies.get(COOKIE) or request.query.get("token")


class Access:
    """The access checks of spec §8; every check passes when access control is off."""

    def __init__(self, authenticator: Authenticator | None) -> None:
        self.authenticator = authenticator

    @classmethod
    def from_settings(cls, settings: Settings) -> Access:
        """Checks with the configured token keys, or none with ``STREAMSTATS_AUTH=off``."""
        if settings.auth == "off":
            return cls(None)
        return cls(Authenticator.from_settings(settings.jwt_secret, settings.jwt_public_key_file))

    @property
    def enabled(self) -> bool:
        """Whether requests need a token."""
        return self.authenticator is not None

    def identify(self, request: web.Request) -> Identity | None:
        """The caller, or None when access control is off; raises :class:`AuthError`."""
        if self.authenticator is None:
            return None
        return self.authenticator.identify(bearer_token(request))

    def require_agent(self, request: web.Request, agent_id: str) -> None:
        """Raise :class:`AuthError` unless the caller may see ``agent_id``'s data."""
        identity = self.identify(request)
        if identity is not None and not identity.may_see(agent_id):
            raise AuthError(403, f"{identity.agent_id} may not see the data of agent {agent_id!r}")

    def require_supervisor(self, request: web.Request) -> None:
        """Raise :class:`AuthError` unless the caller is a supervisor."""
        identity = self.identify(request)
        if identity is not None and identity.role != "supervisor":
            raise AuthError(403, "only supervisors may see every agent")


def guarded(
    handler: Callable[[Component, web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[Component, web.Request], Awaitable[web.StreamResponse]]:
    """Make a handler method answer the :class:`AuthError` it raises as a JSON 401/403."""

    @functools.wraps(handler)
    async def answer(component: Component, request: web.Request) -> web.StreamResponse:
        try:
            return await handler(component, request)
        except AuthError as error:
            return error_response(error.status, error.message)

    return answer
