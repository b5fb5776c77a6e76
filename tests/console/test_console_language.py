"""The console speaks the operator's language: their stored choice, else the browser's, else the desk default."""
from __future__ import annotations

import html
import json
import re
import shutil

import pytest

from bot.cli import main
from bot.console.language import negotiate
from bot.dialogue.i18n import LOCALE_DIR, TEMPLATE, default_catalogs, read_catalog
from tests.console.conftest import csrf_of

LANGUAGES = ("en", "ru", "uk", "hu", "lv", "de")
# Texts an operator sees on every page or on the page named; none may stay English in another language.
KEY_TEXTS = {"/console": ("My tickets", "Log out", "Last activity", "All my queues"),
             "/console/tickets/1001": ("Send reply", "Add an internal note", "Transfer"),
             "/console/complaints": ("Complaints register", "No complaints match these filters."),
             "/console/unanswered": ("Unanswered questions", "No unanswered questions in this period."),
             "/console/routing": ("Open tickets by urgency", "Operators at work")}


def shown(page: str) -> str:
    """The page's visible text: no tags (so no attributes either), entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


async def get(session, url: str, language: str = "") -> tuple[int, str]:
    headers = {"Accept-Language": language} if language else {}
    async with session.get(url, headers=headers) as r:
        return r.status, await r.text()


@pytest.mark.parametrize("language", LANGUAGES)
async def test_main_pages_in_each_language(console, language):
    await console.add_operator("sara", role="supervisor")
    await console.client_writes("My parcel is late")
    t = default_catalogs().get(language).gettext
    async with await console.logged_in("sara") as s:
        for path, texts in KEY_TEXTS.items():
            status, page = await get(s, console.url + path, f"{language}-XX,{language};q=0.9,en;q=0.5")
            assert status == 200, (path, page[:300])
            assert f'<html lang="{language}">' in page
            visible = shown(page)
            for text in texts:
                assert t(text) in visible, (language, path, text)
                if language != "en":
                    assert t(text) != text, f"{text!r} has no {language} translation"
                    assert text not in visible, (language, path, text)
            # console.js writes its own texts from the JSON in <body data-texts>, in the same language
            blob = json.loads(html.unescape(re.search(r'<body[^>]* data-texts="([^"]*)"', page).group(1)))
            assert blob["The client is typing…"] == t("The client is typing…")
    async with _jar() as anonymous:
        status, page = await get(anonymous, f"{console.url}/console/login", language)
        assert status == 200 and default_catalogs().get(language).gettext("Operator console") in shown(page)


def _jar():
    import aiohttp
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_the_switcher_stores_the_choice_over_the_browser_language(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        status, page = await get(s, f"{console.url}/console", "de")
        assert '<html lang="de">' in page and "Meine Tickets" in page
        form = {"csrf_token": csrf_of(page), "language": "lv", "next": "/console?status=all"}
        async with s.post(f"{console.url}/console/language", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/console?status=all"
        status, page = await get(s, f"{console.url}/console", "de")
        assert '<html lang="lv">' in page and "Mani pieteikumi" in page and "Meine Tickets" not in page
        # a language without a catalog, a forged form, another site as "next": refused or ignored
        async with s.post(f"{console.url}/console/language", data={**form, "language": "xx"}, allow_redirects=False) as r:
            assert r.status == 400 and "xx" in await r.text()
        async with s.post(f"{console.url}/console/language", data={**form, "csrf_token": "forged", "language": "ru"},
                          allow_redirects=False) as r:
            assert r.status == 403
        async with s.post(f"{console.url}/console/language", data={**form, "next": "https://evil.example/"},
                          allow_redirects=False) as r:
            assert r.headers["Location"] == "/console"
        assert '<html lang="lv">' in (await get(s, f"{console.url}/console", "de"))[1]
    async with await console.logged_in("anna") as again:  # stored with the operator, not the session
        status, page = await get(again, f"{console.url}/console", "ru")
        assert '<html lang="lv">' in page
        form = {"csrf_token": csrf_of(page), "language": "", "next": "/console"}
        async with again.post(f"{console.url}/console/language", data=form, allow_redirects=False) as r:
            assert r.status == 303
        assert '<html lang="ru">' in (await get(again, f"{console.url}/console", "ru"))[1]  # the browser's again


async def test_without_a_choice_or_a_known_browser_language_the_desk_default_applies(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        page = (await get(s, f"{console.url}/console", "fr-FR,fr;q=0.9"))[1]
    assert f'<html lang="{console.desk.settings.desk.default_language}">' in page


def test_accept_language_is_ranked_by_quality():
    available = list(LANGUAGES)
    assert negotiate("fr-CH, fr;q=0.9, de;q=0.7, ru;q=0.8", available) == "ru"
    assert negotiate("uk-UA,uk;q=0.9", available) == "uk"
    assert negotiate("de;q=0, hu", available) == "hu"
    assert negotiate("fr, *;q=0.5", available) == ""
    assert negotiate("de;q=abc, lv", available) == "lv"
    assert negotiate("", available) == ""


def test_check_reports_a_console_text_a_catalog_lacks(tmp_path, capsys):
    """Remove one console translation from a copy of the shipped catalogs: the check names it and fails --strict."""
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    shutil.copy(TEMPLATE, tmp_path / "locale" / TEMPLATE.name)
    po = tmp_path / "locale" / "uk" / "LC_MESSAGES" / "helpline.po"
    text = po.read_text(encoding="utf-8")
    entry = 'msgid "Unanswered questions"\nmsgstr "Питання без відповіді"'
    assert entry in text
    po.write_text(text.replace(entry, 'msgid "Unanswered questions"\nmsgstr ""'), encoding="utf-8")
    assert main(["i18n", "check", "--locale-dir", str(tmp_path / "locale"), "--strict"]) == 1
    out = capsys.readouterr().out
    total = len([m for m in read_catalog(TEMPLATE) if m.id])
    assert f"uk: {total - 1}/{total} translated" in out and "untranslated Unanswered questions" in " ".join(out.split())
    assert f"de: {total}/{total} translated" in out
