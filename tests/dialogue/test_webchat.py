"""Self-service through the web chat on a live desk: four languages, forms, hand-off, language switch."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.dialogue.setup import DIALOGUE
from bot.storage.models import BotDialogue, Message, Note, Ticket, UnansweredQuestion
from tests.dialogue.conftest import bot_chat  # noqa: F401  (the fixture)


def is_bot(frame: dict) -> bool:
    return frame["author"] == "bot"


async def bot_turn(visitor, client_id: str, text: str, *, until=lambda f: bool(f.get("choices")), payload: str = ""):
    """Send a message and collect the bot's replies up to the one ``until`` accepts (the safety net is the frame timeout)."""
    extra = {"payload": payload} if payload else {}
    await visitor.say(client_id, text, **extra)
    replies = []
    while True:
        frame = await visitor.message(is_bot)
        replies.append(frame)
        if until(frame):
            return replies


def handing_off(frame: dict) -> bool:
    return not frame.get("choices") and any(w in frame["text"] for w in (
        "passing you to a person", "Передаю вас", "Átadom", "Nododu jūs", "Ich verbinde Sie", "Передаю вас людині"))


async def ticket_of(chat, visitor) -> Ticket:
    from channels.webchat.normalize import visitor_key

    async with chat.desk.sessions() as s:
        return (await s.execute(select(Ticket).where(Ticket.chat_id == visitor_key(visitor.token)))).scalar_one()


async def notes_of(chat, ticket_id: int) -> list[str]:
    async with chat.desk.sessions() as s:
        return list((await s.execute(select(Note.text).where(Note.ticket_id == ticket_id))).scalars())


async def test_a_hungarian_visitor_gets_the_hungarian_delivery_answer(bot_chat):
    visitor = await bot_chat.visitor(locale="hu-HU")
    replies = await bot_turn(visitor, "h1", "Mennyi idő alatt érkezik meg a csomag Budapestre?")
    assert replies[0]["text"].startswith("Üdvözlöm")
    assert any("munkanap" in r["text"] for r in replies)
    assert replies[-1]["choices"] == ["Igen", "Nem", "Munkatársat kérek"]
    thanks = await bot_turn(visitor, "h2", "Igen", payload="Igen", until=lambda f: True)
    assert thanks[0]["text"].startswith("Örülök")
    ticket = await ticket_of(bot_chat, visitor)
    assert (ticket.status, ticket.language, ticket.handed_off_at) == ("resolved", "hu", None)


async def test_a_latvian_client_asking_for_a_person_gets_one_with_the_order_number(bot_chat):
    visitor = await bot_chat.visitor(locale="lv")
    replies = await bot_turn(visitor, "l1", "Sveiki! Kur ir mans pasūtījums NW-204518? Jau nedēļu gaidu.")
    assert replies[-1]["choices"] == ["Jā", "Nē", "Runāt ar cilvēku"]
    replies = await bot_turn(visitor, "l2", "Runāt ar cilvēku", payload="Runāt ar cilvēku", until=handing_off)
    assert "Nododu jūs cilvēkam" in replies[-1]["text"]
    ticket = await ticket_of(bot_chat, visitor)
    assert ticket.handed_off_at is not None and ticket.language == "lv"
    [summary] = await notes_of(bot_chat, ticket.id)
    assert "Order number: NW-204518" in summary and "Latvian (lv)" in summary
    assert "order-tracking" in summary and "Hand-off: client asked" in summary
    # From now on the bot is silent: the client's next message waits for a person.
    await visitor.say("l3", "Paldies, gaidu")
    await bot_chat.server.app[DIALOGUE].settle()
    async with bot_chat.desk.sessions() as s:
        last = (await s.execute(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id.desc()))).scalars().first()
    assert last.author_kind == "client"


async def test_a_russian_faq_miss_then_a_form_with_a_wrong_then_a_right_order_number(bot_chat):
    visitor = await bot_chat.visitor(locale="ru-RU")
    replies = await bot_turn(visitor, "r1", "где мой заказ? жду уже неделю")
    assert replies[-1]["choices"] == ["Да", "Нет", "Связаться с человеком"]
    replies = await bot_turn(visitor, "r2", "Нет", payload="Нет")
    assert "номер заказа" in replies[-1]["text"] and replies[-1]["choices"] == ["Пропустить", "Связаться с человеком"]
    replies = await bot_turn(visitor, "r3", "12345")
    assert "не похоже на номер заказа" in replies[-1]["text"]
    replies = await bot_turn(visitor, "r4", "nw-777001")
    assert "электронной почты" in replies[-1]["text"]
    replies = await bot_turn(visitor, "r5", "Пропустить", payload="Пропустить", until=handing_off)
    ticket = await ticket_of(bot_chat, visitor)
    [summary] = await notes_of(bot_chat, ticket.id)
    assert "Order number: NW-777001" in summary and "Email: skipped" in summary and "did not help" in summary
    async with bot_chat.desk.sessions() as s:
        [unanswered] = (await s.execute(select(UnansweredQuestion).where(UnansweredQuestion.ticket_id == ticket.id))).scalars()
    assert (unanswered.kind, unanswered.article, unanswered.language) == ("not_helpful", "order-tracking", "ru")


async def test_an_unknown_question_is_recorded_and_handed_off_with_the_email(bot_chat):
    visitor = await bot_chat.visitor(locale="en-US")
    replies = await bot_turn(visitor, "e1", "Do you sell second-hand cars?")
    assert "could not find an answer" in replies[-2]["text"] and "email address" in replies[-1]["text"]
    replies = await bot_turn(visitor, "e2", "not sure")
    assert "does not look like an email" in replies[-1]["text"]
    await bot_turn(visitor, "e3", "you can write to jane@example.com", until=handing_off)
    ticket = await ticket_of(bot_chat, visitor)
    [summary] = await notes_of(bot_chat, ticket.id)
    assert "Email: jane@example.com" in summary and "no answer found" in summary
    async with bot_chat.desk.sessions() as s:
        kinds = list((await s.execute(select(UnansweredQuestion.kind).where(UnansweredQuestion.ticket_id == ticket.id))).scalars())
    assert kinds == ["no_match"]


async def test_a_language_switch(bot_chat):
    visitor = await bot_chat.visitor(locale="en-GB")
    await bot_turn(visitor, "s1", "hello", until=lambda f: True)
    replies = await bot_turn(visitor, "s2", "по-русски", until=lambda f: "помочь" in f["text"])
    assert replies[0]["text"] == "Хорошо, буду писать на языке: русский."
    replies = await bot_turn(visitor, "s3", "сколько стоит доставка?")
    assert "4,99 EUR" in "".join(r["text"] for r in replies) and replies[-1]["choices"][0] == "Да"
    assert (await ticket_of(bot_chat, visitor)).language == "ru"


HAND_OFF = [("en", "en-US", "I want to talk to a person"), ("ru", "ru", "оператор"), ("uk", "uk", "покличте людину"),
            ("hu", "hu", "ügyintézőt kérek"), ("lv", "lv", "operators"), ("de", "de-DE", "Mitarbeiter bitte")]


async def test_the_hand_off_words_in_each_language(bot_chat):
    for language, locale, words in HAND_OFF:
        visitor = await bot_chat.visitor(locale=locale)
        replies = await bot_turn(visitor, "w1", words, until=handing_off)
        ticket = await ticket_of(bot_chat, visitor)
        assert ticket.handed_off_at is not None and ticket.language == language, (language, replies)
        await visitor.ws.close()


async def test_choices_survive_a_reload_and_go_once_answered(bot_chat):
    visitor = await bot_chat.visitor(locale="en")
    await bot_turn(visitor, "c1", "how much does delivery cost?")
    await visitor.ws.close()
    again = await bot_chat.visitor(token=visitor.token, locale="en")
    assert again.history[-1]["choices"] == ["Yes", "No", "Talk to a person"]
    assert all("choices" not in f for f in again.history[:-1])


async def test_the_bot_is_silent_once_an_operator_is_on_the_ticket(bot_chat):
    from bot.access import Viewer  # noqa: F401
    from bot.actions.operators import viewer_of
    from bot.actions.tickets import take_ticket

    visitor = await bot_chat.visitor(locale="en")
    await bot_turn(visitor, "o1", "how much does delivery cost?")
    ticket = await ticket_of(bot_chat, visitor)
    await bot_chat.server.add_operator("olga", "supervisor", queues=("general",))
    async with bot_chat.desk.sessions() as s:
        from bot.storage.models import Operator
        olga = (await s.execute(select(Operator).where(Operator.username == "olga"))).scalar_one()
    async with bot_chat.desk.sessions() as s:
        olga = (await s.execute(select(Operator).options(selectinload(Operator.queues)).where(Operator.id == olga.id))).scalar_one()
    await take_ticket(bot_chat.desk, viewer_of(olga), ticket.id)
    await visitor.say("o2", "No")
    await bot_chat.server.app[DIALOGUE].settle()
    async with bot_chat.desk.sessions() as s:
        last = (await s.execute(select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id.desc()))).scalars().first()
        dialogue = await s.get(BotDialogue, ticket.id)
        ticket = await s.get(Ticket, ticket.id)
    assert last.author_kind == "client" and dialogue.stage == "done" and dialogue.handoff_reason == "operator joined"
    assert ticket.handed_off_at is not None
