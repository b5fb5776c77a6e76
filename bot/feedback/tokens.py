"""Survey link tokens: random, shown once in the link, stored only as a keyed hash."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN = re.compile(r"^[A-Za-z0-9_-]{30,64}$")


def new_token() -> str:
    """192 random bits, URL-safe (32 characters)."""
    return secrets.token_urlsafe(24)


def token_hash(secret_key: str, token: str) -> str:
    """HMAC-SHA256 under the desk's secret: a copy of the database does not yield working links."""
    return hmac.new(secret_key.encode(), f"survey:{token}".encode(), hashlib.sha256).hexdigest()


def well_formed(token: str) -> bool:
    return bool(TOKEN.match(token or ""))
