"""From one Update to a committed message: order per chat, albums, files, then the desk's inbox.

``handle`` returns only when everything the update carries is committed, so its caller (the
polling loop, the webhook) acknowledges the update after it returns and never before.

Order: the updates of one chat are stored one after another, in the order they were handed
in (an edit after the message it edits); different chats go in parallel.

Albums: Telegram sends each item of a media group as its own update. The first item waits
until no new item has come for ``album_wait`` seconds, holding its chat's turn (so a text sent
after the album is stored after it), then the items are stored as one message keyed by the
group. Every item's update is acknowledged only after that commit. An item that comes later
still (Telegram delivers big files seconds apart) finds the message stored and is added to it
(files by name and content, so a re-delivered item adds nothing twice).
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import AsyncIterator, Callable

from bot.domain import Attachment
from channels.base import DeskPort
from channels.telegram.api import BotAPI, Refused, TelegramError, TooLarge, Unreachable
from channels.telegram.content import FileRef
from channels.telegram.normalize import Ignored, Incoming, Reachability, merge_album, normalize

logger = logging.getLogger(__name__)
FETCH_ATTEMPTS = 5  # an update whose file cannot be fetched this many times is stored with a note instead
RECENT_IGNORED = 20


@dataclass
class _Album:
    items: list[Incoming]
    grew: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


class Pipeline:
    """Stores what one bot receives; shared by polling and the webhook."""

    def __init__(self, channel: str, api: BotAPI, desk: DeskPort, *, album_wait: float, max_bytes: int,
                 allowed_types: tuple[str, ...], clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.channel = channel
        self.api = api
        self.desk = desk
        self.album_wait = album_wait
        self.max_bytes = max_bytes
        self.allowed_types = frozenset(t.lower() for t in allowed_types)
        self.clock = clock
        self._chats: dict[str, list] = {}  # chat id -> [lock, users]
        self._albums: dict[tuple[str, str], _Album] = {}
        self._fetch_failures: dict[int, int] = {}
        self._ignored_lock = asyncio.Lock()

    async def handle(self, update: object) -> None:
        """Store one update; returns after the commit (raises when it could not be stored: retry later)."""
        item = normalize(update, self.channel, self.clock())
        if isinstance(item, Ignored):
            await self._record_ignored(item)
        elif isinstance(item, Reachability):
            await self.desk.set_reachability(self.channel, item.user_id, item.reachable, item.reason)
        elif item.album:
            await self._album_item(item)
        else:
            async with self._turn(item.chat_id):
                await self._store(item)

    @asynccontextmanager
    async def _turn(self, chat_id: str) -> AsyncIterator[None]:
        """The chat's turn: asyncio locks are first come, first served, so a chat's updates keep their order."""
        entry = self._chats.setdefault(chat_id, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                yield
        finally:
            entry[1] -= 1
            if not entry[1]:
                del self._chats[chat_id]

    async def _album_item(self, item: Incoming) -> None:
        key = (item.chat_id, item.album)
        album = self._albums.get(key)
        if album is not None:  # the album's first item stores it; this one waits for that commit
            album.items.append(item)
            album.grew.set()
            await asyncio.shield(album.done)
            return
        album = self._albums[key] = _Album([item])
        try:
            async with self._turn(item.chat_id):
                while True:
                    album.grew.clear()
                    try:
                        async with asyncio.timeout(self.album_wait):  # not wait_for: it can swallow a stop's cancel
                            await album.grew.wait()
                    except TimeoutError:
                        break
                # From here on a new item starts a new album, which is added to this stored message.
                del self._albums[key]
                await self._store(merge_album(album.items))
        except BaseException as exc:
            if self._albums.get(key) is album:
                del self._albums[key]
            if isinstance(exc, asyncio.CancelledError):
                album.done.cancel()
            else:
                album.done.set_exception(exc)
                album.done.exception()  # the followers see it; nobody need log it again
            raise
        album.done.set_result(None)

    async def _store(self, item: Incoming) -> None:
        attachments, notes = await self._fetch(item)
        text = "\n".join(filter(None, (item.message.text, *notes)))
        message = replace(item.message, text=text, attachments=attachments)
        receipt = await self.desk.receive(message)
        if receipt.duplicate and item.album:
            await self.desk.add_message_parts(self.channel, message.message_id, text, attachments)
        if item.phone:
            await self.desk.verify_phone(self.channel, message.user_id, item.phone)
        self._fetch_failures.pop(item.update_id, None)
        if item.callback_id:
            try:
                await self.api.answer_callback(item.callback_id)
            except TelegramError as exc:  # the press is stored; a late answer only leaves a spinner
                logger.info("%s: answering button press %s failed: %s", self.channel, item.callback_id, exc)

    async def _fetch(self, item: Incoming) -> tuple[tuple[Attachment, ...], list[str]]:
        """Download the item's files; what may not or cannot be stored becomes a note in the text."""
        attachments: list[Attachment] = []
        notes: list[str] = []
        for ref in item.files:
            if ref.content_type.lower() not in self.allowed_types:
                notes.append(f"[{ref.filename} not stored: files of type {ref.content_type} are not accepted]")
                continue
            ref = self._within_limit(ref)
            if ref.size is not None and ref.size > self.max_bytes:
                notes.append(f"[{ref.filename} not stored: {_mb(ref.size)} is over the {_mb(self.max_bytes)} limit]")
                continue
            try:
                data = await self.api.download(ref.file_id, self.max_bytes)
            except TooLarge:
                notes.append(f"[{ref.filename} not stored: it is over the {_mb(self.max_bytes)} limit]")
                continue
            except Refused as exc:
                notes.append(f"[{ref.filename} could not be fetched from Telegram: {exc}]")
                continue
            except Unreachable as exc:
                failures = self._fetch_failures[item.update_id] = self._fetch_failures.get(item.update_id, 0) + 1
                if failures < FETCH_ATTEMPTS:
                    raise  # the update is not acknowledged and comes again
                logger.warning("%s: giving up fetching %s after %d attempts: %s", self.channel, ref.filename, failures, exc)
                notes.append(f"[{ref.filename} could not be fetched from Telegram]")
                continue
            attachments.append(Attachment(ref.filename, ref.content_type, len(data), data=data))
        return tuple(attachments), notes

    def _within_limit(self, ref: FileRef) -> FileRef:
        """A photo too big for the desk is taken in the largest size that fits."""
        if ref.size is None or ref.size <= self.max_bytes:
            return ref
        return next((s for s in ref.smaller if s.size is not None and s.size <= self.max_bytes), ref)

    async def _record_ignored(self, item: Ignored) -> None:
        """Log it and count it in the channel's state (`helpline telegram status` shows the counts)."""
        logger.info("%s: update %s ignored (%s: %s)", self.channel, item.update_id, item.kind, item.reason)
        async with self._ignored_lock:
            state = await self.desk.load_state(self.channel, "ignored") or {}
            recent = list(state.get("recent", []))
            if any(r.get("update_id") == item.update_id for r in recent) and item.update_id >= 0:
                return  # re-delivered after a crash: counted already
            counts = dict(state.get("counts", {}))
            counts[item.reason] = counts.get(item.reason, 0) + 1
            recent.append({"update_id": item.update_id, "kind": item.kind, "reason": item.reason,
                           "chat_id": item.chat_id, "at": self.clock().isoformat(timespec="seconds")})
            await self.desk.save_state(self.channel, "ignored", {"counts": counts, "recent": recent[-RECENT_IGNORED:]})
