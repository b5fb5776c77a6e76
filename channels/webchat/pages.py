"""The web chat's pages and files: the demo shop at /, the chat at /chat, /widget.js and static assets.

Pages carry no visitor data at all (the conversation arrives over the websocket and is rendered
with textContent), so nothing a visitor writes can ever be parsed as HTML here.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.web import CSP, PUBLIC_URL, render
from channels.webchat.files import ACCEPT

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().with_name("static")
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg)")
# A CSP source for frame-ancestors: scheme://host[:port], the host may start with "*." (CSP 3, 2.3.1).
ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:\d{1,5})?")
WIDGET_MAX_AGE = 300  # host pages pick up a new widget.js within minutes


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(folder: Path = STATIC) -> dict[str, Asset]:
    """Every servable file of the static folder, read once (they are small)."""
    assets = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and ASSET_NAME.fullmatch(path.name):
            body = path.read_bytes()
            assets[path.name] = Asset(body, TYPES[path.suffix], '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return assets


def assets_version(assets: dict[str, Asset]) -> str:
    """Changes whenever any asset changes: pages link ``?v=<version>`` so caches can keep files forever."""
    return hashlib.sha256("".join(a.etag for a in assets.values()).encode()).hexdigest()[:12]


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """Who may frame the embedded chat: our own pages plus the configured sites (any site when none)."""
    good = []
    for origin in origins:
        origin = origin.strip().rstrip("/")
        if ORIGIN.fullmatch(origin):
            good.append(origin)
        else:
            logger.warning("channels.webchat.allowed_origins: ignoring %r (write it like https://shop.example.com)", origin)
    if not origins:
        return "*"
    return " ".join(["'self'", *good])


def embed_csp(ancestors: str) -> str:
    return CSP.replace("frame-ancestors 'none'", f"frame-ancestors {ancestors}")


def asset_response(request: web.Request, asset: Asset, cache: str, *, cross_origin: bool = False) -> web.StreamResponse:
    """A static file with validators and the security headers; 304 when the browser has it."""
    headers = {"ETag": asset.etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff",
               "Cross-Origin-Resource-Policy": "cross-origin" if cross_origin else "same-origin"}
    if asset.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})


class ChatPages:
    """Handlers for the pages and files; the adapter adds them to its routes."""

    def __init__(self, max_message_chars: int, max_attachment_bytes: int, allowed_origins: tuple[str, ...]):
        self.assets = load_assets()
        self.version = assets_version(self.assets)
        self.limits = {"max_chars": max_message_chars, "max_bytes": max_attachment_bytes, "accept": ACCEPT}
        self.embed_csp = embed_csp(frame_ancestors(allowed_origins))

    async def demo(self, request: web.Request) -> web.Response:
        """GET /: the Northwind Goods sample shop with the widget embedded by one script tag."""
        return render("webchat/demo.html", public_url=request.app[PUBLIC_URL], version=self.version)

    async def chat(self, request: web.Request) -> web.Response:
        """GET /chat: the full-page chat, or with ?embed=1 the widget's panel (frameable)."""
        embed = request.query.get("embed") == "1"
        response = render("webchat/chat.html", embed=embed, version=self.version, **self.limits,
                          csp=self.embed_csp if embed else CSP)
        if embed:
            # frame-ancestors governs framing; a DENY here would override it in older browsers.
            del response.headers["X-Frame-Options"]
        response.headers["Cache-Control"] = "no-cache"
        return response

    async def widget(self, request: web.Request) -> web.StreamResponse:
        """GET /widget.js: loaded by other sites, so it may be fetched cross-origin."""
        return asset_response(request, self.assets["widget.js"], f"public, max-age={WIDGET_MAX_AGE}", cross_origin=True)

    async def static(self, request: web.Request) -> web.StreamResponse:
        """GET /chat/static/{name}: the chat page's own scripts and styles."""
        asset = self.assets.get(request.match_info["name"])
        if asset is None:
            raise web.HTTPNotFound(text="no such file")
        versioned = request.query.get("v") == self.version
        return asset_response(request, asset, "public, max-age=31536000, immutable" if versioned else "no-cache")
