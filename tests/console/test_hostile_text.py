"""Hostile text from clients (and names) is shown as text on every console page, never as markup."""
from sqlalchemy import select

from bot.actions.operators import create_operator
from bot.domain import Attachment
from bot.storage.models import StoredAttachment
from tests.console.conftest import csrf_of
from tests.console.test_ticket_pages import PNG, get, post

SCRIPT = "<script>alert(1)</script>"
HOSTILE = f'{SCRIPT} <img src=x onerror=alert(1)> <a href="javascript:alert(1)">click</a> javascript:alert(1) "quotes" \'single\''


def assert_inert(page: str) -> None:
    assert SCRIPT not in page and "<img src=x" not in page and 'href="javascript:' not in page
    assert "onerror=alert(1)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_hostile_text_renders_escaped_everywhere(console):
    await create_operator(console.desk, "anna", f"Anna {SCRIPT}", "password-123", "supervisor", ["general", "billing"], ["en"])
    await console.client_writes(HOSTILE, name=SCRIPT, claimed_email=f'"><script>alert(1)</script>@example.com',
                                attachments=(Attachment(f"{SCRIPT}.png", "image/png", len(PNG), data=PNG),
                                             Attachment("javascript:alert(1).png", "image/png", len(PNG), data=PNG)))
    async with await console.logged_in("anna") as s:
        _, home = await get(s, f"{console.url}/console")
        token = csrf_of(home)
        await post(s, f"{console.url}/console/tickets/1001/note", {"csrf_token": token, "text": HOSTILE})
        await post(s, f"{console.url}/console/tickets/1001/reply", {"csrf_token": token, "text": HOSTILE})
        await post(s, f"{console.url}/console/tickets/1001/transfer",
                   {"csrf_token": token, "queue": "billing", "note": HOSTILE})
        await post(s, f"{console.url}/console/tickets/1001/transfer", {"csrf_token": token, "queue": "general"})
        pages = [await get(s, f"{console.url}{path}") for path in
                 ("/console", "/console?scope=all&status=all", "/console/tickets/1001", "/console/operators")]
        status, _, refused = await post(s, f"{console.url}/console/tickets/1001/reply",
                                        {"csrf_token": token, "text": "x" * 20_001 + SCRIPT})
    assert status == 400 and "x" * 100 in refused  # the draft comes back, escaped
    assert_inert(refused)
    for status, page in pages:
        assert status == 200
        assert_inert(page)
    ticket_page = pages[2][1]
    assert ticket_page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6  # name, text, subject, notes, file name
    assert "javascript:alert(1).png</a>" in ticket_page  # shown as a file name, linked to our own download URL


async def test_download_names_cannot_break_out_of_the_header(console):
    await console.add_operator("anna")
    await console.client_writes("file", attachments=(
        Attachment('evil"\r\nSet-Cookie: x=1; <script>.png', "image/png", len(PNG), data=PNG),))
    async with console.desk.sessions() as db:
        attachment_id = (await db.execute(select(StoredAttachment.id))).scalar_one()
    async with await console.logged_in("anna") as s:
        async with s.get(f"{console.url}/console/attachments/{attachment_id}") as r:
            assert r.status == 200 and await r.read() == PNG
            disposition = r.headers["Content-Disposition"]
            assert "Set-Cookie" not in r.headers and r.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert "\r" not in disposition and "\n" not in disposition and disposition.startswith('attachment; filename="evil_')
