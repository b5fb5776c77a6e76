"""Outbound Telegram messages as pure functions: HTML text, splitting, inline keyboards.

Bot API limits (https://core.telegram.org/bots/api): a text message has 1-4096 characters after
entity parsing, a caption 0-1024, a button's callback_data 1-64 bytes. Lengths are counted in
UTF-16 code units, as Telegram counts them.
"""
from __future__ import annotations

import hashlib
import html
import re

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
HASHED = "#"  # callback data of a choice too long to carry: "#" and a digest, resolved from the keyboard

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _fit(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 units (astral characters count two)."""
    units = 0
    for i, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut a long text into parts of at most ``limit`` UTF-16 units, in order, losing no character.

    Each cut is at the last paragraph break, else line break, else sentence end, else space in
    the part's second half; only a text without any of those is cut mid-word. Whitespace at a
    cut stays with the part before it, so joining the parts gives the text back.
    """
    parts: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        room = _fit(rest, limit)
        cut = 0
        for pattern in _BREAKS:
            ends = [m.end() for m in pattern.finditer(rest, 0, room) if m.end() > room // 2]
            if ends:
                cut = ends[-1]
                break
        cut = cut or room
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest or not parts:
        parts.append(rest)
    return parts


def to_html(text: str) -> str:
    """Plain text for parse_mode HTML: only &, < and > need escaping (quotes are fine outside tags)."""
    return html.escape(text, quote=False)


def callback_data(choice: str) -> str:
    """The callback data of a choice button: the choice itself when it fits in 64 bytes, else a digest."""
    if 0 < len(choice.encode("utf-8")) <= MAX_CALLBACK_DATA and not choice.startswith(HASHED):
        return choice
    return HASHED + hashlib.sha256(choice.encode("utf-8")).hexdigest()[:40]


def keyboard(choices: tuple[str, ...] | list[str]) -> list[list[dict]]:
    """An inline keyboard with one choice per row (short choices, such as ratings, two or more a row)."""
    buttons = [{"text": c, "callback_data": callback_data(c)} for c in choices if c.strip()]
    if buttons and all(utf16_len(b["text"]) <= 3 for b in buttons):
        return [buttons]  # ratings and digits: one row
    return [[b] for b in buttons]


def choice_for(data: str, markup: object) -> str:
    """The choice a pressed button stands for: its text, found by its callback data in the message's keyboard."""
    if isinstance(markup, dict) and isinstance(markup.get("inline_keyboard"), list):
        for row in markup["inline_keyboard"]:
            for button in row if isinstance(row, list) else ():
                if isinstance(button, dict) and button.get("callback_data") == data and isinstance(button.get("text"), str):
                    return button["text"]
    return "" if data.startswith(HASHED) else data
