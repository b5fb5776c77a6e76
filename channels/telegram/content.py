"""What a Telegram Message holds, as text for the operator and references to its files (pure).

Message fields follow the Bot API's Message object (https://core.telegram.org/bots/api#message).
Entity offsets and lengths count UTF-16 code units, as the Bot API says.
"""
from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass

from bot.domain import safe_filename

# C0 controls but tab and newline, and DEL: PostgreSQL refuses NUL, and none of them shows as text.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

# Kinds of file a client can send and how we name and type them when Telegram does not.
MEDIA = {
    "animation": ("animation", ".mp4", "video/mp4"),
    "video": ("video", ".mp4", "video/mp4"),
    "video_note": ("video_note", ".mp4", "video/mp4"),
    "voice": ("voice", ".ogg", "audio/ogg"),
    "audio": ("audio", ".mp3", "audio/mpeg"),
    "document": ("document", "", "application/octet-stream"),
}
# Message content we cannot show, described by a short label so the operator knows something came.
UNSHOWN = ("poll", "game", "invoice", "story", "paid_media", "giveaway", "giveaway_winners", "checklist")
# Service messages: nothing the client wrote.
SERVICE = (
    "new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
    "group_chat_created", "supergroup_chat_created", "channel_chat_created", "message_auto_delete_timer_changed",
    "migrate_to_chat_id", "migrate_from_chat_id", "pinned_message", "successful_payment", "refunded_payment",
    "users_shared", "chat_shared", "connected_website", "write_access_allowed", "passport_data",
    "proximity_alert_triggered", "boost_added", "chat_background_set", "forum_topic_created", "forum_topic_edited",
    "forum_topic_closed", "forum_topic_reopened", "general_forum_topic_hidden", "general_forum_topic_unhidden",
    "video_chat_scheduled", "video_chat_started", "video_chat_ended", "video_chat_participants_invited",
    "web_app_data", "gift", "unique_gift",
)


@dataclass(frozen=True)
class FileRef:
    """A file to fetch with getFile; ``size`` is what Telegram announced (None when it did not)."""

    kind: str
    file_id: str
    filename: str
    content_type: str
    size: int | None = None
    smaller: tuple["FileRef", ...] = ()  # a photo's smaller versions, largest first: taken when this one is too big


@dataclass(frozen=True)
class Content:
    text: str
    files: tuple[FileRef, ...] = ()
    phone: str = ""  # the sender's own number, shared with the contact button
    service: bool = False  # a service message: nothing to store


def with_link_targets(text: str, entities: object) -> str:
    """The text with each hidden link's target written after it: "our terms (https://...)".

    Offsets count UTF-16 code units, so the text is cut in that encoding; links are filled in
    from the end so earlier offsets stay valid.
    """
    if not isinstance(entities, list):
        return text
    links = []
    for e in entities:
        if isinstance(e, dict) and e.get("type") == "text_link" and isinstance(e.get("url"), str):
            offset, length = e.get("offset"), e.get("length")
            if isinstance(offset, int) and isinstance(length, int) and offset >= 0 and length > 0:
                links.append((offset, length, e["url"]))
    if not links:
        return text
    units = text.encode("utf-16-le", "surrogatepass")
    for offset, length, url in sorted(links, reverse=True):
        end = (offset + length) * 2
        if end > len(units):
            continue
        shown = units[offset * 2:end].decode("utf-16-le", "replace")
        if shown.strip() == url:
            continue
        units = units[:end] + f" ({url})".encode("utf-16-le", "surrogatepass") + units[end:]
    return units.decode("utf-16-le", "replace")


def storable(value: str) -> str:
    """Text the databases can hold: lone surrogates (JSON allows "\\ud800") replaced, control characters out."""
    value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return CONTROL.sub("", value)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _size(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _media(kind: str, obj: dict, message_id: object) -> FileRef | None:
    file_id = _str(obj.get("file_id"))
    if not file_id:
        return None
    stem, ext, default_type = MEDIA[kind]
    # A Telegram file name is a name, never a path: keep all of it ("2026/11.pdf" -> "2026_11.pdf").
    name = _str(obj.get("file_name")).replace("/", "_").replace("\\", "_")
    content_type = _str(obj.get("mime_type")).lower() or (mimetypes.guess_type(name)[0] if name else None) or default_type
    if not name:
        ext = ext or mimetypes.guess_extension(content_type) or ""
        name = f"{stem}_{message_id}{ext}"
    return FileRef(kind, file_id, safe_filename(name, f"{stem}_{message_id}{ext}"), content_type, _size(obj.get("file_size")))


def _area(p: dict) -> int:
    w, h = p.get("width"), p.get("height")
    return w * h if isinstance(w, int) and isinstance(h, int) else 0


def _photo(sizes: list, message_id: object) -> FileRef | None:
    """The largest size of a photo, with the smaller sizes to fall back on when it is over the limit."""
    usable = sorted((p for p in sizes if isinstance(p, dict) and _str(p.get("file_id"))),
                    key=lambda p: (_area(p), _size(p.get("file_size")) or 0), reverse=True)
    if not usable:
        return None
    refs = [FileRef("photo", p["file_id"], f"photo_{message_id}.jpg", "image/jpeg", _size(p.get("file_size")))
            for p in usable]
    return FileRef(**{**refs[0].__dict__, "smaller": tuple(refs[1:])})


def _duration(obj: dict) -> str:
    seconds = _size(obj.get("duration"))
    if seconds is None:
        return ""
    return f", {seconds // 60}:{seconds % 60:02d}"


def _sender_name(origin: dict) -> str:
    kind = origin.get("type")
    if kind == "user" and isinstance(origin.get("sender_user"), dict):
        user = origin["sender_user"]
        return " ".join(filter(None, (_str(user.get("first_name")), _str(user.get("last_name"))))) or "a user"
    if kind == "hidden_user":
        return _str(origin.get("sender_user_name")) or "a user"
    if kind in ("chat", "channel"):
        chat = origin.get("sender_chat") or origin.get("chat")
        if isinstance(chat, dict):
            return _str(chat.get("title")) or _str(chat.get("username")) or "a chat"
    return "someone"


def _coordinates(location: dict) -> str:
    lat, lon = location.get("latitude"), location.get("longitude")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon)):
        return ""
    return f"{lat:.6f}, {lon:.6f} https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"


def phone_number(value: object) -> str:
    """A shared phone number in E.164 form (+ and digits), or "" when it is not one."""
    digits = "".join(ch for ch in _str(value) if ch.isdigit())
    return f"+{digits}" if 6 <= len(digits) <= 15 else ""


def message_content(msg: dict, sender_id: object) -> Content:
    """The client-visible text and files of one Message; labels in brackets for what is not plain text."""
    mid = msg.get("message_id")
    lines: list[str] = []
    files: list[FileRef] = []
    phone = ""
    origin = msg.get("forward_origin")
    if isinstance(origin, dict):
        lines.append(f"[forwarded from {_sender_name(origin)}]")
    text = _str(msg.get("text"))
    if text:
        lines.append(with_link_targets(text, msg.get("entities")))
    if isinstance(msg.get("photo"), list) and (ref := _photo(msg["photo"], mid)):
        files.append(ref)
    for kind in ("animation", "video", "video_note", "voice", "audio", "document"):
        obj = msg.get(kind)
        if isinstance(obj, dict) and (ref := _media(kind, obj, mid)):
            files.append(ref)
            if kind in ("voice", "video_note"):
                lines.append(f"[{kind.replace('_', ' ')}{_duration(obj)}]")
            if kind == "animation":
                break  # an animation also arrives as a document: the same file once
    sticker = msg.get("sticker")
    if isinstance(sticker, dict):
        lines.append(f"[sticker {_str(sticker.get('emoji'))}]".replace(" ]", "]"))
    contact = msg.get("contact")
    if isinstance(contact, dict):
        number = phone_number(contact.get("phone_number"))
        name = " ".join(filter(None, (_str(contact.get("first_name")), _str(contact.get("last_name")))))
        lines.append(f"[contact] {', '.join(filter(None, (name, number or _str(contact.get('phone_number')))))}".strip())
        # Only the contact button shares the sender's own number with their user id: Telegram vouches for it.
        if number and contact.get("user_id") is not None and contact.get("user_id") == sender_id:
            phone = number
    venue = msg.get("venue")
    location = msg.get("location")
    if isinstance(venue, dict):
        where = ", ".join(filter(None, (_str(venue.get("title")), _str(venue.get("address")))))
        coords = _coordinates(venue.get("location")) if isinstance(venue.get("location"), dict) else ""
        lines.append(" ".join(filter(None, ("[venue]", where, coords))))
    elif isinstance(location, dict):
        lines.append(" ".join(filter(None, ("[location]", _coordinates(location)))))
    dice = msg.get("dice")
    if isinstance(dice, dict):
        lines.append(f"[dice {_str(dice.get('emoji'))} {dice.get('value', '')}]")
    caption = _str(msg.get("caption"))
    if caption:
        lines.append(with_link_targets(caption, msg.get("caption_entities")))
    for kind in UNSHOWN:
        if kind in msg:
            question = _str(msg[kind].get("question")) if kind == "poll" and isinstance(msg[kind], dict) else ""
            lines.append(f"[{kind.replace('_', ' ')}{': ' + question if question else ''} (not shown here)]")
    if not lines and not files:
        if any(k in msg for k in SERVICE):
            return Content("", service=True)
        # Content from a newer Bot API than this code knows: store a label, so nothing goes unseen.
        lines.append("[a kind of Telegram message not shown here]")
    return Content(storable("\n".join(lines)), tuple(files), phone)
