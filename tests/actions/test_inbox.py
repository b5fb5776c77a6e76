"""The one inbound entry point: exactly-once storage, client resolution, ticket finding."""
import asyncio
from datetime import datetime, timezone

from sqlalchemy import func, select

from bot.actions.inbox import receive_message
from bot.domain import Attachment, InboundMessage
from bot.storage.models import ChannelIdentity, Message, Ticket


def inbound(message_id="m1", user="visitor-1", text="Where is my order?", **kw) -> InboundMessage:
    # Message ids are unique per channel, so the web chat prefixes them with the visitor.
    return InboundMessage(channel="webchat", user_id=user, chat_id=user, message_id=f"{user}:{message_id}", text=text,
                          sent_at=datetime.now(timezone.utc), **kw)


async def count(desk, model) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_first_message_opens_a_numbered_ticket_in_the_default_queue(desk):
    receipt = await receive_message(desk, inbound())
    assert receipt.new_ticket and not receipt.duplicate
    assert receipt.ticket_number == 1001
    assert len(receipt.ticket_public_id) >= 20
    async with desk.sessions() as s:
        ticket = await s.get(Ticket, receipt.ticket_id)
    assert ticket.status == "new" and ticket.subject == "Where is my order?"


async def test_a_repeated_message_id_is_stored_once(desk):
    first = await receive_message(desk, inbound())
    again = await receive_message(desk, inbound(text="changed text"))
    assert again.duplicate and again.message_id == first.message_id
    assert await count(desk, Message) == 1


async def test_concurrent_deliveries_of_one_message_store_it_once(desk):
    receipts = await asyncio.gather(*(receive_message(desk, inbound()) for _ in range(5)))
    assert len({r.message_id for r in receipts}) == 1
    assert await count(desk, Message) == 1


async def test_next_message_joins_the_open_ticket_and_other_visitors_get_their_own(desk):
    a1 = await receive_message(desk, inbound("m1"))
    a2 = await receive_message(desk, inbound("m2", text="Hello?"))
    b1 = await receive_message(desk, inbound("m1", user="visitor-2"))
    assert a1.ticket_id == a2.ticket_id and not a2.new_ticket
    assert b1.ticket_id != a1.ticket_id and b1.ticket_number == a1.ticket_number + 1


async def test_a_claimed_email_does_not_merge_clients(desk):
    a = await receive_message(desk, inbound("m1", user="v1", claimed_email="jane@example.com"))
    b = await receive_message(desk, inbound("m1", user="v2", claimed_email="jane@example.com"))
    async with desk.sessions() as s:
        clients = {i.client_id for i in (await s.execute(select(ChannelIdentity))).scalars()}
    assert len(clients) == 2 and a.ticket_id != b.ticket_id


async def test_attachments_are_stored_in_the_attachment_store(desk):
    data = b"%PDF-1.4 test"
    receipt = await receive_message(desk, inbound(attachments=(Attachment("invoice.pdf", "application/pdf", len(data), data=data),)))
    from bot.storage.queries import conversation
    async with desk.sessions() as s:
        entries = await conversation(s, "webchat", "visitor-1")
    [entry] = entries
    assert entry.id == receipt.message_id
    [stored] = entry.attachments
    assert desk.files.read(stored.storage_key) == data


async def test_an_edit_changes_the_stored_text_and_adds_no_message(desk):
    first = await receive_message(desk, inbound(text="My order is NW-11111"))
    edit = await receive_message(desk, inbound(text="My order is NW-111112", edited=True))
    assert edit.edited and edit.message_id == first.message_id
    replay = await receive_message(desk, inbound(text="My order is NW-111112", edited=True))
    assert replay.duplicate and not replay.edited
    async with desk.sessions() as s:
        message = await s.get(Message, first.message_id)
    assert message.text == "My order is NW-111112" and message.edited_at is not None
    assert await count(desk, Message) == 1


async def test_the_source_of_the_first_message_is_kept_on_the_ticket(desk):
    receipt = await receive_message(desk, inbound(source="promo-spring"))
    await receive_message(desk, inbound("m2", source="other"))
    async with desk.sessions() as s:
        assert (await s.get(Ticket, receipt.ticket_id)).source == "promo-spring"
