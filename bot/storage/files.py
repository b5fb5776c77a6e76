"""The attachment store: content-addressed files under the desk's data directory."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from bot.domain import safe_filename  # noqa: F401  (re-exported: channels share it)
from bot.errors import InvalidInput

class AttachmentStore:
    """Writes each distinct content once, named by its SHA-256; never executes or serves inline."""

    def __init__(self, root: Path, max_bytes: int, allowed_types: tuple[str, ...]):
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_types = allowed_types

    def check(self, filename: str, content_type: str, size: int) -> None:
        """Raise InvalidInput when a file may not be stored."""
        if size > self.max_bytes:
            raise InvalidInput(f"{safe_filename(filename)} is {size} bytes; the limit is {self.max_bytes}")
        if content_type.split(";")[0].strip().lower() not in self.allowed_types:
            raise InvalidInput(f"files of type {content_type or 'unknown'} are not accepted")

    def path(self, key: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise InvalidInput("bad attachment key")
        return self.root / key[:2] / key

    def save(self, data: bytes, *, max_bytes: int | None = None) -> str:
        """Store bytes durably (fsync, atomic rename) and return their key.

        ``max_bytes`` overrides the attachment limit for what the desk keeps beside the message
        (an email's original as received), which the channel has bounded itself.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        if len(data) > limit:
            raise InvalidInput(f"attachment is {len(data)} bytes; the limit is {limit}")
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.exists():
            return key
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        return key

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()
