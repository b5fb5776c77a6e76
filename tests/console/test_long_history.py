"""A ticket page shows the newest 200 messages of a long history and links to the whole of it."""
from sqlalchemy import func, select

from bot.storage.models import Message


async def test_a_long_history_shows_the_newest_messages_and_links_to_all(console):
    await console.add_operator("anna")
    for i in range(1, 204):
        await console.client_writes(f"Still waiting, message number {i:03d}")
    async with console.desk.sessions() as s:
        total = (await s.execute(select(func.count(Message.id)))).scalar_one()
    async with await console.logged_in("anna") as s:
        async with s.get(f"{console.url}/console/tickets/1001") as r:
            assert r.status == 200
            page = await r.text()
        assert "message number 203" in page and "message number 002" not in page  # 001 is also the subject
        assert page.count('<li class="msg ') == 200
        assert f'<a href="?history=all" id="earlier">… and {total - 200} more</a>' in page
        async with s.get(f"{console.url}/console/tickets/1001?history=all") as r:
            whole = await r.text()
        assert "message number 002" in whole and "message number 203" in whole
        assert whole.count('<li class="msg ') == total and 'id="earlier"' not in whole
