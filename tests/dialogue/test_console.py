"""The operator's view of a ticket the bot handed over: the summary note and the bot part folded."""
from __future__ import annotations

import aiohttp

from tests.channels.webchat.conftest import Chat
from tests.dialogue.conftest import bot_settings, start_bot_desk
from tests.dialogue.test_webchat import bot_turn, handing_off, ticket_of


async def test_the_console_shows_the_summary_and_folds_the_bot_part(tmp_path, database_url):
    server, runner = await start_bot_desk(bot_settings(tmp_path, database_url))
    try:
        async with aiohttp.ClientSession() as session:
            chat = Chat(server, session)
            visitor = await chat.visitor(locale="lv")
            await bot_turn(visitor, "c1", "Kur ir mans pasūtījums NW-135790?")
            await bot_turn(visitor, "c2", "operators", until=handing_off)
            await visitor.say("c3", "Vai kāds ir?")  # after the hand-off: shown unfolded, for the operator
            ticket = await ticket_of(chat, visitor)
        await server.add_operator("anna", queues=("general",))
        operator = await server.logged_in("anna")
        async with operator:
            async with operator.get(f"{server.url}/console/tickets/{ticket.number}") as r:
                assert r.status == 200
                page = await r.text()
        folded = page[page.index('<details class="bot-part">'):page.index("</details>", page.index('<details class="bot-part">'))]
        assert "Conversation with the bot (6 messages)" in folded
        assert "NW-135790" in folded and "Vai kāds ir?" not in folded
        assert "Vai kāds ir?" in page
        assert "Hand-off summary from the bot" in page and "Order number: NW-135790" in page
    finally:
        await runner.cleanup()
