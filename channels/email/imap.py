"""One IMAP mailbox polled with a durable cursor (aioimaplib), IDLE where the server offers it.

The cursor is the folder's UIDVALIDITY and the highest UID handled (RFC 3501 section 2.3.1.1):
mail is fetched by UID, not by the \\Seen flag, so mail someone read in another client, or that
arrived while the desk was stopped, is still fetched. A message is flagged \\Seen (or moved) only
after the desk committed it; a crash in between fetches it again and the inbox stores it once
(the Message-ID is the de-duplication key). A changed UIDVALIDITY (the folder was rebuilt)
re-reads mail since the last pass's date; duplicates are again harmless.
On the very first run the mailbox's unread mail is taken; older, read mail is history.
"""
from __future__ import annotations

import asyncio
import logging
import re
import ssl
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Awaitable, Callable

import aioimaplib

from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.email_config import EmailImapSettings

logger = logging.getLogger(__name__)
Ingest = Callable[[bytes, str], Awaitable[bool]]  # (raw mail, note) -> committed?
LoadState = Callable[[str], Awaitable[dict | None]]
SaveState = Callable[[str, dict], Awaitable[None]]
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
UIDNEXT = re.compile(rb"UIDNEXT (\d+)")
FETCH_UID = re.compile(rb"UID (\d+)")
FETCH_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
MAX_FAILURES = 5  # a message the desk failed to store this many times is skipped (left unflagged in the mailbox)
IDLE_SECONDS = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes


class MailboxError(Exception):
    """The server answered a command with NO or BAD."""


class LoginRefused(ConfigError):
    """The server refused the configured username or password."""


class MailboxPoller:
    """Fetches new mail of one folder into the desk, for as long as the channel runs."""

    def __init__(self, index: int, settings: EmailImapSettings, ingest: Ingest, load: LoadState, save: SaveState,
                 max_bytes: int):
        self.index = index
        self.settings = settings
        self.ingest = ingest
        self.load = load
        self.save = save
        self.max_bytes = max_bytes
        self.key = f"imap:{settings.username}@{settings.host}:{settings.port}/{settings.folder}"
        self.where = f"channels.email.imap.{index}"
        self._task: asyncio.Task | None = None
        self._failures: dict[int, int] = {}
        self.passes = 0  # completed passes, for tests and metrics

    # --- lifecycle ---

    async def check_login(self) -> str:
        """Log in once: raise LoginRefused on a refusal; return why not when the server is unreachable."""
        try:
            client = await self._connect()
        except LoginRefused:
            raise
        except (OSError, ssl.SSLError, asyncio.TimeoutError, aioimaplib.AioImapException, MailboxError) as exc:
            return f"{type(exc).__name__}: {exc}"
        await self._logout(client)
        return ""

    def start(self, alone: Callable[[str, Callable[[], Awaitable[None]]], Awaitable[None]] | None = None) -> None:
        """Poll in the background; with ``alone`` (the desk's run_alone), in one desk process at a time."""
        loop = alone(self.key, self._run) if alone is not None else self._run()
        self._task = asyncio.get_running_loop().create_task(loop, name=f"imap-{self.index}")

    async def stop(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        delay = 1.0
        while True:
            client = None
            try:
                client = await self._connect()
                while True:
                    await self.sync(client)
                    delay = 1.0
                    await self._wait_for_mail(client)
            except asyncio.CancelledError:
                if client is not None:
                    await self._logout(client)
                raise
            except LoginRefused as exc:
                logger.error("%s: %s; retrying in 10 minutes", self.where, exc)
                delay = 600.0
            except Exception as exc:  # the network, the server, or the desk's storage: try again later
                logger.warning("%s: mailbox pass failed (%s: %s); retrying in %.0f s",
                               self.where, type(exc).__name__, exc, delay)
            if client is not None:
                await self._logout(client)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 300.0)

    async def run_once(self) -> int:
        """Connect, fetch what is new, log out: one pass (the loop's work without the waiting)."""
        client = await self._connect()
        try:
            return await self.sync(client)
        finally:
            await self._logout(client)

    # --- one pass ---

    async def _connect(self) -> aioimaplib.IMAP4:
        s = self.settings
        if s.security == "tls":
            client = aioimaplib.IMAP4_SSL(host=s.host, port=s.port, timeout=s.timeout_seconds)
        else:
            client = aioimaplib.IMAP4(host=s.host, port=s.port, timeout=s.timeout_seconds)
        await client.wait_hello_from_server()
        response = await client.login(s.username, s.password.get_secret_value())
        if response.result != "OK":
            await self._logout(client)
            text = b" ".join(line for line in response.lines if isinstance(line, bytes)).decode(errors="replace")
            raise LoginRefused(f"{self.where}: {s.host} refused the login of {s.username}: {text[:200]}")
        return client

    async def sync(self, client: aioimaplib.IMAP4) -> int:
        """Select the folder and store every message past the cursor; returns how many were handled."""
        response = await client.select(self.settings.folder)
        _ok(response, f"SELECT {self.settings.folder}")
        validity = _number(UIDVALIDITY, response.lines)
        uidnext = _number(UIDNEXT, response.lines)
        state = await self.load(self.key)
        now = datetime.now(timezone.utc)
        if state is None or state.get("uidvalidity") != validity:
            state = await self._new_cursor(client, state, validity, uidnext, now)
        handled = 0
        for uid in list(state.get("backlog", [])):
            if await self._handle(client, uid):
                handled += 1
            state["backlog"] = [u for u in state["backlog"] if u != uid]
            await self.save(self.key, state)
        for uid in await self._uids(client, f"UID {state['last_uid'] + 1}:*"):
            if uid <= state["last_uid"]:
                continue  # "N:*" always matches the highest UID, even below N
            if await self._handle(client, uid):
                handled += 1
            state["last_uid"] = uid
            await self.save(self.key, state)
        state["since"] = now.date().isoformat()
        await self.save(self.key, state)
        self.passes += 1
        return handled

    async def _new_cursor(self, client, old: dict | None, validity: int | None, uidnext: int | None,
                          now: datetime) -> dict:
        if old is None:
            backlog = await self._uids(client, "UNSEEN")
            logger.info("%s: first run, taking %d unread message(s)", self.where, len(backlog))
        else:
            # The folder was rebuilt: its UIDs mean nothing now. Mail since the last pass is read
            # again (a day's margin); what was stored already is recognised by its Message-ID.
            since = datetime.fromisoformat(old.get("since") or now.date().isoformat()) - timedelta(days=1)
            backlog = await self._uids(client, f"SINCE {since.strftime('%d-%b-%Y')}")
            logger.warning("%s: UIDVALIDITY changed (%s -> %s); re-reading %d message(s) since %s",
                           self.where, old.get("uidvalidity"), validity, len(backlog), since.date())
        top = max([(uidnext or 1) - 1] + backlog)
        state = {"uidvalidity": validity, "last_uid": top, "backlog": sorted(backlog), "since": now.date().isoformat()}
        await self.save(self.key, state)
        return state

    async def _uids(self, client, criteria: str) -> list[int]:
        response = await client.uid_search(criteria, charset=None)
        _ok(response, f"UID SEARCH {criteria}")
        uids: list[int] = []
        for line in response.lines:
            if isinstance(line, (bytes, bytearray)) and re.fullmatch(rb"[\d ]+", bytes(line).strip() or b"x"):
                uids += [int(u) for u in bytes(line).split()]
        return sorted(set(uids))

    async def _handle(self, client, uid: int) -> bool:
        """Fetch one message, hand it to the desk, and mark it only once the desk has it."""
        meta = await client.uid("fetch", str(uid), "(UID RFC822.SIZE)")
        _ok(meta, f"UID FETCH {uid}")
        size = _number(FETCH_SIZE, meta.lines)
        if size is None:
            return False  # gone (expunged elsewhere) since the search
        note = ""
        if size > self.max_bytes:
            part = "BODY.PEEK[HEADER]"
            note = (f"This email is {size / 1024 / 1024:.1f} MB, more than the desk's limit of "
                    f"{self.max_bytes / 1024 / 1024:.1f} MB: only its headers were taken. It stays in the "
                    f"mailbox {self.settings.username} (folder {self.settings.folder}).")
        else:
            part = "BODY.PEEK[]"  # PEEK: fetching must not set \Seen before the desk has the mail
        response = await client.uid("fetch", str(uid), f"({part})")
        _ok(response, f"UID FETCH {uid} {part}")
        raw = _literal(response.lines)
        if raw is None:
            return False
        try:
            stored = await self.ingest(raw, note)
        except Exception:
            failures = self._failures[uid] = self._failures.get(uid, 0) + 1
            if failures < MAX_FAILURES:
                raise
            logger.error("%s: UID %d could not be stored %d times; skipped and left unflagged in the mailbox",
                         self.where, uid, failures)
            return False
        self._failures.pop(uid, None)
        if stored:
            await self._done(client, uid)
        return stored

    async def _done(self, client, uid: int) -> None:
        s = self.settings
        if s.after_fetch == "move":
            if client.has_capability("MOVE"):
                _ok(await client.uid("move", str(uid), s.move_to), f"UID MOVE {uid}")
                return
            _ok(await client.uid("copy", str(uid), s.move_to), f"UID COPY {uid}")
            _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), f"UID STORE {uid}")
            _ok(await client.expunge(), "EXPUNGE")
            return
        _ok(await client.uid("store", str(uid), "+FLAGS.SILENT", r"(\Seen)"), f"UID STORE {uid}")

    async def _wait_for_mail(self, client) -> None:
        """IDLE until the server reports a change (or the IDLE period ends); else sleep a polling period."""
        if not (self.settings.idle and client.has_capability("IDLE")):
            await asyncio.sleep(self.settings.poll_seconds)
            return
        idle = await client.idle_start(timeout=IDLE_SECONDS)
        try:
            while True:
                pushed = await client.wait_server_push(timeout=IDLE_SECONDS + 60)
                if pushed == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    break
                lines = pushed if isinstance(pushed, list) else [pushed]
                if any(isinstance(l, (bytes, bytearray)) and (b"EXISTS" in l or b"RECENT" in l) for l in lines):
                    break
        finally:
            client.idle_done()
            await asyncio.wait_for(idle, self.settings.timeout_seconds)

    async def _logout(self, client) -> None:
        try:
            await asyncio.wait_for(client.logout(), 5)
        except Exception:  # already gone: nothing to undo
            pass


def _ok(response, what: str) -> None:
    if response.result != "OK":
        text = b" ".join(bytes(l) for l in response.lines if isinstance(l, (bytes, bytearray))).decode(errors="replace")
        raise MailboxError(f"{what}: {response.result} {text[:200]}")


def _number(pattern: re.Pattern, lines) -> int | None:
    for line in lines:
        if isinstance(line, (bytes, bytearray)):
            match = pattern.search(bytes(line))
            if match:
                return int(match.group(1))
    return None


def _literal(lines) -> bytes | None:
    """The message bytes of a FETCH answer (aioimaplib hands literals over as bytearray)."""
    for line in lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None
