"""Sending through the outbox: HTML, long replies split in order, files, keyboards, 429, 5xx and 403."""
from __future__ import annotations

from bot.actions.operators import create_operator, log_in
from bot.actions.tickets import reply_to_ticket
from bot.domain import Attachment, OutboundMessage
from tests.fakes.telegram_api import TOKEN, visible_text


async def ticket_and_operator(telegram):
    """The client wrote once; an operator of the general queue is logged in."""
    [update_id] = telegram.fake.push(telegram.user.text("Sveiki, vajag palīdzību"))
    await telegram.acked(update_id)
    [ticket] = await telegram.tickets()
    await create_operator(telegram.desk, "anna", "Anna", "password-123", "operator", ["general"], ["en"])
    _, viewer = await log_in(telegram.desk, "anna", "password-123")
    return ticket, viewer


async def delivered(telegram, count: int) -> None:
    async def check():
        items = await telegram.outbox()
        return len(items) >= count and all(i.status in ("sent", "failed") for i in items)
    await telegram.until(check, f"{count} outbox item(s) done")


async def test_a_ten_thousand_character_reply_arrives_split_and_in_order(telegram):
    ticket, anna = await ticket_and_operator(telegram)
    paragraphs = [f"{i}. <b>Solis</b> & \"pēdiņas\" — " + "vārds " * 150 for i in range(12)]
    text = "\n\n".join(paragraphs).strip()
    assert len(text) > 10_000
    await reply_to_ticket(telegram.desk, anna, ticket.id, text)
    await telegram.start_worker()
    await delivered(telegram, 1)
    sent = [s for s in telegram.fake.sent if s.method == "sendMessage"]
    assert len(sent) == 3 and all(s.parse_mode == "HTML" for s in sent)
    shown = [visible_text(s.text) for s in sent]
    assert "".join(shown).strip() == text  # every character, in order, the markup shown as typed
    assert "&lt;b&gt;Solis&lt;/b&gt; &amp;" in sent[0].text
    [item] = await telegram.outbox()
    assert item.status == "sent"
    [reply] = await telegram.messages("out")
    assert reply.delivery_status == "sent" and reply.external_id == f"out:{telegram.user.id}:{sent[0].message_id}"


async def test_operator_files_go_as_photo_and_document(telegram):
    ticket, anna = await ticket_and_operator(telegram)
    png = b"\x89PNG\r\n\x1a\n" + b"p" * 100
    pdf = b"%PDF-1.4 " + b"d" * 100
    await reply_to_ticket(telegram.desk, anna, ticket.id, "Rēķins un bilde",
                          (Attachment("bilde.png", "image/png", len(png), data=png),
                           Attachment("rēķins.pdf", "application/pdf", len(pdf), data=pdf)))
    await telegram.start_worker()
    await delivered(telegram, 1)
    assert [(s.method, s.filename, s.data) for s in telegram.fake.sent] == [
        ("sendMessage", "", b""), ("sendPhoto", "bilde.png", png), ("sendDocument", "rēķins.pdf", pdf)]


async def test_choices_become_an_inline_keyboard_and_a_press_is_stored_and_answered(telegram):
    ticket, _ = await ticket_and_operator(telegram)
    long_choice = "Es gribētu runāt ar cilvēku, kas var atrisināt manu problēmu ar piegādi"
    message = OutboundMessage(channel="telegram", chat_id=str(telegram.user.id), text="Kā mēs tikām galā?",
                              message_id=999, ticket_public_id=ticket.public_id, choices=("1", "2", "3", "4", "5", long_choice))
    await telegram.adapter.send(message)
    [sent] = telegram.fake.sent
    buttons = [b for row in sent.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5", long_choice]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    keyboard_message = {"message_id": sent.message_id, "date": 1795500000, "chat": telegram.user.chat,
                        "text": "Kā mēs tikām galā?", "reply_markup": sent.reply_markup}
    ids = telegram.fake.push(telegram.user.press(buttons[5]["callback_data"], keyboard_message, "77001"),
                             telegram.user.press("5", keyboard_message, "77002"))
    await telegram.acked(*ids)
    presses = (await telegram.messages())[1:]
    assert [m.text for m in presses] == [long_choice, "5"]
    assert telegram.fake.answered == ["77001", "77002"]


async def test_a_429_storm_delays_replies_but_loses_none_and_keeps_their_order(telegram):
    ticket, anna = await ticket_and_operator(telegram)
    for n in range(3):
        await reply_to_ticket(telegram.desk, anna, ticket.id, f"Atbilde {n}")
    # More 429s than the outbox's max_attempts (3 in tests): waiting as told is not a failed attempt.
    telegram.fake.fail("sendMessage", 429, retry_after=1, times=4)
    await telegram.start_worker()
    await delivered(telegram, 3)
    assert telegram.fake.texts() == ["Atbilde 0", "Atbilde 1", "Atbilde 2"]
    assert [i.status for i in await telegram.outbox()] == ["sent"] * 3
    assert telegram.fake.calls.count("sendMessage") == 3 + 4


async def test_a_split_reply_interrupted_by_429_goes_on_from_where_it_stopped(telegram):
    ticket, anna = await ticket_and_operator(telegram)
    await reply_to_ticket(telegram.desk, anna, ticket.id, ("a " * 2000 + "\n\n") * 3)
    worker = await telegram.start_worker()
    telegram.fake.fail("sendMessage", 429, retry_after=1)  # hits the first part
    await delivered(telegram, 1)
    assert len(telegram.fake.texts()) == 3  # no part sent twice
    assert worker is telegram.worker


async def test_server_errors_are_retried(telegram, caplog):
    ticket, anna = await ticket_and_operator(telegram)
    await reply_to_ticket(telegram.desk, anna, ticket.id, "Pēc kļūdām")
    telegram.fake.fail("sendMessage", 502, times=2)
    await telegram.start_worker()
    await delivered(telegram, 1)
    [item] = await telegram.outbox()
    assert item.status == "sent" and item.attempts == 3 and telegram.fake.texts() == ["Pēc kļūdām"]
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


async def test_a_client_who_blocked_the_bot_is_marked_unreachable_and_not_retried(telegram):
    ticket, anna = await ticket_and_operator(telegram)
    telegram.fake.blocked.add(str(telegram.user.id))
    await reply_to_ticket(telegram.desk, anna, ticket.id, "Vai jūs tur esat?")
    await telegram.start_worker()
    await delivered(telegram, 1)
    [item] = await telegram.outbox()
    assert item.status == "failed" and item.attempts == 1
    [reply] = await telegram.messages("out")
    assert reply.delivery_status == "failed" and reply.delivery_error.startswith("the client blocked the bot")
    identity, _ = await telegram.identity()
    assert identity.unreachable and identity.unreachable_reason == "the client blocked the bot"


async def test_a_refused_message_fails_for_good(telegram):
    ticket, _ = await ticket_and_operator(telegram)
    telegram.fake.fail("sendMessage", 400, "Bad Request: chat not found")
    message = OutboundMessage(channel="telegram", chat_id=str(telegram.user.id), text="x", message_id=1,
                              ticket_public_id=ticket.public_id)
    from bot.errors import DeliveryError

    try:
        await telegram.adapter.send(message)
    except DeliveryError as exc:
        assert exc.permanent and "chat not found" in str(exc)
    else:
        raise AssertionError("a 400 must fail the delivery")
