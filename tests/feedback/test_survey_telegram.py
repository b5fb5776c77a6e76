"""The survey on Telegram: the score buttons as an inline keyboard, a press answers without reopening the ticket."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.actions.surveys import schedule_missed, send_due_surveys
from bot.actions.tickets import reply_to_ticket, resolve_ticket
from bot.storage.models import Survey, Ticket, utcnow
from tests.channels.telegram.conftest import bot_settings, fake_api, make_telegram  # noqa: F401 (fixtures)
from tests.channels.telegram.test_sending import delivered, ticket_and_operator
from tests.conftest import make_settings


async def test_a_telegram_client_rates_with_an_inline_button(make_telegram, fake_api, tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(fake_api.url)},
                             feedback={"survey": {"enabled": True}})
    telegram = await make_telegram(settings=settings)
    ticket, anna = await ticket_and_operator(telegram)
    await reply_to_ticket(telegram.desk, anna, ticket.id, "Your parcel arrives tomorrow.")
    await resolve_ticket(telegram.desk, anna, ticket.id)
    await schedule_missed(telegram.desk)
    await send_due_surveys(telegram.desk, "http://desk.test", now=utcnow() + timedelta(hours=1))
    await telegram.start_worker()
    await delivered(telegram, 2)
    survey_message = telegram.fake.sent[-1]
    buttons = [b for row in survey_message.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["1", "2", "3", "4", "5"]  # one row of digits
    keyboard_message = {"message_id": survey_message.message_id, "date": 1795500000, "chat": telegram.user.chat,
                        "text": survey_message.text, "reply_markup": survey_message.reply_markup}
    [update_id] = telegram.fake.push(telegram.user.press(buttons[3]["callback_data"], keyboard_message, "88001"))
    await telegram.acked(update_id)
    async with telegram.desk.sessions() as s:
        survey = (await s.execute(select(Survey))).scalar_one()
        status = (await s.get(Ticket, ticket.id)).status
    assert (survey.score, survey.answered_via, survey.channel, status) == (4, "chat", "telegram", "resolved")
    await delivered(telegram, 3)
    assert telegram.fake.sent[-1].text.startswith("Paldies par vērtējumu!")  # in the client's language (lv)


async def test_a_low_score_and_a_comment_on_telegram_open_a_follow_up_and_an_acknowledged_complaint(
        make_telegram, fake_api, tmp_path, database_url):
    from bot.storage.models import Complaint, FollowUp

    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(fake_api.url)},
                             feedback={"survey": {"enabled": True}})
    telegram = await make_telegram(settings=settings)
    ticket, anna = await ticket_and_operator(telegram)
    await reply_to_ticket(telegram.desk, anna, ticket.id, "Your parcel arrives tomorrow.")
    await resolve_ticket(telegram.desk, anna, ticket.id)
    await schedule_missed(telegram.desk)
    await send_due_surveys(telegram.desk, "http://desk.test", now=utcnow() + timedelta(hours=1))
    await telegram.start_worker()
    await delivered(telegram, 2)
    survey_message = telegram.fake.sent[-1]
    first = survey_message.reply_markup["inline_keyboard"][0][0]
    keyboard_message = {"message_id": survey_message.message_id, "date": 1795500000, "chat": telegram.user.chat,
                        "text": survey_message.text, "reply_markup": survey_message.reply_markup}
    [pressed] = telegram.fake.push(telegram.user.press(first["callback_data"], keyboard_message, "88002"))
    await telegram.acked(pressed)
    await delivered(telegram, 3)  # thanks, and may we have a comment
    [commented] = telegram.fake.push(telegram.user.text("Kurjers bija rupjš un nepieklājīgs"))  # lv: rude courier
    await telegram.acked(commented)
    await delivered(telegram, 5)  # thanks for the comment; the complaint's reference
    async with telegram.desk.sessions() as s:
        survey = (await s.execute(select(Survey))).scalar_one()
        follow_up = (await s.execute(select(FollowUp))).scalar_one()
        complaint = (await s.execute(select(Complaint))).scalar_one()
        status = (await s.get(Ticket, ticket.id)).status
    assert (survey.score, survey.comment, status) == (1, "Kurjers bija rupjš un nepieklājīgs", "resolved")
    assert (follow_up.ticket_id, follow_up.status) == (ticket.id, "open") and "low_score" in follow_up.reason
    assert complaint.source == "survey"
    assert any(complaint.reference in m.text for m in telegram.fake.sent[-2:])
