"""Shared web plumbing: app keys, the template environment, security headers, client address."""
from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import quote

import jinja2
from aiohttp import web

from bot.actions.context import Desk
from bot.domain import safe_filename
from bot.events import EventBus

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DESK = web.AppKey("desk", Desk)
BUS = web.AppKey("bus", EventBus)
PUBLIC_URL = web.AppKey("public_url", str)

# Console and chat pages load only our own scripts and styles; nothing inline may run.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(("html", "xml", "j2"), default_for_string=True),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(name: str, status: int = 200, *, csp: str = CSP, **context) -> web.Response:
    """Render a template to an HTML response with the security headers every page carries."""
    body = templates.get_template(name).render(**context)
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    secure_headers(response, csp)
    return response


def secure_headers(response: web.StreamResponse, csp: str = CSP) -> None:
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers.setdefault("X-Frame-Options", "DENY")


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    """The client's IP; X-Forwarded-For is believed only from a configured proxy."""
    peer = request.remote or ""
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded and peer and any(_in(peer, net) for net in trusted_proxies):
        return forwarded.split(",")[-1].strip() or peer
    return peer


def _in(address: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(network, strict=False)
    except ValueError:
        return False


def download_response(data: bytes, filename: str) -> web.Response:
    """Serve a stored file as a download that no browser will render or run.

    The name is cleaned here (no paths, control characters or line breaks), whatever the caller
    passed, because it goes into a header.
    """
    name = safe_filename(filename)
    response = web.Response(body=data, content_type="application/octet-stream")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    response.headers["Content-Disposition"] = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
