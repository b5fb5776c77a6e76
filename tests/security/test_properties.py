"""Property-based tests: the normalizers and parsers take anything and answer with a value or a clear refusal.

Everything a channel receives is untrusted, so each parser is fed arbitrary input (and input
shaped like the real thing but with hostile values): it must never raise anything but its own
documented error, and what it keeps must be storable (no NUL, no lone surrogate, bounded).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config import ConfigError, parse_settings
from bot.domain import InboundMessage, safe_filename
from channels.telegram.compose import split_text, utf16_len
from channels.telegram.content import message_content
from channels.telegram.normalize import Ignored, Incoming, Reachability, normalize as telegram_normalize
from channels.webchat.normalize import ChatText, ProtocolError, parse_frame, to_inbound

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
HOSTILE = ["<script>alert(1)</script>", "\"><svg onload=alert(1)>", "javascript:alert(1)", "\u202egnp.exe",
           "\x00", "\ud800", "..", "../../etc/passwd", "C:\\Windows\\win.ini", "\r\nX-Injected: 1", "\ufeff", "😀" * 3]
text = st.one_of(st.text(), st.sampled_from(HOSTILE), st.lists(st.sampled_from(HOSTILE)).map("".join))
# JSON-like values of any shape, with hostile strings among the leaves.
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                           max_leaves=20)


def assert_storable(value: str, limit: int | None = None) -> None:
    """What the databases can hold: no NUL (PostgreSQL), valid UTF-8, within its limit."""
    assert "\x00" not in value
    value.encode("utf-8")  # raises on a lone surrogate
    if limit is not None:
        assert len(value) <= limit


def assert_inbound_storable(message: InboundMessage) -> None:
    for field in ("user_id", "chat_id", "message_id", "text", "user_name", "claimed_email", "locale_hint",
                  "thread_hint", "button_payload", "source", "subject", "folded_text", "html"):
        assert_storable(getattr(message, field))
    for reference in message.references:
        assert_storable(reference)
    for attachment in message.attachments:
        assert_storable(attachment.filename)
        assert "/" not in attachment.filename and "\\" not in attachment.filename


# --- web chat frames ----------------------------------------------------------------------------

message_frames = st.fixed_dictionaries(
    {"type": st.just("message"), "id": st.one_of(st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), json_values)},
    optional={"text": st.one_of(text, json_values), "name": st.one_of(text, json_values),
              "email": st.one_of(text, st.emails(), json_values), "payload": st.one_of(text, json_values)})
frames = st.one_of(
    message_frames,
    st.fixed_dictionaries({"type": st.sampled_from(["hello", "typing", "seen", "ping", "message", "bogus"])},
                          optional={"token": json_values, "last_seen": json_values, "up_to": json_values,
                                    "locale": json_values}),
    json_values)


@settings(max_examples=200)
@given(frame=frames)
def test_any_webchat_frame_parses_or_is_refused_with_a_code(frame):
    try:
        raw = json.dumps(frame)
    except ValueError:
        return
    try:
        parsed = parse_frame(raw, max_message_chars=2000)
    except ProtocolError as error:
        assert error.code and str(error)
        return
    if isinstance(parsed, ChatText):
        assert parsed.text.strip() and len(parsed.text) <= 2000
        assert_inbound_storable(to_inbound(parsed, "v" * 64, "en", NOW))


@settings(max_examples=200)
@given(raw=st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "surrogateescape"))))
def test_any_webchat_text_frame_parses_or_is_refused_with_a_code(raw):
    try:
        parse_frame(raw, max_message_chars=2000)
    except ProtocolError as error:
        assert error.code


def test_a_deeply_nested_frame_is_refused_not_a_crash():
    with pytest.raises(ProtocolError) as refused:
        parse_frame("[" * 100_000 + "]" * 100_000, max_message_chars=4000)
    assert refused.value.code in ("bad_json", "frame_too_large")


# --- Telegram updates ----------------------------------------------------------------------------

users = st.fixed_dictionaries({"id": st.one_of(st.integers(1, 2**40), json_values)},
                              optional={"is_bot": json_values, "first_name": text, "last_name": json_values,
                                        "username": json_values, "language_code": json_values})
chats = st.fixed_dictionaries({"id": st.one_of(st.integers(-2**40, 2**40), json_values),
                               "type": st.one_of(st.sampled_from(["private", "group", "channel"]), text, json_values)})
messages = st.fixed_dictionaries(
    {"message_id": st.one_of(st.integers(1, 2**31), json_values), "chat": st.one_of(chats, json_values),
     "from": st.one_of(users, json_values)},
    optional={"date": json_values, "text": st.one_of(text, json_values), "caption": json_values,
              "entities": st.one_of(st.lists(st.fixed_dictionaries(
                  {"type": st.sampled_from(["text_link", "url", "bold"]), "offset": st.integers(-5, 50),
                   "length": st.integers(-5, 50)}, optional={"url": json_values}), max_size=3), json_values),
              "photo": json_values, "document": json_values, "voice": json_values, "sticker": json_values,
              "contact": json_values, "location": json_values, "venue": json_values, "dice": json_values,
              "forward_origin": json_values, "reply_to_message": json_values, "media_group_id": json_values,
              "edit_date": json_values, "new_chat_members": json_values, "poll": json_values})
updates = st.one_of(
    st.sampled_from(["message", "edited_message", "channel_post"]).flatmap(
        lambda kind: st.fixed_dictionaries({"update_id": st.integers(0, 2**31), kind: messages})),
    st.fixed_dictionaries({"update_id": st.integers(0, 2**31), "callback_query": st.fixed_dictionaries(
        {"id": json_values, "from": st.one_of(users, json_values), "message": st.one_of(messages, json_values),
         "data": json_values})}),
    st.fixed_dictionaries({"update_id": st.integers(0, 2**31), "my_chat_member": st.fixed_dictionaries(
        {"chat": chats, "from": users, "new_chat_member": json_values})}),
    st.dictionaries(text, json_values, max_size=3),
    json_values)


@settings(max_examples=250)
@given(update=updates)
def test_any_telegram_update_is_a_message_or_a_stated_ignore(update):
    result = telegram_normalize(update, "telegram", NOW)
    assert isinstance(result, (Incoming, Reachability, Ignored))
    if isinstance(result, Ignored):  # recorded in the channel's state: short and storable
        assert result.reason and result.kind
        assert_storable(result.kind, 64)
        assert_storable(result.reason, 200)
        assert_storable(result.chat_id, 40)
    elif isinstance(result, Incoming):
        assert_inbound_storable(result.message)
        assert result.message.text or result.files


@settings(max_examples=200)
@given(message=st.dictionaries(st.sampled_from(["text", "photo", "document", "voice", "video_note", "sticker",
                                                "contact", "location", "venue", "dice", "forward_origin",
                                                "caption", "entities", "animation", "poll"]), json_values))
def test_any_message_content_reads_without_crashing(message):
    content = message_content(message, 42)
    assert isinstance(content.text, str)
    assert_storable(content.text)


# --- Telegram text splitting -------------------------------------------------------------------

@settings(max_examples=300)
@given(body=st.text(alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(" \n.!?😀"))),
       limit=st.integers(2, 64))
def test_split_keeps_every_character_and_respects_the_limit(body, limit):
    parts = split_text(body, limit)
    assert "".join(parts) == body
    assert all(utf16_len(p) <= limit for p in parts)
    assert all(parts) or parts == [""]


# --- file names ------------------------------------------------------------------------------

@settings(max_examples=500)
@given(name=st.one_of(text, st.lists(st.sampled_from(["..", "/", "\\", ".", " ", "a", "\u202e", "\x00", "ä"]))
                      .map("".join), st.text(min_size=100, max_size=400)))
def test_safe_filename_is_a_bare_bounded_name(name):
    safe = safe_filename(name)
    assert safe and len(safe) <= 120
    assert "/" not in safe and "\\" not in safe and safe not in (".", "..") and not safe.startswith(".")
    assert not any(ord(ch) < 32 or ch in "\x7f\u202e\u202d\u200f\u200e" for ch in safe)
    assert_storable(safe)


# --- configuration ---------------------------------------------------------------------------

config_keys = st.sampled_from(["desk", "web", "queues", "channels", "outbox", "feedback", "router", "bot",
                               "attachments", "console", "nonsense"])
config_docs = st.dictionaries(config_keys, st.one_of(json_values, st.dictionaries(
    st.sampled_from(["data_dir", "database_url", "port", "secret_key", "enabled", "name", "max_bytes",
                     "default_queue", "telegram", "email", "webchat", "survey", "typo"]), json_values, max_size=4)),
    max_size=5)


@settings(max_examples=200)
@given(document=config_docs)
def test_any_config_document_is_accepted_or_refused_with_a_dotted_key(document):
    try:
        with pytest.MonkeyPatch.context() as env:
            env.delenv("HELPLINE_SECRET_KEY", raising=False)
            parse_settings(document, "test.toml")
    except ConfigError as error:
        message = str(error)
        lines = message.splitlines()
        assert lines[0] == "test.toml is not valid:" or lines[0].startswith(("test.toml", "desk", "web", "channels")), message
        # each problem on its own line, naming its key (odd keys quoted) and the reason
        assert all(line.startswith("  ") and line.isprintable() and line.strip() for line in lines[1:]), message


def test_an_update_with_a_hostile_kind_or_chat_type_is_ignored_briefly():
    for update in ({"update_id": 1, "\x00" * 500: {}},
                   {"update_id": 2, "message": {"message_id": 1, "chat": {"id": 5, "type": "\x00<b>" * 300}, "from": {"id": 5}}}):
        result = telegram_normalize(update, "telegram", NOW)
        assert isinstance(result, Ignored)
        assert_storable(result.kind, 64)
        assert_storable(result.reason, 200)
