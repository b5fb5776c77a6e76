"""Telegram Update (as JSON) -> what the desk stores, as a pure function of the update and the time.

The de-duplication keys (InboundMessage.message_id) are unique within one bot:
- a message: "CHAT:MESSAGE" (Telegram numbers messages per chat); its edits keep that key;
- an album (media group): "CHAT:album:GROUP", one message with every item's file;
- a pressed button: "cb:QUERY" (callback query ids are unique per bot).
Group chats, channels and update types the desk does not serve come back as ``Ignored``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from bot.domain import InboundMessage
from channels.telegram.compose import choice_for
from channels.telegram.content import FileRef, message_content, storable

# Asked of Telegram with getUpdates and setWebhook; anything else is ignored if it comes anyway.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")
START = re.compile(r"^/start(?:@\w+)?(?:\s+(\S{1,200}))?\s*$")
LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")
KIND = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class Incoming:
    """A client message to store; its files are fetched (getFile) before the inbox stores it."""

    update_id: int
    message: InboundMessage  # attachments are filled in by the adapter
    files: tuple[FileRef, ...] = ()
    album: str = ""  # media_group_id: the items of one album become one message
    callback_id: str = ""  # answered after the press is stored
    phone: str = ""  # the sender's own phone number, verified by Telegram

    @property
    def chat_id(self) -> str:
        return self.message.chat_id


@dataclass(frozen=True)
class Reachability:
    """The client blocked the bot (or allowed it again): replies to them fail, or work again."""

    update_id: int
    user_id: str
    chat_id: str
    reachable: bool
    reason: str = ""


@dataclass(frozen=True)
class Ignored:
    """An update the desk records and leaves: a group chat, a service message, an unsupported kind."""

    update_id: int
    kind: str
    reason: str
    chat_id: str = ""


Normalized = Incoming | Reachability | Ignored


def _id(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def _name(user: dict) -> str:
    full = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if isinstance(p, str) and p)
    username = user.get("username")
    return storable(full or (f"@{username}" if isinstance(username, str) and username else ""))


def locale_of(code: object) -> str:
    """The language part of Telegram's language_code ("pt-br" -> "pt")."""
    match = LOCALE.match(code) if isinstance(code, str) else None
    return match.group(1).lower() if match else ""


def _time(value: object, fallback: datetime) -> datetime:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, timezone.utc)
    return fallback


def normalize(update: object, channel: str, now: datetime) -> Normalized:
    """One Update -> Incoming, Reachability or Ignored; never raises on odd input."""
    if not isinstance(update, dict) or not _id(update.get("update_id")):
        return Ignored(-1, "malformed", "not an update object")
    update_id = update["update_id"]
    kinds = [k for k in update if k != "update_id"]
    kind = kinds[0] if kinds else "empty"
    if not KIND.fullmatch(kind):  # it names the update in logs and the channel's state: only Bot API-like names
        return Ignored(update_id, "unknown", "an update of an unknown kind")
    body = update.get(kind)
    if not isinstance(body, dict):
        return Ignored(update_id, kind, "empty or malformed update")
    try:
        if kind in ("message", "edited_message"):
            return _message(update_id, body, channel, now, edited=kind == "edited_message")
        if kind == "callback_query":
            return _callback(update_id, body, channel, now)
        if kind == "my_chat_member":
            return _membership(update_id, body)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return Ignored(update_id, kind, f"malformed {kind}: {type(exc).__name__}")
    return Ignored(update_id, kind, f"{kind} updates are not served")


def _chat(body: dict) -> tuple[str, str]:
    chat = body.get("chat")
    if not isinstance(chat, dict):
        return "", ""
    kind = chat.get("type")
    return _id(chat.get("id")), kind if isinstance(kind, str) and KIND.fullmatch(kind) else ""


def _message(update_id: int, msg: dict, channel: str, now: datetime, *, edited: bool) -> Normalized:
    kind = "edited_message" if edited else "message"
    chat_id, chat_type = _chat(msg)
    sender = msg.get("from")
    if chat_type != "private":
        return Ignored(update_id, kind, f"{chat_type or 'unknown'} chat", chat_id)
    if not chat_id or not isinstance(sender, dict) or not _id(sender.get("id")) or not _id(msg.get("message_id")):
        return Ignored(update_id, kind, "a message without chat, sender or id", chat_id)
    if sender.get("is_bot") is True:
        return Ignored(update_id, kind, "a message from a bot", chat_id)
    content = message_content(msg, sender.get("id"))
    if content.service:
        return Ignored(update_id, kind, "a service message", chat_id)
    group = msg.get("media_group_id") if isinstance(msg.get("media_group_id"), str) else ""
    key = f"{chat_id}:album:{group}" if group else f"{chat_id}:{msg['message_id']}"
    start = START.match(content.text) if not edited else None
    reply = msg.get("reply_to_message")
    inbound = InboundMessage(
        channel=channel, user_id=_id(sender["id"]), chat_id=chat_id, message_id=key, text=content.text,
        sent_at=_time(msg.get("edit_date") if edited else msg.get("date"), now),
        user_name=_name(sender)[:200], locale_hint=locale_of(sender.get("language_code")),
        thread_hint=f"{chat_id}:{reply['message_id']}" if isinstance(reply, dict) and _id(reply.get("message_id")) else "",
        source=(start.group(1) or "") if start else "", edited=edited)
    # An edit changes the text only (a replaced photo is not fetched again); an album item's
    # edit is an edit of the album's message.
    return Incoming(update_id, inbound, () if edited else content.files, "" if edited else group, phone=content.phone)


def _callback(update_id: int, query: dict, channel: str, now: datetime) -> Normalized:
    message = query.get("message")
    sender = query.get("from")
    if not isinstance(message, dict):
        return Ignored(update_id, "callback_query", "a button of an inline message")
    chat_id, chat_type = _chat(message)
    if chat_type != "private":
        return Ignored(update_id, "callback_query", f"{chat_type or 'unknown'} chat", chat_id)
    if not isinstance(sender, dict) or not _id(sender.get("id")) or not isinstance(query.get("id"), str):
        return Ignored(update_id, "callback_query", "a button press without sender or id", chat_id)
    data = query.get("data") if isinstance(query.get("data"), str) else ""
    choice = storable(choice_for(data, message.get("reply_markup"))) if data else ""
    if not choice:
        return Ignored(update_id, "callback_query", "a button without a known choice", chat_id)
    inbound = InboundMessage(
        channel=channel, user_id=_id(sender["id"]), chat_id=chat_id, message_id=f"cb:{query['id']}", text=choice,
        sent_at=now, user_name=_name(sender)[:200], locale_hint=locale_of(sender.get("language_code")),
        thread_hint=f"{chat_id}:{message['message_id']}" if _id(message.get("message_id")) else "",
        button_payload=choice)
    return Incoming(update_id, inbound, callback_id=query["id"])


def _membership(update_id: int, change: dict) -> Normalized:
    chat_id, chat_type = _chat(change)
    sender = change.get("from")
    status = change.get("new_chat_member", {}).get("status")
    if chat_type != "private":
        return Ignored(update_id, "my_chat_member", f"{chat_type or 'unknown'} chat", chat_id)
    if not isinstance(sender, dict) or not _id(sender.get("id")):
        return Ignored(update_id, "my_chat_member", "a change without sender", chat_id)
    if status == "kicked":
        return Reachability(update_id, _id(sender["id"]), chat_id, False, "the client blocked the bot")
    if status == "member":
        return Reachability(update_id, _id(sender["id"]), chat_id, True)
    return Ignored(update_id, "my_chat_member", f"membership status {status!r}", chat_id)


def merge_album(items: list[Incoming]) -> Incoming:
    """The items of one album as one message: every file, the captions in order, the first item's time."""
    items = sorted(items, key=lambda i: i.update_id)
    first = items[0]
    text = "\n".join(i.message.text for i in items if i.message.text)
    files = tuple(f for i in items for f in i.files)
    return replace(first, message=replace(first.message, text=text), files=files)
