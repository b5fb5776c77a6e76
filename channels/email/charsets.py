"""Bytes of mail in any charset -> text, without ever raising: labels lie, and some are unknown.

Order of trust: valid UTF-8 wins over a single-byte label (mail labelled iso-8859-1 is often UTF-8,
and real 8-bit text is almost never valid UTF-8); then the declared charset when it decodes
cleanly; then a guess between the Cyrillic code pages and Western European; U+FFFD as the last
resort.
"""
from __future__ import annotations

import codecs
import re

# Labels seen in the wild that Python does not know, or knows under another name.
ALIASES = {
    "x-cp1251": "cp1251", "win-1251": "cp1251", "windows1251": "cp1251", "cp-1251": "cp1251",
    "x-cp1250": "cp1250", "win-1250": "cp1250", "cp-1250": "cp1250", "x-cp1252": "cp1252",
    "ks_c_5601-1987": "cp949", "ks_c_5601": "cp949", "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8", "iso-8859-6-i": "iso-8859-6", "x-mac-cyrillic": "mac_cyrillic",
    "unicode-1-1-utf-7": "utf-7", "utf8": "utf-8", "x-utf8": "utf-8", "ansi_x3.4-1968": "ascii",
    "x-koi8-u": "koi8_u", "koi8": "koi8_r", "x-sjis": "shift_jis", "ms932": "cp932",
}
# Labels that say nothing about the bytes.
MEANINGLESS = {"", "x-unknown", "unknown", "unknown-8bit", "x-user-defined", "default", "charset", "us-ascii", "ascii"}
# Codecs that decode a single byte to a single character (any bytes decode "cleanly").
SINGLE_BYTE = re.compile(r"^(cp125\d|iso8859_\d+|latin_1|koi8_[ru]|mac_\w+|cp437|cp85\d|cp866|ascii)$")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def codec_for(label: str | None) -> str | None:
    """Python's codec name for a MIME charset label, or None when unknown or meaningless."""
    name = (label or "").strip().strip("\"'").lower()
    if name in MEANINGLESS:
        return None
    name = ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name.replace("-", "_")
    except (LookupError, ValueError):
        return None


def decode(data: bytes, label: str | None = None) -> str:
    """Text of ``data`` labelled ``label``; never raises."""
    if data.isascii():
        return data.decode("ascii")
    codec = codec_for(label)
    if codec != "utf_8":
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if codec in ("utf_8", None) and _mostly_utf8(data):
        return data.decode("utf-8", "replace")
    if codec is not None:
        try:
            text = data.decode(codec)
            if codec in ("cp1251", "koi8_r"):
                # The two Cyrillic code pages are mixed up often: trust the label only when the
                # text reads as running (mostly lower-case) Cyrillic.
                return text if _lower_share(text) >= 0.5 else guess(data)
            if not SINGLE_BYTE.match(codec) or _plausible(text):
                return text
        except (UnicodeDecodeError, LookupError):
            pass
        except Exception:  # a broken codec (utf-7 on some input raises odd errors): guess instead
            pass
    return guess(data)


def _mostly_utf8(data: bytes) -> bool:
    """UTF-8 but for a few stray bytes (a cut-off end, one broken character): still read as UTF-8.

    Legacy 8-bit text almost never forms valid multi-byte sequences, so many of them and few
    errors mean UTF-8 with damage, not another charset.
    """
    text = data.decode("utf-8", "replace")
    errors = text.count("\ufffd") - data.count("\ufffd".encode())
    characters = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    return characters >= 4 and errors * 4 <= characters


def _plausible(text: str) -> bool:
    """A Latin single-byte decoding that turned mostly into letters is believed; one full of Cyrillic is not."""
    return not _looks_cyrillic_bytes(text)


def _looks_cyrillic_bytes(text: str) -> bool:
    high = sum(1 for ch in text if ord(ch) > 127)
    letters = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return high > 8 and high > letters * 0.6


def _lower_share(text: str) -> float:
    letters = [ch for ch in text if CYRILLIC.match(ch)]
    return sum(ch.islower() for ch in letters) / (len(letters) or 1)


def guess(data: bytes) -> str:
    """Undeclared 8-bit text: Cyrillic (windows-1251 or KOI8-R) when most letters are 8-bit, else windows-1252."""
    high = sum(1 for b in data if b > 127)
    ascii_letters = sum(1 for b in data if 65 <= b <= 90 or 97 <= b <= 122)
    if high > ascii_letters * 0.6:
        # Running text is mostly lower case: in windows-1251 lower-case Cyrillic is 0xE0-0xFF,
        # in KOI8-R it is 0xC0-0xDF.
        best, best_score = "cp1251", -1.0
        for codec in ("cp1251", "koi8_r"):
            score = _lower_share(data.decode(codec, "replace"))
            if score > best_score:
                best, best_score = codec, score
        return data.decode(best, "replace")
    return data.decode("cp1252", "replace")
