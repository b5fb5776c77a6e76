"""Feedback pages in the reader's language: the survey page in the client's, the digest in the manager's."""
from __future__ import annotations

import aiohttp

from bot.feedback.digest import build_digest
from bot.feedback.render import email_html, standalone_html
from bot.storage.models import utcnow
from tests.feedback.conftest import operator, resolved_ticket
from tests.feedback.test_digest import known_desk
from tests.feedback.test_survey_link import _survey_link


async def test_the_survey_page_speaks_the_clients_language(fserver):
    anna = await operator(fserver.desk, "anna")
    ticket_id = await resolved_ticket(fserver.desk, anna, "Де моє замовлення?", locale="uk")
    link = await _survey_link(fserver, ticket_id)
    async with aiohttp.ClientSession() as http:
        async with http.get(link, headers={"Accept-Language": "de"}) as r:  # the client's language, not the browser's
            page = await r.text()
        assert '<html lang="uk">' in page and "Як ми впоралися?" in page and "Надіслати відповідь" in page
        assert "How did we do?" not in page and "Send my answer" not in page
        async with http.post(link, data={"comment": "без оцінки"}) as r:
            assert r.status == 422 and "Оберіть оцінку від 1 до 5." in await r.text()
        async with http.post(link, data={"score": "5"}) as r:
            assert r.status == 200 and "Відповідь збережено" in await r.text()
        # a link that matches no survey: no client known, so the browser's language
        async with http.get(link[:-4] + "xxxx", headers={"Accept-Language": "de-AT,de;q=0.9"}) as r:
            assert r.status == 404 and "Dieser Umfragelink ist ungültig" in await r.text()


async def test_the_digest_in_the_managers_language(fserver):
    period, _ = await known_desk(fserver.desk, sla_state=False)
    url = f"{fserver.url}/console/digest?from={period.first_day}&to={period.last_day}"
    async with await fserver.logged_in("boss") as http:
        async with http.get(url, headers={"Accept-Language": "de"}) as r:
            page = await r.text()
    assert r.status == 200 and '<html lang="de">' in page
    for english, german in (("Recurring complaint themes", "Wiederkehrende Beschwerdethemen"),
                            ("Complaints by queue", "Beschwerden nach Warteschlange"),
                            ("Overdue complaints", "Überfällige Beschwerden")):
        assert german in page and english not in page
    digest = await build_digest(fserver.desk, period, utcnow())
    body, _ = email_html(digest, "Northwind", language="lv")
    assert '<html lang="lv">' in body and "Atkārtotas sūdzību tēmas" in body and 'alt="Sūdzības pa rindām"' in body
    assert "Recurring complaint themes" in standalone_html(digest, "Northwind")  # English unless asked
