"""Receiving by long polling: every update kind arrives as the desk's messages, confirmed only after commit."""
from __future__ import annotations

import logging

from tests.fakes.telegram_api import TOKEN
from tests.fakes.telegram_updates import TelegramUser, group_text

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes" * 300


async def test_a_text_becomes_a_ticket_and_is_confirmed_after_the_commit(telegram):
    [update_id] = telegram.fake.push(telegram.user.text("Kur ir mans pasūtījums?", message_id=101))
    await telegram.acked(update_id)
    [message] = await telegram.messages()
    assert message.text == "Kur ir mans pasūtījums?" and message.external_id == f"{telegram.user.id}:101"
    [ticket] = await telegram.tickets()
    assert ticket.chat_id == str(telegram.user.id) and ticket.language == "lv"
    identity, client = await telegram.identity()
    assert identity.display_name == "Līga Ozola" and client.language == "lv"
    # The offset moved past the update only once it was stored: every earlier poll left it unconfirmed.
    assert all(o is None or o <= update_id for o in telegram.fake.offsets[:telegram.fake.offsets.index(update_id + 1)])


async def test_a_photo_is_fetched_into_the_attachment_store(telegram):
    file_id = telegram.fake.add_file(JPEG, "photos/file.jpg")
    [update_id] = telegram.fake.push(telegram.user.photo(file_id, len(JPEG), caption="Bojāta kaste"))
    await telegram.acked(update_id)
    [message] = await telegram.messages()
    assert message.text == "Bojāta kaste"
    [attachment] = message.attachments
    assert attachment.content_type == "image/jpeg" and attachment.size == len(JPEG)
    assert telegram.desk.files.read(attachment.storage_key) == JPEG
    assert telegram.fake.calls.count("getFile") == 1


async def test_an_album_is_one_message_with_every_file(telegram):
    photos = [telegram.fake.add_file(JPEG + bytes([i]), "photos/file.jpg") for i in range(2)]
    pdf = telegram.fake.add_file(b"%PDF-1.4 invoice", "documents/file.pdf")
    user = telegram.user
    ids = telegram.fake.push(
        user.photo(photos[0], len(JPEG) + 1, caption="Trīs bildes", group="g1"),
        user.photo(photos[1], len(JPEG) + 1, group="g1"),
        user.document(pdf, 16, "pavadzīme.pdf", "application/pdf", group="g1"),
        user.text("Un vēl kas"))
    await telegram.acked(*ids)
    album, after = await telegram.messages()
    assert album.external_id == f"{user.id}:album:g1" and album.text == "Trīs bildes"
    assert [a.filename for a in album.attachments][2] == "pavadzīme.pdf" and len(album.attachments) == 3
    assert after.text == "Un vēl kas"  # a text sent after the album is stored after it


async def test_a_late_album_item_joins_the_stored_album(telegram):
    user = telegram.user
    first = telegram.fake.add_file(JPEG, "photos/file.jpg")
    late = telegram.fake.add_file(JPEG + b"late", "photos/file.jpg")
    [first_id] = telegram.fake.push(user.photo(first, len(JPEG), caption="Pirmā", group="g2"))
    await telegram.acked(first_id)
    [late_id] = telegram.fake.push(user.photo(late, len(JPEG) + 4, caption="Vēlā", group="g2"))
    await telegram.acked(late_id)
    [album] = await telegram.messages()
    assert len(album.attachments) == 2 and album.text == "Pirmā\nVēlā"


async def test_an_edit_changes_the_stored_message_and_adds_none(telegram):
    user = telegram.user
    ids = telegram.fake.push(user.text("Pasūtījums A-1042", message_id=150), user.edit(150, "Pasūtījums A-1043"))
    await telegram.acked(*ids)
    [message] = await telegram.messages()
    assert message.text == "Pasūtījums A-1043" and message.edited_at is not None


async def test_the_clients_own_contact_is_a_verified_phone(telegram):
    ids = telegram.fake.push(telegram.user.contact("371 2000 0001"),
                             TelegramUser(id=6100000002, first_name="Hans").contact("+49 151 2345678", own=False))
    await telegram.acked(*ids)
    _, client = await telegram.identity()
    assert client.phone == "+37120000001"
    _, other = await telegram.identity("6100000002")
    assert other.phone == ""  # someone else's card proves nothing


async def test_start_with_a_payload_marks_the_tickets_source(telegram):
    [update_id] = telegram.fake.push(telegram.user.text("/start order-A1042"))
    await telegram.acked(update_id)
    [ticket] = await telegram.tickets()
    assert ticket.source == "order-A1042"


async def test_groups_and_unsupported_updates_are_recorded_and_ignored(telegram, caplog):
    caplog.set_level(logging.INFO, "channels.telegram")
    ids = telegram.fake.push(group_text("@shop_help_bot hi", telegram.user),
                             {"poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": False,
                                       "is_anonymous": True, "type": "regular", "allows_multiple_answers": False}},
                             telegram.user.text("Sveiki"))
    await telegram.acked(*ids)
    assert [m.text for m in await telegram.messages()] == ["Sveiki"]
    state = await telegram.adapter.pipeline.desk.load_state("telegram", "ignored")
    assert state["counts"] == {"supergroup chat": 1, "poll updates are not served": 1}
    assert [r["update_id"] for r in state["recent"]] == ids[:2]
    assert f"update {ids[0]} ignored" in caplog.text


async def test_files_over_the_limit_or_of_refused_types_leave_a_note(make_telegram, fake_api):
    telegram = await make_telegram(media_types=[])  # no voice, audio or video from this bot
    user = telegram.user
    big = fake_api.add_file(b"x" * 2048, "documents/file.pdf")
    exe = fake_api.add_file(b"MZ", "documents/file.exe")
    voice = fake_api.add_file(b"OggS", "voice/file.oga")
    ids = fake_api.push(user.document(big, 11 * 1024 * 1024, "huge.pdf", "application/pdf"),
                        user.document(exe, 2, "setup.exe", "application/x-msdownload"),
                        user.voice(voice, 4, message_id=777))
    await telegram.acked(*ids)
    texts = [m.text for m in await telegram.messages()]
    assert texts == ["[huge.pdf not stored: 11.5 MB is over the 10.5 MB limit]",
                     "[setup.exe not stored: files of type application/x-msdownload are not accepted]",
                     "[voice, 0:05]\n[voice_777.ogg not stored: files of type audio/ogg are not accepted]"]
    assert "getFile" not in fake_api.calls


async def test_voice_is_stored_as_a_download(telegram):
    voice = telegram.fake.add_file(b"OggS" + b"\0" * 100, "voice/file.oga")
    [update_id] = telegram.fake.push(telegram.user.voice(voice, 104, duration=7))
    await telegram.acked(update_id)
    [message] = await telegram.messages()
    assert message.text == "[voice, 0:07]" and message.attachments[0].content_type == "audio/ogg"


async def test_a_download_that_fails_is_tried_again_and_stored_once(telegram, caplog):
    photo = telegram.fake.add_file(JPEG, "photos/file.jpg")
    telegram.fake.fail("download", 502, times=2)
    [update_id] = telegram.fake.push(telegram.user.photo(photo, len(JPEG)))
    await telegram.acked(update_id)
    [message] = await telegram.messages()
    assert len(message.attachments) == 1 and telegram.fake.calls.count("getFile") == 3
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_blocking_the_bot_marks_the_client_unreachable_and_unblocking_clears_it(telegram):
    user = telegram.user
    [first] = telegram.fake.push(user.text("Sveiki"))
    await telegram.acked(first)
    [blocked] = telegram.fake.push(user.blocked())
    await telegram.acked(blocked)
    identity, _ = await telegram.identity()
    assert identity.unreachable and identity.unreachable_reason == "the client blocked the bot"
    [again] = telegram.fake.push(user.blocked(False))
    await telegram.acked(again)
    identity, _ = await telegram.identity()
    assert not identity.unreachable and identity.unreachable_reason == ""


async def test_get_updates_errors_are_retried_with_back_off(telegram, caplog):
    telegram.fake.fail("getUpdates", 502, times=2)
    [update_id] = telegram.fake.push(telegram.user.text("Pēc kļūdas"))
    await telegram.acked(update_id)
    assert [m.text for m in await telegram.messages()] == ["Pēc kļūdas"]
    assert "getUpdates failed" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_a_webhook_left_set_is_reported_and_polling_resumes_once_it_is_gone(telegram, caplog):
    caplog.set_level(logging.WARNING, "channels.telegram")
    telegram.fake.webhook = {"url": "https://old.example.com/hook", "secret_token": "", "allowed_updates": None}
    [update_id] = telegram.fake.push(telegram.user.text("Vai kāds dzird?"))
    await telegram.fake.wait_until(lambda: "webhook is active" in caplog.text, 10, "the conflict warning")
    assert "helpline telegram delete-webhook" in caplog.text
    telegram.fake.webhook = {"url": "", "secret_token": "", "allowed_updates": None}
    await telegram.acked(update_id)
    assert [m.text for m in await telegram.messages()] == ["Vai kāds dzird?"]


async def test_operator_typing_shows_in_telegram_at_most_every_few_seconds(telegram):
    await telegram.adapter.show_typing(str(telegram.user.id))
    await telegram.adapter.show_typing(str(telegram.user.id))
    assert telegram.fake.calls.count("sendChatAction") == 1
    assert telegram.fake.chat_actions == [(str(telegram.user.id), "typing")]
