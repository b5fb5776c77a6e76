"""Frames -> desk values and back, as pure functions (no server, no database)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.domain import Attachment, AuthorKind, ConversationEntry, Direction, OutboundMessage
from channels.webchat.normalize import (
    ChatText, Hello, Ping, ProtocolError, Seen, Typing, chat_text, entry_frame, locale_of, max_frame_chars,
    outbound_frame, parse_frame, to_inbound, visitor_key,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "webchat"
NOW = datetime(2026, 11, 22, 14, 30, tzinfo=timezone.utc)
TOKEN = "k3uJ9mN2pQ7rS5tV8wX0yZ1aB4cD6eF3gH5iJ7kL9mN"


def parse(frame) -> object:
    return parse_frame(frame if isinstance(frame, str) else json.dumps(frame), 4000)


def refused(frame, max_chars: int = 4000) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_frame(frame if isinstance(frame, str) else json.dumps(frame), max_chars)
    return caught.value


def test_frames_recorded_from_the_widget_all_parse():
    """Frames chat.js sent in a real browser (tests/fixtures/webchat/client_frames.jsonl)."""
    kinds = []
    for line in (FIXTURES / "client_frames.jsonl").read_text(encoding="utf-8").splitlines():
        kinds.append(type(parse(line)).__name__)
    assert {"Hello", "ChatText", "Typing", "Seen", "Ping"} <= set(kinds)


def test_hello_keeps_a_well_formed_token_and_drops_a_bad_one():
    assert parse({"type": "hello", "token": TOKEN, "last_seen": 12, "locale": "de-DE"}) == Hello(TOKEN, 12, "de")
    assert parse({"type": "hello", "token": None}) == Hello(None, 0, "")
    for bad in ("short", "x" * 200, "has spaces in it and is long enough....", 12345, ["list"]):
        assert parse({"type": "hello", "token": bad}).token is None


@pytest.mark.parametrize("value", [-1, 1.5, "3", True, 2 ** 63])
def test_last_seen_must_be_a_whole_number(value):
    assert refused({"type": "hello", "last_seen": value}).code == "invalid_frame"


def test_hello_lists_the_ids_the_client_shows_and_an_older_widget_lists_none():
    assert parse({"type": "hello", "last_seen": 9, "have": [9, 4, 7, 4]}).have == frozenset({4, 7, 9})
    assert parse({"type": "hello", "last_seen": 0, "have": []}).have == frozenset()
    assert parse({"type": "hello", "last_seen": 9}).have is None


@pytest.mark.parametrize("value", [3, "1,2", [1, "2"], [-1], [True], list(range(201))])
def test_have_must_be_a_short_list_of_ids(value):
    assert refused({"type": "hello", "last_seen": 9, "have": value}).code == "invalid_frame"


@pytest.mark.parametrize("tag,language", [("de-DE", "de"), ("EN", "en"), ("pt_BR", "pt"), ("uk", "uk"),
                                          ("zh-Hant-TW", "zh"), ("", ""), ("x" * 50, ""), ("<b>", ""), (None, "")])
def test_locale_hint_is_the_language_subtag(tag, language):
    assert locale_of(tag) == language


def test_message_frames():
    frame = {"type": "message", "id": "a-1_B", "text": "  Hello\r\nthere  ", "name": " Jane   Doe ",
             "email": "jane@example.com"}
    assert parse(frame) == ChatText("a-1_B", "Hello\nthere", "Jane Doe", "jane@example.com")
    assert parse({"type": "message", "id": "p", "text": "Yes", "payload": "yes"}).payload == "yes"


@pytest.mark.parametrize("frame,code", [
    ({"type": "message", "text": "no id"}, "invalid_frame"),
    ({"type": "message", "id": "", "text": "x"}, "invalid_frame"),
    ({"type": "message", "id": "x" * 65, "text": "x"}, "invalid_frame"),
    ({"type": "message", "id": "a/b", "text": "x"}, "invalid_frame"),
    ({"type": "message", "id": "a", "text": 5}, "invalid_frame"),
    ({"type": "message", "id": "a", "text": "   \n "}, "empty_message"),
    ({"type": "message", "id": "a"}, "empty_message"),
    ({"type": "message", "id": "a", "text": "x", "email": "not an email"}, "invalid_frame"),
    ({"type": "message", "id": "a", "text": "x", "name": "n" * 201}, "invalid_frame"),
    ({"type": "message", "id": "a", "text": "x", "name": {"first": "J"}}, "invalid_frame"),
    ({"type": "seen"}, "invalid_frame"),
    ({"type": "seen", "up_to": "7"}, "invalid_frame"),
    ({"type": "launch"}, "unknown_type"),
    ({"kind": "message"}, "invalid_frame"),
    ([1, 2, 3], "bad_json"),
    ("not json", "bad_json"),
    ('{"type": "message", "id": "a", "text": "unterminated', "bad_json"),
    ("[" * 100_000 + "]" * 100_000, "frame_too_large"),
])
def test_bad_frames_say_what_is_wrong(frame, code):
    error = refused(frame)
    assert error.code == code and str(error)


def test_errors_of_a_message_carry_its_client_id():
    assert refused({"type": "message", "id": "c7", "text": " "}).client_id == "c7"
    assert refused({"type": "message", "id": "c8", "text": "x" * 41}, max_chars=40).client_id == "c8"
    assert refused({"type": "message", "id": "a/b", "text": "x"}).client_id is None


def test_deep_nesting_within_the_size_limit_is_bad_json_not_a_crash():
    assert refused("[" * 20_000 + "]" * 20_000).code == "bad_json"


def test_text_limit_counts_characters_after_cleaning():
    assert parse_frame(json.dumps({"type": "message", "id": "a", "text": "é" * 40}), 40).text == "é" * 40
    assert refused({"type": "message", "id": "a", "text": "é" * 41}, max_chars=40).code == "message_too_long"
    # A frame far beyond any message the limit allows is refused before it is parsed.
    big = json.dumps({"type": "message", "id": "a", "text": "x" * (max_frame_chars(40) + 1)})
    assert refused(big, max_chars=40).code == "frame_too_large"


def test_hostile_text_passes_through_unchanged():
    text = '<script>alert(1)</script> <img src=x onerror=alert(2)> &amp; "\' ${x} {{ 7*7 }}'
    assert parse({"type": "message", "id": "a", "text": text}).text == text


def test_characters_a_database_cannot_store_are_cleaned():
    frame = '{"type":"message","id":"a","text":"nul\\u0000 bell\\u0007 tab\\t lone\\udc00 pair\\ud83d\\ude00"}'
    assert parse(frame).text == "nul bell tab\t lone\ufffd pair\U0001f600"


def test_ping_typing_seen():
    assert parse({"type": "ping"}) == Ping()
    assert parse({"type": "typing"}) == Typing()
    assert parse({"type": "seen", "up_to": 41}) == Seen(41)


def test_upload_fields_may_have_no_text():
    assert chat_text({"id": "u1", "text": ""}, 100, allow_empty=True) == ChatText("u1", "")


def test_the_desk_knows_the_visitor_by_a_hash_of_the_token():
    key = visitor_key(TOKEN)
    assert key == hashlib.sha256(TOKEN.encode()).hexdigest() and TOKEN not in key
    message = to_inbound(ChatText("c1", "Hi", "Jane", "jane@example.com", "yes"), key, "de", NOW)
    assert (message.channel, message.user_id, message.chat_id) == ("webchat", key, key)
    assert message.message_id == f"{key}:c1"
    assert (message.user_name, message.claimed_email, message.locale_hint, message.button_payload) == \
        ("Jane", "jane@example.com", "de", "yes")
    assert message.sent_at == NOW


def entry(**kw) -> ConversationEntry:
    values = dict(id=7, direction=Direction.INBOUND, author_kind=AuthorKind.CLIENT, author_name="", text="Hi",
                  created_at=datetime(2026, 11, 22, 14, 30, 5, 123456), external_id="")
    values.update(kw)
    return ConversationEntry(**values)


def test_the_visitors_own_messages_carry_their_client_id():
    key = visitor_key(TOKEN)
    frame = entry_frame(entry(external_id=f"{key}:c-1"), key)
    assert frame == {"type": "message", "message_id": 7, "client_id": "c-1", "author": "client", "author_name": "",
                     "text": "Hi", "created_at": "2026-11-22T14:30:05.123Z", "attachments": []}
    # Outbound messages (external id "out:...") and ids of another visitor never become client ids.
    assert entry_frame(entry(direction=Direction.OUTBOUND, author_kind=AuthorKind.OPERATOR, author_name="Anna",
                             external_id="out:7"), key)["client_id"] is None
    assert entry_frame(entry(external_id=f"{'0' * 64}:c-1"), key)["client_id"] is None


def test_outbound_frames_list_stored_attachments_and_choices():
    message = OutboundMessage(channel="webchat", chat_id="k", text="Here is the invoice", message_id=9,
                              ticket_public_id="t", author_kind=AuthorKind.OPERATOR, author_name="Anna",
                              attachments=(Attachment("invoice.pdf", "application/pdf", 1234, storage_key="s", id=3),),
                              choices=("Yes", "No"), created_at=NOW)
    frame = outbound_frame(message)
    assert frame["attachments"] == [{"id": 3, "filename": "invoice.pdf", "content_type": "application/pdf", "size": 1234}]
    assert frame["choices"] == ["Yes", "No"] and frame["author_name"] == "Anna"
    assert frame["created_at"] == "2026-11-22T14:30:00.000Z" and "storage_key" not in json.dumps(frame)
