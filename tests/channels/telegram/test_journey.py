"""The issue's journey against the fake Bot API: text, album, edit and contact arrive in the console as
one ticket (the edit live, too); the operator's 10,000-character reply arrives split and in order."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from bot.storage.models import Message
from tests.channels.telegram.conftest import WAIT, bot_settings, start_app, until
from tests.conftest import make_settings
from tests.console.conftest import csrf_of, frame
from tests.fakes.telegram_updates import TelegramUser

JPEG = b"\xff\xd8\xff\xe0" + b"album" * 400


@pytest.fixture
async def desk_with_bot(tmp_path, database_url, fake_api):
    settings = make_settings(tmp_path, database_url, channels={"telegram": bot_settings(fake_api.url)})
    server, runner = await start_app(settings)
    yield server
    await runner.cleanup()


async def outbound_status(server, status: str) -> bool:
    async with server.desk.sessions() as s:
        out = (await s.execute(select(Message).where(Message.direction == "out"))).scalar_one_or_none()
    return out is not None and out.delivery_status == status


def confirmed(fake, update_id):
    return lambda: any(o is not None and o > update_id for o in fake.offsets)


async def test_a_telegram_client_and_an_operator_through_the_console(desk_with_bot, fake_api):
    server, user = desk_with_bot, TelegramUser()
    await server.add_operator("anna", queues=("general",))
    files = [fake_api.add_file(JPEG + bytes([i]), "photos/file.jpg") for i in range(3)]
    ids = fake_api.push(
        user.text("Sveiki! Pasūtījums A-1042 atnāca saplīsis", message_id=10),
        *(user.photo(f, len(JPEG) + 1, caption="Kaste" if i == 0 else "", group="alb", message_id=11 + i)
          for i, f in enumerate(files)),
        user.contact("+371 2000 0001", own=True))
    await fake_api.wait_until(confirmed(fake_api, ids[-1]), WAIT, "the first updates confirmed")

    async with await server.logged_in("anna") as anna:
        async with anna.get(f"{server.url}/console/tickets/1001") as r:
            page = html.unescape(await r.text())
        assert "Sveiki! Pasūtījums A-1042 atnāca saplīsis" in page and "Kaste" in page
        assert page.count("photo_1") == 3 and "[contact] Līga, +37120000001" in page
        assert re.search(r"<dt>Phone</dt><dd>\+37120000001 <span class=\"badge ok\"", page)

        async with anna.ws_connect(f"{server.url}/console/ws", origin=server.url) as ws:
            await ws.send_json({"type": "watch", "ticket": 1001, "after": 10**9})
            assert (await frame(ws, "watching"))["ticket"] == 1001
            [edit_id] = fake_api.push(user.edit(10, "Sveiki! Pasūtījums A-1043 atnāca saplīsis"))
            edited = (await frame(ws, "edited"))["message"]
            assert edited["text"] == "Sveiki! Pasūtījums A-1043 atnāca saplīsis" and edited["edited"]
        await fake_api.wait_until(confirmed(fake_api, edit_id), WAIT, "the edit confirmed")

        async with anna.get(f"{server.url}/console/tickets/1001") as r:
            page = await r.text()
        # The message shows the edit (the ticket's subject keeps the first words, as any subject does).
        assert '<div class="text">Sveiki! Pasūtījums A-1043' in page and '<div class="text">Sveiki! Pasūtījums A-1042' not in page
        assert 'class="badge edited"' in page
        async with anna.get(f"{server.url}/console?scope=all&status=all") as r:
            assert len(re.findall(r'data-number="\d+"', await r.text())) == 1  # one ticket for all of it

        reply = "\n\n".join(f"{i}. daļa <tieši tā> & vēl " + "teksts " * 120 for i in range(12)).strip()
        assert len(reply) > 10_000
        async with anna.post(f"{server.url}/console/tickets/1001/reply", allow_redirects=False,
                             data={"csrf_token": csrf_of(page), "text": reply}) as r:
            assert r.status == 303
    await until(server.desk, fake_api, lambda: outbound_status(server, "sent"), "the reply sent")
    assert fake_api.texts()[0].startswith("0. daļa <tieši tā> & vēl")
    assert len(fake_api.texts()) == 3 and "".join(fake_api.texts()).strip() == reply


async def test_the_operator_sees_that_the_client_blocked_the_bot(desk_with_bot, fake_api):
    server, user = desk_with_bot, TelegramUser()
    await server.add_operator("anna", queues=("general",))
    [first] = fake_api.push(user.text("Sveiki"))
    await fake_api.wait_until(confirmed(fake_api, first), WAIT)
    fake_api.blocked.add(str(user.id))
    async with await server.logged_in("anna") as anna:
        async with anna.get(f"{server.url}/console/tickets/1001") as r:
            page = await r.text()
        async with anna.post(f"{server.url}/console/tickets/1001/reply", allow_redirects=False,
                             data={"csrf_token": csrf_of(page), "text": "Vai jūs vēl tur esat?"}) as r:
            assert r.status == 303
        await until(server.desk, fake_api, lambda: outbound_status(server, "failed"), "the reply failed")
        async with anna.get(f"{server.url}/console/tickets/1001") as r:
            page = html.unescape(await r.text())
    assert "failed: the client blocked the bot" in page
    assert "unreachable</span> the client blocked the bot: replies through telegram do not reach them" in page
