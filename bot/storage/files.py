"""The attachment store: content-addressed files under the desk's data directory.

Content is stored once and may be named by many rows, so removing a file races with a new upload
of the same content: the upload finds the file, its row is not committed yet, and a remover that
checked "no row names it" would delete the file under it. Hence the rule both sides follow under
one file lock: `save` refreshes the file's modification time when it hands out an existing file,
and `discard` removes only files not handed out within the grace period (longer than any receive
transaction takes); a younger file is marked pending and swept later (bot/actions/stored_files.py).
Removers mark their files pending before they commit, and the sweep also walks the store a step at
a time, so neither a crash after a commit nor an old one leaves a file no row names for good.
A file already stored is not written again; a new one is on disk, data and name, before `save` returns.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bot.domain import safe_filename  # noqa: F401  (re-exported: channels share it)
from bot.errors import InvalidInput

GRACE_SECONDS = 15 * 60.0
PENDING = ".pending"  # empty marker files named by the keys waiting for a sweep
KEY = re.compile(r"[0-9a-f]{64}")
FOLDER = re.compile(r"[0-9a-f]{2}")  # a file lives under the first two characters of its key


class AttachmentStore:
    """Writes each distinct content once, named by its SHA-256; never executes or serves inline."""

    def __init__(self, root: Path, max_bytes: int, allowed_types: tuple[str, ...], grace_seconds: float = GRACE_SECONDS):
        self.root = root
        self.max_bytes = max_bytes
        self.allowed_types = allowed_types
        self.grace_seconds = grace_seconds
        self._folders: set[Path] = set()  # fan-out folders known to exist (made once per process)

    def check(self, filename: str, content_type: str, size: int) -> None:
        """Raise InvalidInput when a file may not be stored."""
        if size > self.max_bytes:
            raise InvalidInput("{filename} is {size} bytes; the limit is {limit}", filename=safe_filename(filename), size=size,
                               limit=self.max_bytes)
        if content_type.split(";")[0].strip().lower() not in self.allowed_types:
            raise InvalidInput("files of type {type} are not accepted", type=content_type or "unknown")

    def path(self, key: str) -> Path:
        if not KEY.fullmatch(key):
            raise InvalidInput("bad attachment key")
        return self.root / key[:2] / key

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialize hand-out and removal across threads and processes sharing this directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def save(self, data: bytes, *, max_bytes: int | None = None) -> str:
        """Store bytes durably (fsync, atomic rename, directory fsync) and return their key.

        ``max_bytes`` overrides the attachment limit for what the desk keeps beside the message
        (an email's original as received), which the channel has bounded itself.
        """
        limit = self.max_bytes if max_bytes is None else max_bytes
        if len(data) > limit:
            raise InvalidInput("attachment is {size} bytes; the limit is {limit}", size=len(data), limit=limit)
        key = hashlib.sha256(data).hexdigest()
        target = self.path(key)
        if target.exists():  # stored before: hand it out under the lock, where `discard` cannot remove it
            with self._locked():
                if target.exists():
                    os.utime(target)  # handed out now: a row naming it may be about to commit
                    return key
        # Missing: nothing can remove a file that is not there, so write outside the lock.
        self._write(target, data)
        return key

    def _write(self, target: Path, data: bytes) -> None:
        """Write-then-rename, durable before it returns: the file's data and its directory entry.

        A rename is on disk only once the directory holding it is synced (fsync(2)); without that,
        a crash just after the desk acknowledged a mail could leave its row naming no file.
        """
        folder = target.parent
        if folder not in self._folders:  # made (and its entry synced) once per process, not per file
            _make_durable_folder(folder)
            self._folders.add(folder)
        # Unique per process and thread: the inbox saves from worker threads, maybe the same bytes at once.
        tmp = target.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        try:
            fh = open(tmp, "wb")
        except FileNotFoundError:  # the folder went away under us (a restore emptied the store)
            _make_durable_folder(folder)
            fh = open(tmp, "wb")
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        _sync_directory(folder)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def discard(self, key: str, now: float | None = None) -> bool:
        """Remove a file no committed row names; True when removed.

        A file handed out by `save` within the grace period is kept and marked pending instead:
        the upload that took it may not have committed its row yet.
        """
        target = self.path(key)
        now = time.time() if now is None else now
        with self._locked():
            try:
                handed_out = target.stat().st_mtime
            except FileNotFoundError:
                self.unmark(key)
                return False
            if handed_out > now - self.grace_seconds:
                (self.root / PENDING).mkdir(exist_ok=True)
                (self.root / PENDING / key).touch()
                return False
            target.unlink()
            self.unmark(key)
            return True

    def mark_pending(self, keys) -> None:
        """Note files whose rows a transaction is about to remove, before it commits.

        A crash between that commit and the removal then leaves the files to the sweep instead of
        orphaning them; a marker for a file some row still names is harmless, since the sweep
        checks the rows again and only drops the marker.
        """
        (self.root / PENDING).mkdir(parents=True, exist_ok=True)
        for key in keys:
            (self.root / PENDING / self.path(key).name).touch()

    def pending(self) -> list[str]:
        """Keys whose removal was put off by `discard`, for a later sweep."""
        try:
            return sorted(p.name for p in (self.root / PENDING).iterdir() if KEY.fullmatch(p.name))
        except FileNotFoundError:
            return []

    def unmark(self, key: str) -> None:
        """Forget a pending removal (the file is gone, or a row names it again)."""
        (self.root / PENDING / self.path(key).name).unlink(missing_ok=True)

    def stored_keys(self, after: str = "", limit: int = 1000) -> list[str]:
        """Up to `limit` keys of stored files in key order, those after `after`: a bounded step of a walk
        over the whole store, so the sweep also finds files no row names that no marker points at."""
        try:
            folders = sorted(p.name for p in self.root.iterdir() if FOLDER.fullmatch(p.name) and p.name >= after[:2])
        except FileNotFoundError:
            return []
        found: list[str] = []
        for folder in folders:
            try:
                names = sorted(n for n in os.listdir(self.root / folder) if KEY.fullmatch(n) and n > after)
            except FileNotFoundError:
                continue
            found += names[:limit - len(found)]
            if len(found) >= limit:
                break
        return found


def _make_durable_folder(folder: Path) -> None:
    """Create the folder and any missing parents, each one's entry synced in the folder above it."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True)
        _sync_directory(made.parent)


def _sync_directory(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
