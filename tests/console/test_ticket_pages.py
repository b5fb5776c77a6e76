"""The list and ticket pages: history, client card, canned responses, reply, notes, take, transfer, resolve."""
import re

from sqlalchemy import select

from bot.domain import Attachment
from bot.storage import queries
from bot.storage.models import Message, Note, Ticket
from tests.console.conftest import CHANNEL, csrf_of, frame

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def get(s, url: str) -> tuple[int, str]:
    async with s.get(url, allow_redirects=False) as r:
        return r.status, await r.text()


async def post(s, url: str, data: dict) -> tuple[int, str, str]:
    async with s.post(url, data=data, allow_redirects=False) as r:
        return r.status, r.headers.get("Location", ""), await r.text()


async def csrf(s, console) -> str:
    return csrf_of((await get(s, f"{console.url}/console"))[1])


async def ticket(desk, number: int) -> Ticket:
    async with desk.sessions() as s:
        return (await s.execute(select(Ticket).where(Ticket.number == number))).scalar_one()


async def test_my_tickets_lists_mine_and_unassigned_of_my_queues_with_counts(console):
    await console.add_operator("anna", queues=("general",))
    await console.client_writes("Where is my parcel?", user="v1", name="Jane")
    await console.client_writes("Refund please", user="v2")
    await console.client_writes("Third one", user="v3")
    async with await console.logged_in("anna") as s:
        token = await csrf(s, console)
        assert (await post(s, f"{console.url}/console/tickets/1003/resolve", {"csrf_token": token}))[0] == 303
        status, page = await get(s, f"{console.url}/console")
        assert status == 200
        assert 'class="ticket-row" data-number="1001"' in page and 'data-number="1002"' in page
        assert 'data-number="1003"' not in page  # resolved: not active
        assert "Where is my parcel?" in page and "Jane" in page and CHANNEL in page and "unassigned" in page
        assert '<span class="count">2</span>' in page  # general: two active tickets
        _, resolved = await get(s, f"{console.url}/console?status=resolved&scope=all")
        assert 'data-number="1003"' in resolved and 'data-number="1001"' not in resolved
        _, billing = await get(s, f"{console.url}/console?queue=billing")  # not her queue: filter ignored
        assert 'data-number="1001"' in billing


async def test_ticket_page_shows_history_across_tickets_client_card_and_canned_responses(console):
    await console.add_operator("anna")
    await console.client_writes("Labdien, kur ir mana paka?", user="v1", name="Jānis", claimed_email="janis@example.com",
                                locale_hint="lv")
    async with await console.logged_in("anna") as s:
        token = await csrf(s, console)
        await post(s, f"{console.url}/console/tickets/1001/reply", {"csrf_token": token, "text": "Paka ir ceļā."})
        async with console.desk.sessions() as db, db.begin():
            (await db.execute(select(Ticket).where(Ticket.number == 1001))).scalar_one().status = "closed"
        await console.client_writes("Vēl viens jautājums", user="v1")  # a closed ticket: a new one opens
        status, page = await get(s, f"{console.url}/console/tickets/1002")
    assert status == 200
    assert "Labdien, kur ir mana paka?" in page and "Paka ir ceļā." in page and "Vēl viens jautājums" in page
    assert '<a href="/console/tickets/1001">Ticket #1001</a>' in page  # the earlier ticket, as a divider
    assert "janis@example.com" in page and "unverified" in page and "Jānis" in page
    assert "Sveiki! Kā varu palīdzēt?" in page and "Hello! How can I help?" in page
    assert "Здравствуйте" not in page  # neither the ticket's language nor English
    for hook in ('id="reply-text"', 'id="reply-send"', 'data-author="client"', 'data-author="operator"', 'class="delivery"'):
        assert hook in page


async def test_reply_from_the_page_is_queued_sent_and_its_delivery_shows(console):
    await console.add_operator("anna")
    receipt = await console.client_writes("Hello?")
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001})
        assert (await frame(ws, "watching"))["type"] == "watching"
        token = await csrf(s, console)
        status, location, _ = await post(s, f"{console.url}/console/tickets/1001/reply", {"csrf_token": token, "text": "We are on it."})
        assert (status, location) == (303, "/console/tickets/1001")
        message = (await frame(ws, "message"))["message"]
        assert message["author"] == "operator" and message["text"] == "We are on it." and message["outbound"]
        delivery = await frame(ws, "delivery")
        assert delivery == {"type": "delivery", "ticket": 1001, "message_id": message["id"], "status": "sent", "error": ""}
        _, page = await get(s, f"{console.url}/console/tickets/1001")
        assert '<span class="delivery" data-status="sent">sent</span>' in page
    assert [m.text for m in console.channel.sent] == ["We are on it."]
    t = await ticket(console.desk, 1001)
    assert t.assignee_id is not None and t.status == "waiting"  # replying assigned it to her
    assert t.id == receipt.ticket_id


async def test_a_failed_delivery_shows_its_reason(console):
    await console.add_operator("anna")
    await console.client_writes("Hello?")
    console.channel.fail_with = "the client blocked the bot"
    async with await console.logged_in("anna") as s, await console.socket(s) as ws:
        await ws.send_json({"type": "watch", "ticket": 1001})
        await frame(ws, "watching")
        await post(s, f"{console.url}/console/tickets/1001/reply", {"csrf_token": await csrf(s, console), "text": "Hi"})
        delivery = await frame(ws, "delivery")
        assert (delivery["status"], delivery["error"]) == ("failed", "the client blocked the bot")
        _, page = await get(s, f"{console.url}/console/tickets/1001")
    assert '<span class="delivery" data-status="failed">failed: the client blocked the bot</span>' in page


async def test_forms_without_the_sessions_csrf_token_are_refused(console):
    await console.add_operator("anna")
    await console.client_writes("Hello?")
    async with await console.logged_in("anna") as s:
        for data in ({"text": "no token"}, {"text": "wrong", "csrf_token": "x" * 43}):
            for action in ("reply", "note", "take", "resolve", "transfer"):
                status, _, page = await post(s, f"{console.url}/console/tickets/1001/{action}", {**data, "queue": "billing"})
                assert status == 403 and "did not come from this console" in page
    async with console.desk.sessions() as db:
        assert (await db.execute(select(Message).where(Message.direction == "out"))).first() is None
        assert (await db.execute(select(Note))).first() is None
    t = await ticket(console.desk, 1001)
    assert (t.status, t.assignee_id) == ("new", None)


async def test_notes_are_shown_to_operators_and_never_reach_the_client(console):
    await console.add_operator("anna")
    await console.client_writes("Hello?", user="v1")
    async with await console.logged_in("anna") as s:
        status, location, _ = await post(s, f"{console.url}/console/tickets/1001/note",
                                         {"csrf_token": await csrf(s, console), "text": "VIP client, be nice"})
        assert (status, location) == (303, "/console/tickets/1001")
        _, page = await get(s, f"{console.url}/console/tickets/1001")
    assert "VIP client, be nice" in page and "never sent to the client" in page
    async with console.desk.sessions() as db:
        conversation = await queries.conversation(db, CHANNEL, "v1")
    assert [e.text for e in conversation] == ["Hello?"]
    assert console.channel.sent == []


async def test_empty_reply_is_shown_back_with_the_reason(console):
    await console.add_operator("anna")
    await console.client_writes("Hello?")
    async with await console.logged_in("anna") as s:
        status, _, page = await post(s, f"{console.url}/console/tickets/1001/reply", {"csrf_token": await csrf(s, console), "text": "  "})
    assert status == 400 and "the reply is empty" in page


async def test_take_resolve_and_reopen(console):
    await console.add_operator("anna")
    await console.add_operator("bert")
    await console.add_operator("olga", role="supervisor", queues=("general", "billing"))
    await console.client_writes("Hello?")
    async with await console.logged_in("anna") as anna, await console.logged_in("bert") as bert:
        url = f"{console.url}/console/tickets/1001"
        assert (await post(anna, f"{url}/take", {"csrf_token": await csrf(anna, console)}))[:2] == (303, "/console/tickets/1001")
        t = await ticket(console.desk, 1001)
        assert t.status == "open" and t.assignee_id is not None
        status, _, page = await post(bert, f"{url}/take", {"csrf_token": await csrf(bert, console)})
        assert status == 403 and "already assigned" in page
        assert 'id="take"' not in (await get(bert, url))[1]  # an operator cannot take over
        await post(anna, f"{url}/resolve", {"csrf_token": await csrf(anna, console)})
        assert (await ticket(console.desk, 1001)).status == "resolved"
        _, page = await get(anna, url)
        assert 'class="when-resolved">' in page and 'class="when-active" hidden>' in page
        await post(anna, f"{url}/reopen", {"csrf_token": await csrf(anna, console)})
        assert (await ticket(console.desk, 1001)).status == "open"
    async with await console.logged_in("olga") as olga:
        await post(olga, f"{console.url}/console/tickets/1001/take", {"csrf_token": await csrf(olga, console)})
    assert (await ticket(console.desk, 1001)).assignee_id != t.assignee_id  # a supervisor may take over


async def test_transfer_to_another_queue_with_a_note(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("bob", queues=("billing",))
    await console.client_writes("I was charged twice")
    async with await console.logged_in("anna") as anna:
        status, location, _ = await post(anna, f"{console.url}/console/tickets/1001/transfer",
                                         {"csrf_token": await csrf(anna, console), "queue": "billing", "operator": "bob",
                                          "note": "Double charge, see the client's bank statement"})
        assert (status, location) == (303, "/console")  # no longer hers to see
        assert (await get(anna, f"{console.url}/console/tickets/1001"))[0] == 404
        status, _, page = await post(anna, f"{console.url}/console/tickets/1002/transfer",
                                     {"csrf_token": await csrf(anna, console), "queue": "nowhere"})
        assert status == 404
    async with await console.logged_in("bob") as bob:
        status, page = await get(bob, f"{console.url}/console/tickets/1001")
        assert status == 200 and "Double charge" in page and "never sent to the client" in page
        assert '<dd id="ticket-queue">billing</dd>' in page and '<dd id="ticket-assignee">Bob</dd>' in page
        status, _, page = await post(bob, f"{console.url}/console/tickets/1001/transfer",
                                     {"csrf_token": await csrf(bob, console), "queue": "nowhere"})
        assert status == 400 and "there is no queue" in page


async def test_operators_page_is_for_supervisors(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("zed", queues=("delivery",))
    await console.add_operator("olga", role="supervisor", queues=("general",))
    await console.client_writes("Hello?")
    async with await console.logged_in("anna") as anna:
        await post(anna, f"{console.url}/console/tickets/1001/take", {"csrf_token": await csrf(anna, console)})
        assert (await get(anna, f"{console.url}/console/operators"))[0] == 403
    async with await console.logged_in("olga") as olga:
        status, page = await get(olga, f"{console.url}/console/operators")
    assert status == 200 and "@anna" in page and "@olga" in page and "@zed" not in page
    assert '<td class="numeric">1</td>' in page


async def test_attachments_download_for_viewers_only(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("bob", queues=("billing",))
    await console.client_writes("Photo", attachments=(Attachment("parcel.png", "image/png", len(PNG), data=PNG),))
    async with console.desk.sessions() as db:
        attachment_id = (await db.execute(select(queries.StoredAttachment.id))).scalar_one()
    async with await console.logged_in("anna") as anna:
        assert f'href="/console/attachments/{attachment_id}"' in (await get(anna, f"{console.url}/console/tickets/1001"))[1]
        async with anna.get(f"{console.url}/console/attachments/{attachment_id}") as r:
            assert r.status == 200 and await r.read() == PNG
            assert r.headers["Content-Disposition"].startswith("attachment;")
            assert r.content_type == "application/octet-stream"
    async with await console.logged_in("bob") as bob:
        missing = await get(bob, f"{console.url}/console/attachments/999999")
        forbidden = await get(bob, f"{console.url}/console/attachments/{attachment_id}")
    assert missing == forbidden and missing[0] == 404


async def test_another_queues_ticket_looks_exactly_like_a_missing_one(console):
    await console.add_operator("bob", queues=("billing",))
    await console.client_writes("General question")
    async with await console.logged_in("bob") as bob:
        hidden = await get(bob, f"{console.url}/console/tickets/1001")
        missing = await get(bob, f"{console.url}/console/tickets/999999")
        assert hidden == missing and hidden[0] == 404
        assert 'data-number="1001"' not in (await get(bob, f"{console.url}/console?scope=all&status=all"))[1]
        token = await csrf(bob, console)
        for action in ("reply", "note", "take", "resolve", "transfer"):
            status, _, _ = await post(bob, f"{console.url}/console/tickets/1001/{action}",
                                      {"csrf_token": token, "text": "mine now", "queue": "billing"})
            assert status == 404
    t = await ticket(console.desk, 1001)
    assert (t.status, t.assignee_id) == ("new", None)
    async with console.desk.sessions() as db:
        assert (await db.execute(select(Note))).first() is None


async def test_static_assets_are_versioned_and_never_sniffed(console):
    await console.add_operator("anna")
    async with await console.logged_in("anna") as s:
        _, page = await get(s, f"{console.url}/console")
        script = re.search(r'<script src="(/console/static/console\.js\?v=[^"]+)" defer>', page).group(1)
        async with s.get(f"{console.url}{script}") as r:
            body = await r.text()
            assert r.status == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
    assert "innerHTML" not in body and "insertAdjacentHTML" not in body and "eval(" not in body


async def test_history_leaves_out_tickets_of_queues_the_operator_does_not_work_in(console):
    await console.add_operator("anna", queues=("general",))
    await console.add_operator("root", role="admin", queues=())
    await console.client_writes("Secret billing matter", user="v1", chat="c1")
    async with await console.logged_in("root") as root:
        token = await csrf(root, console)
        await post(root, f"{console.url}/console/tickets/1001/note", {"csrf_token": token, "text": "billing-only note"})
        await post(root, f"{console.url}/console/tickets/1001/transfer", {"csrf_token": token, "queue": "billing"})
    await console.client_writes("A general question", user="v1", chat="c2")  # the same client, a second ticket
    async with await console.logged_in("anna") as anna:
        status, page = await get(anna, f"{console.url}/console/tickets/1002")
    assert status == 200 and "A general question" in page
    assert "Secret billing matter" not in page and "billing-only note" not in page and "/console/tickets/1001" not in page
    assert "1 more in queues you do not work in" in page


async def test_ticket_page_transfer_box_lists_queues_and_active_operators_with_their_queues(console):
    from bot.actions.operators import set_operator_active

    await console.add_operator("anna", queues=("general", "billing"))
    await console.add_operator("root", role="admin", queues=())
    await console.add_operator("gone", queues=("delivery",))
    await set_operator_active(console.desk, "gone", False)
    await console.client_writes("Where is my parcel?")
    async with await console.logged_in("anna") as anna:
        status, page = await get(anna, f"{console.url}/console/tickets/1001")
    assert status == 200
    box = page[page.index('id="transfer-queue"'):page.index('id="transfer-note"')]
    assert re.findall(r'<option value="([a-z]+)">', box) == ["billing", "delivery", "anna", "root"]
    assert "Anna — billing, general" in box and "Root — no queues" in box and "Gone" not in box
    assert "Offered to" not in page and '<span class="count">' not in page  # no offer, no unread alerts
    assert 'id="presence-now"' in page and "Routing &amp; SLA" in page
