"""normalize() over recorded Bot API updates: every kind the desk serves, and what it ignores."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from channels.telegram.normalize import Ignored, Incoming, Reachability, merge_album, normalize

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
CHAT = "5012345678"


def load(name: str):
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def incoming(name: str) -> Incoming:
    item = normalize(load(name), "telegram", NOW)
    assert isinstance(item, Incoming), item
    assert item.message.channel == "telegram" and item.message.chat_id == CHAT and item.message.user_id == CHAT
    return item


def test_text_keeps_hidden_link_targets_with_utf16_offsets():
    item = incoming("text_with_entities")
    m = item.message
    assert m.message_id == f"{CHAT}:101"
    # The emoji before the link counts two UTF-16 units: the link's target lands right after its text.
    assert m.text == ("Sveiki! Pasūtījums #A-1042 nav atnācis 📦. Skatīt noteikumus (https://shop.example.com/terms) "
                      "un rakstiet uz help@example.com")
    assert m.user_name == "Līga Ozola" and m.locale_hint == "lv"
    assert m.sent_at == datetime.fromtimestamp(1795500000, timezone.utc)
    assert not item.files and not m.edited and not m.source


def test_photo_takes_the_largest_size_and_keeps_the_caption_as_text():
    item = incoming("photo_with_caption")
    assert item.message.text == "Bojāta kaste <b>šeit</b>"  # stored as typed: the console escapes it
    [photo] = item.files
    assert (photo.kind, photo.file_id, photo.filename, photo.content_type, photo.size) == (
        "photo", "AgACAgIAAxkBAAI102x", "photo_102.jpg", "image/jpeg", 183000)
    assert [s.file_id for s in photo.smaller] == ["AgACAgIAAxkBAAI102m", "AgACAgIAAxkBAAI102s"]


@pytest.mark.parametrize("name, kind, filename, content_type, size, text", [
    ("document", "document", "rēķins 2026_11.pdf", "application/pdf", 48213, "Invoice attached"),
    ("voice", "voice", "voice_104.ogg", "audio/ogg", 20480, "[voice, 0:07]"),
    ("audio", "audio", "zvans.mp3", "audio/mpeg", 2960000, ""),
    ("video", "video", "unboxing.mp4", "video/mp4", 3100000, "Kā tas izskatījās"),
    ("video_note", "video_note", "video_note_107.mp4", "video/mp4", 412000, "[video note, 0:09]"),
    ("animation", "animation", "cat.mp4", "video/mp4", 90210, ""),
])
def test_media_become_files_to_fetch(name, kind, filename, content_type, size, text):
    item = incoming(name)
    [ref] = item.files  # an animation also comes as a document: one file
    assert (ref.kind, ref.filename, ref.content_type, ref.size) == (kind, filename, content_type, size)
    assert item.message.text == text


@pytest.mark.parametrize("name, text", [
    ("sticker", "[sticker 😡]"),
    ("location", "[location] 56.949649, 24.105186 https://www.openstreetmap.org/?mlat=56.949649&mlon=24.105186"
                 "#map=17/56.949649/24.105186"),
    ("venue", "[venue] Pakomāts Centrs, Brīvības iela 1, Rīga 56.947500, 24.106900 https://www.openstreetmap.org/"
              "?mlat=56.947500&mlon=24.106900#map=17/56.947500/24.106900"),
    ("dice", "[dice 🎲 4]"),
    ("poll_message", "[poll: Which day suits you? (not shown here)]"),
    ("forwarded", "[forwarded from Omniva]\nTracking: LV123456789"),
])
def test_content_without_files_is_described_in_text(name, text):
    item = incoming(name)
    assert item.message.text == text and not item.files


def test_own_contact_is_a_verified_phone_and_a_reply_threads():
    item = incoming("contact_own")
    assert item.phone == "+37120000001"
    assert item.message.text == "[contact] Līga Ozola, +37120000001"
    assert item.message.thread_hint == f"{CHAT}:55"


def test_someone_elses_contact_is_only_text():
    item = incoming("contact_other")
    assert item.phone == "" and item.message.text == "[contact] Hans, +491512345678"


def test_reply_points_at_the_message_it_answers():
    assert incoming("reply").message.thread_hint == f"{CHAT}:101"


def test_edit_keeps_the_message_key_and_takes_the_edit_time():
    item = incoming("edited_message")
    m = item.message
    assert m.edited and m.message_id == f"{CHAT}:101" and m.text == "Sveiki! Pasūtījums #A-1043 nav atnācis."
    assert m.sent_at == datetime.fromtimestamp(1795500060, timezone.utc)


def test_start_with_a_deep_link_payload_is_the_source():
    assert incoming("start_payload").message.source == "order-A1042"
    plain = incoming("start_plain").message
    assert plain.source == "" and plain.text == "/start"


def test_button_press_carries_the_choice_and_answers_its_query():
    item = incoming("callback_query")
    m = item.message
    assert m.message_id == "cb:4382736154920938801" and item.callback_id == "4382736154920938801"
    assert m.text == m.button_payload == "★★★★★ Lieliski" and m.thread_hint == f"{CHAT}:230"
    assert m.sent_at == NOW  # a callback query has no date of its own


def test_a_long_choice_is_found_again_from_its_digest():
    m = incoming("callback_hashed").message
    assert m.button_payload == "Es gribētu runāt ar cilvēku, kas var atrisināt manu problēmu ar piegādi"


def test_blocking_and_unblocking_the_bot():
    blocked = normalize(load("my_chat_member_kicked"), "telegram", NOW)
    assert blocked == Reachability(730100019, CHAT, CHAT, False, "the client blocked the bot")
    again = normalize(load("my_chat_member_member"), "telegram", NOW)
    assert isinstance(again, Reachability) and again.reachable


@pytest.mark.parametrize("name, kind, reason", [
    ("group_message", "message", "supergroup chat"),
    ("channel_post", "channel_post", "channel_post updates are not served"),
    ("poll_update", "poll", "poll updates are not served"),
    ("inline_query", "inline_query", "inline_query updates are not served"),
    ("service_pinned", "message", "a service message"),
])
def test_what_the_desk_ignores(name, kind, reason):
    item = normalize(load(name), "telegram", NOW)
    assert isinstance(item, Ignored) and (item.kind, item.reason) == (kind, reason)
    assert item.update_id == load(name)["update_id"]


def test_album_items_share_one_key_and_merge_into_one_message():
    items = [normalize(u, "telegram", NOW) for u in load("album")]
    assert {i.message.message_id for i in items} == {f"{CHAT}:album:13928374650192837"}
    assert all(i.album == "13928374650192837" for i in items)
    merged = merge_album(list(reversed(items)))
    assert merged.update_id == 730100030 and merged.message.text == "Trīs bildes no kastes"
    assert [f.filename for f in merged.files] == ["photo_130.jpg", "photo_131.jpg", "pavadzīme.pdf"]


def test_an_edited_album_item_edits_the_album_message():
    update = load("album")[0]
    edit = {"update_id": 730100040, "edited_message": {**update["message"], "edit_date": 1795500100, "caption": "Divas bildes"}}
    item = normalize(edit, "telegram", NOW)
    assert item.message.edited and item.message.message_id == f"{CHAT}:album:13928374650192837"
    assert item.message.text == "Divas bildes" and not item.album and not item.files


@pytest.mark.parametrize("update", [
    None, [], {}, {"update_id": "7"}, {"update_id": 7}, {"update_id": 7, "message": "hi"},
    {"update_id": 7, "message": {"chat": {"id": 1, "type": "private"}}},
    {"update_id": 7, "message": {"message_id": 1, "chat": {"id": 1, "type": "private"}, "from": {"id": "x"}}},
    {"update_id": 7, "callback_query": {"id": "1", "from": {"id": 1}, "data": "x"}},
    {"update_id": 7, "my_chat_member": {"chat": {"id": 1, "type": "private"}, "from": {"id": 1}, "new_chat_member": None}},
    {"update_id": 7, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"},
                                 "from": {"id": 1, "is_bot": False}, "text": "x", "entities": "bad"}},
])
def test_odd_input_is_ignored_never_raised(update):
    item = normalize(update, "telegram", NOW)
    assert isinstance(item, (Ignored, Incoming))


def test_a_message_of_an_unknown_kind_is_stored_with_a_label():
    update = {"update_id": 9, "message": {"message_id": 3, "date": 1, "chat": {"id": 1, "type": "private"},
                                          "from": {"id": 1, "is_bot": False, "first_name": "A"}, "hologram": {"x": 1}}}
    item = normalize(update, "telegram", NOW)
    assert item.message.text == "[a kind of Telegram message not shown here]"


def test_aiogram_parses_every_fixture():
    """The fixtures are valid Bot API objects: aiogram's own models accept each one."""
    from aiogram.types import Update

    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for update in data if isinstance(data, list) else [data]:
            Update.model_validate(update)
