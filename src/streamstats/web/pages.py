"""The browser's pages (``/panel/{agent_id}``, ``/team``) and their ``/static/`` files."""

from __future__ import annotations

import html
from importlib import resources
from typing import Final

from aiohttp import web

from ..settings import Settings
from .auth import COOKIE
from .responses import error_response

__all__ = ["Pages"]

_STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".html": "text/html"}


def _static(name: str) -> bytes:
    return (resources.files("streamstats.web") / "static" / name).read_bytes()


def _page(request: web.Request, name: str, values: dict[str, str]) -> web.Response:
    """The HTML page ``name`` with each ``{key}`` replaced by its escaped value."""
    text = _static(name).decode()
    for key, value in values.items():
        text = text.replace("{" + key + "}", html.escape(value, quote=True))
    page = web.Response(text=text, content_type="text/html")
    token = request.query.get("token")
    if token:
        # Set once from the link; the page's own requests then carry it.
        page.set_cookie(COOKIE, token, httponly=True, samesite="Strict", path="/")
    return page


class Pages:
    """The agent's panel page, the supervisors' team page and the files they load."""

    def __init__(self, settings: Settings) -> None:
        self.links = {"faq_url": settings.faq_url, "support_url": settings.support_url}

    async def panel_page(self, request: web.Request) -> web.Response:
        """``GET /panel/{agent_id}``: one agent's live panel."""
        return _page(
            request, "panel.html", {"agent_id": request.match_info["agent_id"], **self.links}
        )

    async def team_page(self, request: web.Request) -> web.Response:
        """``GET /team``: every agent, for supervisors."""
        return _page(request, "team.html", {})

    async def static_file(self, request: web.Request) -> web.Response:
        """``GET /static/{name}``: a CSS, JavaScript or HTML file of the pages."""
        name = request.match_info["name"]
        suffix = name[name.rfind(".") :] if "." in name else ""
        if "/" in name or suffix not in _STATIC_TYPES:
            return error_response(404, f"no static file {name!r}")
        try:
            body = _static(name)
        except FileNotFoundError:
            return error_response(404, f"no static file {name!r}")
        return web.Response(body=body, content_type=_STATIC_TYPES[suffix])
