"""The digest's figures against a small desk with known answers, masking, the page, the CLI formats, the email."""
from __future__ import annotations

import re
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from bot.actions.complaints import edit_complaint, mark_complaint, register_complaint
from bot.actions.context import unit_of_work
from bot.actions.segments import pin_segment
from bot.actions.surveys import answer_by_link, schedule_missed, send_due_surveys
from bot.actions.tickets import reply_to_ticket, resolve_ticket, transfer_ticket
from bot.feedback.digest import build_digest
from bot.feedback.lexicon import DEFAULT_MASKS
from bot.feedback.periods import days, parse_period
from bot.feedback.render import as_json, markdown, standalone_html
from bot.feedback.words import Masker
from bot.storage.models import Message, Survey, Ticket, TicketSla, UnansweredQuestion, utcnow
from tests.feedback.conftest import client_writes, operator

TOKEN = re.compile(r"/survey/([A-Za-z0-9_-]+)")


async def _ticket(desk, viewer, text, user, queue=None, reply=True, resolve=True, **kw) -> int:
    receipt = await client_writes(desk, text, user=user, **kw)
    if queue:
        await transfer_ticket(desk, viewer, receipt.ticket_id, queue=queue)
    if reply:
        await reply_to_ticket(desk, viewer, receipt.ticket_id, "Sorted, thank you.")
    if resolve:
        await resolve_ticket(desk, viewer, receipt.ticket_id)
    return receipt.ticket_id


async def _answer(desk, ticket_id, score, comment="") -> None:
    async with desk.sessions() as s:
        text = (await s.execute(select(Message.text).join(Survey, Survey.message_id == Message.id)
                                .where(Survey.ticket_id == ticket_id))).scalar_one()
    await answer_by_link(desk, TOKEN.search(text).group(1), score, comment)


async def known_desk(desk, sla_state: bool = True):
    """A desk whose digest for yesterday..tomorrow has known figures (see the asserts).

    ``sla_state`` writes the router's SLA levels of two open tickets; a live desk's router keeps its own.
    """
    now = utcnow()
    anna = await operator(desk, "anna", queues=("general",))
    mark = await operator(desk, "mark", queues=("billing", "delivery", "general"))
    await operator(desk, "olga", role="supervisor", queues=("general", "billing", "delivery"))
    t1 = await _ticket(desk, anna, "Sizes?", "c1")
    t2 = await _ticket(desk, anna, "Colours?", "c2")
    t3 = await _ticket(desk, mark, "Invoice please", "c3", queue="billing")
    t4 = await _ticket(desk, mark, "Where is it?", "c4", queue="delivery")
    await schedule_missed(desk)
    await send_due_surveys(desk, "http://desk.test", now=now + timedelta(hours=2))
    for ticket_id, score, comment in ((t1, 5, ""), (t2, 4, ""), (t3, 2, "You charged me twice, mail jane.doe@example.com or call +371 2612 3456"),
                                      (t4, 1, "")):
        await _answer(desk, ticket_id, score, comment)
    t5 = await _ticket(desk, mark, "My parcel NW-123456 is late, still waiting", "c5", queue="delivery", reply=False, resolve=False)
    t6 = await _ticket(desk, mark, "Посылка опоздала, заказ #99887766", "c6", queue="delivery", reply=False, resolve=False, locale="ru")
    t7 = await _ticket(desk, anna, "Das Paket ist verspätet <script>x</script>", "c7", channel="webchat", reply=False, resolve=False, locale="de")
    t8 = await _ticket(desk, anna, "Your agent was rude", "c8", reply=False, resolve=False)
    late = await mark_complaint(desk, mark, t5)
    await mark_complaint(desk, mark, t6)
    await mark_complaint(desk, anna, t7)
    async with unit_of_work(desk) as unit:  # registered three days ago: the previous period
        await register_complaint(unit, desk.settings, await unit.session.get(Ticket, t8), source="operator",
                                 summary="Your agent was rude", now=now - timedelta(days=3))
    olga = (await operator(desk, "boss", role="manager", queues=()))
    await edit_complaint(desk, olga, late, due_date=now - timedelta(days=1))
    async with desk.sessions() as s:
        c4 = (await s.get(Ticket, t4)).client_id
    await pin_segment(desk, c4, segment="loyal", add_tags=["VIP"])
    if sla_state:
        async with desk.sessions() as s, s.begin():  # the router's SLA state of open tickets, as its worker keeps it
            s.add(TicketSla(ticket_id=t5, level=2, clock="first_response"))
            s.add(TicketSla(ticket_id=t7, level=1, clock="first_response"))
    async with desk.sessions() as s, s.begin():  # the bot's table, as self-service fills it
        for question in ("Can I pay with PayPal?", "can i pay with paypal?", "Можно ли оплатить при получении?"):
            s.add(UnansweredQuestion(ticket_id=t1, language="ru" if "Можно" in question else "en", question=question,
                                     kind="no_match", article="", score=0.0, created_at=now))
    today = now.astimezone(timezone.utc).date()
    return days(today - timedelta(days=1), today + timedelta(days=1), timezone.utc), now + timedelta(hours=2)


async def test_digest_figures_match_the_known_answers(fdesk):
    period, now = await known_desk(fdesk)
    d = await build_digest(fdesk, period, now)
    assert {k: d.totals[k] for k in ("tickets_opened", "complaints", "complaints_previous", "surveys_sent", "survey_answers",
                                     "csat", "satisfied")} == {
        "tickets_opened": 8, "complaints": 4, "complaints_previous": 1, "surveys_sent": 4, "survey_answers": 4,
        "csat": 3.0, "satisfied": 0.5}
    assert [(c.name, c.count, c.previous) for c in d.by_category] == [
        ("delivery_delay", 3, 0), ("billing_error", 1, 0), ("rude_staff", 0, 1)]
    assert [(c.name, c.count, c.previous) for c in d.by_queue] == [("delivery", 2, 0), ("general", 1, 1), ("billing", 1, 0)]
    assert [(c.name, c.count, c.previous) for c in d.by_channel] == [("fakemail", 3, 1), ("webchat", 1, 0)]
    theme = d.themes[0]
    assert (theme.name, theme.count, theme.languages) == ("Parcel late or not arrived", 3, ["de", "en", "ru"])
    assert "My parcel [order] is late, still waiting" in theme.quotes and "Посылка опоздала, заказ [order]" in theme.quotes
    twice = next(t for t in d.themes if t.name == "Charged twice or wrong amount")
    assert twice.quotes == ["You charged me twice, mail [email] or call [phone]"]
    assert [(c.name, c.responses, c.average, c.satisfied) for c in d.csat_by_queue] == [
        ("general", 2, 4.5, 1.0), ("billing", 1, 2.0, 0.0), ("delivery", 1, 1.0, 0.0)]
    assert [(c.name, c.responses, c.average) for c in d.csat_by_operator] == [("Anna", 2, 4.5), ("Mark", 2, 1.5)]
    # Four tickets never got an operator's reply within the hour: two of general's four, two of delivery's three.
    assert [(q.queue, q.tickets, q.breached, q.light) for q in d.sla] == [
        ("delivery", 3, 2, "red"), ("general", 4, 2, "red"), ("billing", 1, 0, "green")]
    assert [(q.queue, q.red_now, q.yellow_now) for q in d.sla] == [("delivery", 1, 0), ("general", 0, 1), ("billing", 0, 0)]
    assert [o["reference"] for o in d.overdue] == ["C-1002"] and d.overdue[0]["days_over"] == 1
    assert [(r["events"][0]["what"]) for r in d.at_risk] == ["score 1"]
    assert d.unanswered[0] == {"question": "Can I pay with PayPal?", "count": 2, "languages": ["en"]}

    shown = markdown(d, "Desk") + standalone_html(d, "Desk")
    for secret in ("jane.doe@example.com", "2612 3456", "NW-123456", "99887766"):
        assert secret not in shown + as_json(d)
    assert "<script>x" not in shown and "&lt;script&gt;x" in markdown(d, "Desk")
    assert "&lt;script&gt;x&lt;/script&gt;" in standalone_html(d, "Desk")
    # A loyal client at risk reads in the manager's language too, in every rendering.
    number = d.at_risk[0]["events"][0]["ticket"]
    assert f"#{number} оценка 1" in markdown(d, "Desk", language="ru")
    assert f">#{number}</a> оценка 1" in standalone_html(d, "Desk", language="ru")


def test_masking_is_configurable():
    masker = Masker.of({**DEFAULT_MASKS, "iban": r"\bLV\d{2}[A-Z]{4}\d{13}\b"})
    assert masker("Refund to LV80BANK0000435195001 please, card 5500-0000-0000-0004, mail a.b@c.lv") == \
        "Refund to [iban] please, card [card], mail [email]"
    assert Masker.of({})("jane@example.com") == "jane@example.com"


def test_periods():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    riga, now = ZoneInfo("Europe/Riga"), datetime(2026, 11, 18, 10, tzinfo=timezone.utc)  # a Wednesday
    week = parse_period("week", riga, now)
    assert (week.first_day.isoformat(), week.last_day.isoformat()) == ("2026-11-09", "2026-11-15")
    assert week.start == datetime(2026, 11, 8, 22, tzinfo=timezone.utc)  # local midnight, UTC+2
    assert (week.previous.first_day.isoformat(), week.previous.last_day.isoformat()) == ("2026-11-02", "2026-11-08")
    month = parse_period("month", riga, now)
    assert (month.first_day.isoformat(), month.last_day.isoformat(), month.label) == ("2026-10-01", "2026-10-31", "October 2026")
    assert parse_period("2026-03-28:2026-03-30", riga, now).end - parse_period("2026-03-28:2026-03-30", riga, now).start == \
        timedelta(hours=71)  # the clocks went forward
    from bot.errors import InvalidInput
    for bad in ("fortnight", "2026-02-30:2026-03-01", "2026-03-02:2026-03-01", "2020-01-01:2026-01-01"):
        with pytest.raises(InvalidInput):
            parse_period(bad, riga, now)


async def test_the_digest_page_is_for_managers_and_supervisors(fserver):
    period, _ = await known_desk(fserver.desk, sla_state=False)
    url = f"{fserver.url}/console/digest?from={period.first_day}&to={period.last_day}"
    async with await fserver.logged_in("boss") as http:
        async with http.get(url) as r:
            page = await r.text()
        assert r.status == 200
        assert "Parcel late or not arrived" in page and "My parcel [order] is late" in page and "NW-123456" not in page
        assert 'class="light-row light-row-green"' in page and "<svg" in page and "&lt;script&gt;" in page and "<script>x" not in page
        async with http.get(f"{fserver.url}/console/digest?from=2026-01-02&to=2026-01-01") as r:
            assert r.status == 400
    async with await fserver.logged_in("anna") as http:
        async with http.get(url) as r:
            assert r.status == 403
