"""Header values of untrusted mail as clean text: RFC 2047 words, raw 8-bit bytes, any charset.

The standard library's header objects can raise on malformed input, so values are read raw and
decoded here, never raising.
"""
from __future__ import annotations

import email.header
import email.utils
import re
from email.message import Message

from channels.email.charsets import decode

MAX_HEADER = 4000
MAX_ID = 250  # an external id fits the database's 255 characters
MESSAGE_ID = re.compile(r"<([^<>\s]{1,998})>")
ANGLE_ADDR = re.compile(r"^([^<>]*)<([^<>@\s]+@[^<>\s]+)>\s*$")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SURROGATE = re.compile("[\ud800-\udfff]")  # a regex scan: a per-character test was a good part of a mail's parse
ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how 8-bit bytes arrive (surrogateescape)


def raw_header(msg: Message, name: str) -> str:
    """The first raw value of a header as received (8-bit bytes surrogate-escaped), "" when absent.

    Raw values come from ``raw_items()``: policy.default would build header objects, whose
    parsers can raise on hostile input; decoding stays here.
    """
    values = raw_headers(msg, name)
    return values[0] if values else ""


def raw_headers(msg: Message, name: str) -> list[str]:
    wanted = name.lower()
    try:
        return [str(v)[:MAX_HEADER * 4] for k, v in msg.raw_items() if k.lower() == wanted]
    except Exception:
        return []


def text(msg: Message, name: str) -> str:
    """A header's value as one line of clean text (RFC 2047 and raw 8-bit decoded)."""
    return decode_words(raw_header(msg, name))


def decode_words(value: str) -> str:
    """Unfold and decode RFC 2047 encoded words and raw 8-bit bytes; never raises."""
    value = re.sub(r"\r?\n[ \t]+", " ", value or "")
    value = _fix_surrogates(value)
    try:
        parts = email.header.decode_header(value)
        out = []
        for chunk, charset in parts:
            out.append(decode(chunk, charset) if isinstance(chunk, bytes) else chunk)
        result = "".join(out)
    except Exception:
        result = value
    return clean(result)[:MAX_HEADER]


def _fix_surrogates(value: str) -> str:
    """8-bit header bytes arrive surrogate-escaped; decode them as the charsets module would."""
    if not ESCAPED_BYTE.search(value):
        return value
    return decode(value.encode("utf-8", "surrogateescape"))


def clean(value: str) -> str:
    """Control characters out (PostgreSQL refuses NUL), lone surrogates replaced."""
    value = value.encode("utf-8", "replace").decode("utf-8", "replace") if _has_surrogates(value) else value
    return CONTROL.sub("", value).strip()


def _has_surrogates(value: str) -> bool:
    return SURROGATE.search(value) is not None


def address(msg: Message, *names: str) -> tuple[str, str]:
    """(display name, lower-cased address) of the first header among ``names`` holding an address."""
    for name in names:
        raw = _fix_surrogates(re.sub(r"\r?\n[ \t]+", " ", raw_header(msg, name)))
        if not raw:
            continue
        angle = ANGLE_ADDR.match(raw)
        if angle:  # "Name <addr>": the name is taken whole, even with an unencoded comma in it
            pairs = [(angle.group(1).strip().strip('"'), angle.group(2).strip())]
        else:
            try:
                pairs = email.utils.getaddresses([raw])
            except Exception:
                pairs = []
        for display, addr in pairs:
            addr = clean(addr).lower()
            if "@" in addr and len(addr) <= 254 and " " not in addr:
                return decode_words(display)[:200], addr
    return "", ""


def addresses(msg: Message, *names: str) -> list[str]:
    """Every lower-cased address in the given headers (To, Cc ...)."""
    found = []
    for name in names:
        for raw in raw_headers(msg, name):
            try:
                pairs = email.utils.getaddresses([_fix_surrogates(raw)])
            except Exception:
                continue
            found += [clean(a).lower() for _, a in pairs if "@" in a]
    return found


def message_ids(value: str) -> list[str]:
    """The ids in a Message-ID, In-Reply-To or References value, without angle brackets."""
    value = clean(_fix_surrogates(value))
    ids = MESSAGE_ID.findall(value)
    if not ids and value and " " not in value.strip() and len(value.strip()) > 2:
        ids = [value.strip().strip("<>")]  # some mailers drop the brackets
    return [i for i in ids if 0 < len(i) <= MAX_ID]
