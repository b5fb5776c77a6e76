"""The console shows email: folded quotes, the original (sanitized HTML, raw .eml), mentions; hostile HTML never runs."""
from __future__ import annotations


from sqlalchemy import select

from bot.gateway import DeskGateway
from bot.storage.models import Message, Ticket
from channels.email.adapter import EmailChannel
from tests.channels.email.conftest import email_settings, eml
from tests.channels.email.mails import mail

SCRIPTS = ("<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<svg", "alert(")


async def ingest(live_server, raw: bytes) -> Message:
    channel = EmailChannel(email_settings(), DeskGateway(live_server.desk))
    assert await channel._ingest_for("")(raw, "")
    async with live_server.desk.sessions() as s:
        return (await s.execute(select(Message).order_by(Message.id.desc()).limit(1))).scalar_one()


async def number_of(live_server, ticket_id: int) -> int:
    async with live_server.desk.sessions() as s:
        return (await s.get(Ticket, ticket_id)).number


async def get(session, url: str) -> tuple[int, str, bytes]:
    async with session.get(url) as r:
        body = await r.read()
        return r.status, r.headers.get("Content-Type", ""), body


async def test_hostile_html_mail_is_escaped_on_the_ticket_and_sanitized_on_the_original(live_server):
    message = await ingest(live_server, eml("html_only_hostile.eml"))
    number = await number_of(live_server, message.ticket_id)
    await live_server.add_operator("admin", role="admin")
    async with await live_server.logged_in("admin") as session:
        status, _, body = await get(session, f"{live_server.url}/console/tickets/{number}")
        page = body.decode()
        assert status == 200 and "I need a refund &lt;b&gt;now&lt;/b&gt;." in page
        assert "&lt;script&gt;alert(&#39;subject&#39;)&lt;/script&gt;" in page  # the subject, escaped
        assert "<script>alert" not in page and f'/console/messages/{message.id}/original"' in page
        status, _, body = await get(session, f"{live_server.url}/console/messages/{message.id}/original")
        original = body.decode()
        assert status == 200 and 'id="original-html"' in original
        section = original.split('id="original-html">', 1)[1].split("</section>", 1)[0]
        for bad in SCRIPTS:
            assert bad not in section.lower()
        assert 'href="https://example.net/track?id=1"' in section and "noopener" in section
        status, ctype, raw = await get(session, f"{live_server.url}/console/messages/{message.id}/original.eml")
        assert status == 200 and ctype == "application/octet-stream" and raw == eml("html_only_hostile.eml")


async def test_quotes_and_signature_are_folded_away_on_the_ticket_page(live_server):
    message = await ingest(live_server, eml("alternative_gmail_reply.eml"))
    number = await number_of(live_server, message.ticket_id)
    await live_server.add_operator("admin", role="admin")
    async with await live_server.logged_in("admin") as session:
        _, _, body = await get(session, f"{live_server.url}/console/tickets/{number}")
    page = body.decode()
    assert '<div class="text">Thanks, the parcel arrived today.\n\nAnna</div>' in page
    folded = page.split('<details class="folded">', 1)[1].split("</details>", 1)[0]
    assert "&gt; Your parcel is on its way." in folded and "Anna Client, Riga" in folded


async def test_an_auto_reply_is_labelled_and_a_strangers_mention_is_shown(live_server):
    first = await ingest(live_server, mail("anna@example.com", "Help", "m1@example.com"))
    number = await number_of(live_server, first.ticket_id)
    ooo = await ingest(live_server, mail("anna@example.com", f"Automatic reply [#{number}]", "m2@example.com",
                                         Auto_Submitted="auto-replied"))
    stranger = await ingest(live_server, mail("eve@example.net", f"Re: Help [#{number}]", "m3@example.net"))
    assert ooo.ticket_id == first.ticket_id and stranger.ticket_id != first.ticket_id
    await live_server.add_operator("admin", role="admin")
    async with await live_server.logged_in("admin") as session:
        _, _, own = await get(session, f"{live_server.url}/console/tickets/{number}")
        _, _, theirs = await get(session, f"{live_server.url}/console/tickets/{number + 1}")
    assert 'class="badge warn" title="Stored, never answered automatically">auto-reply' in own.decode()
    assert f"Mentions #{number}, another client&#39;s ticket: it was not joined to it." in theirs.decode()  # escaped text


async def test_the_original_is_only_for_operators_who_see_the_ticket(live_server):
    message = await ingest(live_server, eml("win1251_attachment.eml"))
    await live_server.add_operator("mark", queues=("delivery",))
    async with await live_server.logged_in("mark") as session:
        for suffix in ("original", "original.eml"):
            status, _, _ = await get(session, f"{live_server.url}/console/messages/{message.id}/{suffix}")
            assert status == 404
