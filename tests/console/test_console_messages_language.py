"""What actions say to an operator (form errors, SLA alerts) reaches the console in the operator's language.

Actions raise and store a msgid with its values; the console translates it for whoever looks, so a
Hungarian operator and a Russian supervisor each read their own language, and the CLI and logs stay English.
"""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.actions.preferences import set_console_language
from bot import console
from bot.actions.sla import fire_due
from bot.console.language import available_languages
from bot.console.layout import JS_TEXTS
from bot.dialogue.i18n import default_catalogs
from bot.errors import InvalidInput
from bot.storage.models import Notification, Operator, utcnow
from tests.console.conftest import csrf_of
from tests.console.test_console_language import shown
from tests.console.test_routing_pages import desk_app  # noqa: F401 - the fixture: a desk with a 10-minute SLA

pytestmark = pytest.mark.storage


async def speaks(desk, username: str, language: str) -> None:
    async with desk.sessions() as s:
        operator_id = (await s.execute(select(Operator.id).where(Operator.username == username))).scalar_one()
    await set_console_language(desk, operator_id, language, available_languages())


async def test_a_hungarian_operator_reads_a_refused_form_in_hungarian(desk_app):
    await desk_app.add_operator("reka", queues=("general", "delivery"))
    await speaks(desk_app.desk, "reka", "hu")
    receipt = await desk_app.client_writes("Where is my parcel?")
    url = f"{desk_app.url}/console/tickets/{receipt.ticket_number}"
    async with await desk_app.logged_in("reka") as s:
        async with s.get(url) as r:
            csrf = csrf_of(await r.text())
        async with s.post(f"{url}/note", data={"csrf_token": csrf, "text": "x" * 20_001}) as r:
            status, page = r.status, shown(await r.text())
        async with s.post(f"{url}/transfer", data={"csrf_token": csrf, "queue": "nowhere"}) as r:
            transfer_status, transfer_page = r.status, shown(await r.text())
    assert status == 400 and "a jegyzet 20001 karakter; a határ 20000" in page
    assert "characters; the limit" not in page
    assert transfer_status == 400 and "nincs 'nowhere' nevű sor" in transfer_page


async def test_an_sla_alert_reads_in_each_supervisors_language_and_old_alerts_still_show(desk_app):
    await desk_app.add_operator("boris", role="supervisor", queues=("general", "delivery"))
    await desk_app.add_operator("greta", role="supervisor", queues=("general", "delivery"))
    await speaks(desk_app.desk, "boris", "ru")
    receipt = await desk_app.client_writes("Where is my parcel?")
    await desk_app.desk.bus.drain()
    assert await fire_due(desk_app.desk, utcnow() + timedelta(minutes=15)) == 1
    async with desk_app.desk.sessions() as s:  # one alert from before alerts were stored as msgids: plain English
        greta = (await s.execute(select(Operator.id).where(Operator.username == "greta"))).scalar_one()
        await s.execute(update(Notification).where(Notification.operator_id == greta).values(
            text="#1001 is red: first response target reached in delivery — an old alert"))
        await s.commit()
    async with await desk_app.logged_in("boris") as s:
        async with s.get(f"{desk_app.url}/console/alerts") as r:
            russian = shown(await r.text())
    async with await desk_app.logged_in("greta") as s:
        async with s.get(f"{desk_app.url}/console/alerts", headers={"Accept-Language": "de"}) as r:
            old = shown(await r.text())
    number = receipt.ticket_number
    assert (f"#{number} — красный: срок «первый ответ» истёк в очереди delivery (приоритет: высокий) — Where is my parcel?"
            in russian)
    assert "target reached" not in russian
    assert "#1001 is red: first response target reached in delivery — an old alert" in old


def test_the_message_stays_english_for_logs_and_the_cli():
    error = InvalidInput("the note is {length} characters; the limit is {limit}", length=5, limit=3)
    assert str(error) == "the note is 5 characters; the limit is 3"
    assert error.translated(default_catalogs().get("de").gettext) == "die Notiz hat 5 Zeichen; die Grenze ist 3"


def test_console_js_writes_no_text_the_page_does_not_deliver_translated():
    script = (Path(console.__file__).parent / "static" / "console.js").read_text()
    said = set(re.findall(r'say\("([^"]+)"\)', script))
    said |= set(re.findall(r'(?:low_score|complaint_words): "([^"]+)"', script))  # follow-up reasons, said by lookup
    assert said and said <= set(JS_TEXTS), said - set(JS_TEXTS)
    for language in ("ru", "uk", "hu", "lv", "de"):
        t = default_catalogs().get(language).gettext
        assert all(t(text) != text for text in ("low score", "New: open the ticket, or reload to close it here."))


async def test_the_bots_hand_off_summary_reads_in_the_operators_language(tmp_path, database_url):
    from tests.channels.webchat.conftest import Chat
    from tests.dialogue.conftest import bot_settings, start_bot_desk
    from tests.dialogue.test_webchat import bot_turn, handing_off, ticket_of

    server, runner = await start_bot_desk(bot_settings(tmp_path, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(server, session)
            visitor = await chat.visitor(locale="lv")
            await bot_turn(visitor, "c1", "Kur ir mans pasūtījums NW-135790?")
            await bot_turn(visitor, "c2", "operators", until=handing_off)
            ticket = await ticket_of(chat, visitor)
        await server.add_operator("boris", queues=("general",))
        await speaks(server.desk, "boris", "ru")
        async with await server.logged_in("boris") as operator:
            async with operator.get(f"{server.url}/console/tickets/{ticket.number}") as r:
                page = shown(await r.text())
        # Written in the desk's language (English) when the bot let go; shown in Russian to Boris.
        assert "Итог общения с ботом" in page and "Номер заказа: NW-135790" in page
        assert "Передача оператору: клиент попросил" in page
        assert "Self-service summary" not in page and "Order number" not in page
    finally:
        await runner.cleanup()


async def test_a_refused_take_reads_in_the_operators_language(desk_app):
    await desk_app.add_operator("reka", queues=("general", "delivery"))
    await desk_app.add_operator("mark", queues=("general", "delivery"))
    await speaks(desk_app.desk, "reka", "hu")
    receipt = await desk_app.client_writes("Where is my parcel?")
    url = f"{desk_app.url}/console/tickets/{receipt.ticket_number}"
    for username in ("mark", "reka"):  # mark takes it first; reka may not take it over
        async with await desk_app.logged_in(username) as s:
            async with s.get(url) as r:
                csrf = csrf_of(await r.text())
            async with s.post(f"{url}/take", data={"csrf_token": csrf}) as r:
                status, page = r.status, shown(await r.text())
    assert status == 403 and f"a(z) #{receipt.ticket_number} jegy már egy másik ügyintézőhöz tartozik" in page
