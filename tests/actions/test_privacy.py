"""Privacy requests: export all of a client's data; erase the personal part and keep the statistics."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from bot.actions.privacy import ERASED, erase_client, export_client
from bot.actions.stored_files import sweep_files
from bot.domain import Attachment
from bot.storage.models import (
    AuditEvent, Client, Message, RoutingDecision, StoredAttachment, Ticket, UnansweredQuestion,
)
from tests.channels.webchat.test_uploads import png
from tests.console.conftest import console  # noqa: F401  (the live desk fixture)
from tests.test_cli import assert_clean_failure, config, helpline  # noqa: F401  (config: a fixture)


async def client_of(desk, ticket_id: int) -> int:
    async with desk.sessions() as s:
        return (await s.execute(select(Ticket.client_id).where(Ticket.id == ticket_id))).scalar_one()


async def test_export_then_erase_keeps_tickets_and_other_clients(console):
    mine = await console.client_writes("my card 4111 was charged twice", user="ann", name="Ann Example",
                                       attachments=(Attachment("receipt.png", "image/png", len(png()), data=png(5, 5)),))
    await console.client_writes("and my phone is +371 2000 0000", user="ann")
    other = await console.client_writes("where is my parcel", user="bob", name="Bob Other",
                                        attachments=(Attachment("same.png", "image/png", len(png()), data=png(4, 3)),))
    ann, bob = await client_of(console.desk, mine.ticket_id), await client_of(console.desk, other.ticket_id)
    async with console.desk.sessions() as s:
        files = {a.storage_key for a in (await s.execute(select(StoredAttachment))).scalars()}

    exported = await export_client(console.desk, ann, "test:dpo")
    text = json.dumps(exported, ensure_ascii=False)
    assert "Ann Example" in text and "charged twice" in text and "+371 2000 0000" in text and "receipt.png" in text
    assert "where is my parcel" not in text and "Bob Other" not in text
    assert [t["number"] for t in exported["tickets"]] == [mine.ticket_number]

    counts = await erase_client(console.desk, ann, "test:dpo")
    assert counts["messages"] == 2 and counts["attachments"] == 1 and counts["tickets"] == 1
    async with console.desk.sessions() as s:
        client = await s.get(Client, ann)
        texts = {m.ticket_id: m.text for m in (await s.execute(select(Message))).scalars()}
        left = {a.storage_key for a in (await s.execute(select(StoredAttachment))).scalars()}
        tickets = (await s.execute(select(func.count()).select_from(Ticket))).scalar_one()
        audit = [(e.kind, e.data["client_id"], e.data["by"]) for e in (await s.execute(
            select(AuditEvent).where(AuditEvent.kind.like("client_%")).order_by(AuditEvent.id))).scalars()]
    assert client.display_name == ERASED and not client.email and not client.phone
    assert texts[mine.ticket_id] == ERASED and texts[other.ticket_id] == "where is my parcel"
    assert tickets == 2  # the rows the statistics count stay
    assert len(left) == 1 and left < files  # Bob's file stays
    # Ann's file was stored moments ago, so an identical upload may still be on its way: the store
    # keeps it out of its grace period, and the sweep after that removes it.
    assert counts["files_removed"] == 0 and console.desk.files.pending() == sorted(files - left)
    later = datetime.now(timezone.utc) + timedelta(seconds=console.desk.files.grace_seconds + 1)
    assert (await sweep_files(console.desk, later)).removed == 1
    assert not any(console.desk.files.path(k).exists() for k in files - left)
    assert all(console.desk.files.path(k).exists() for k in left) and console.desk.files.pending() == []
    assert audit == [("client_exported", ann, "test:dpo"), ("client_erased", ann, "test:dpo")]
    async with console.desk.sessions() as s:  # no copy of the words anywhere (routing and bot training rows too)
        for model, column in ((RoutingDecision, RoutingDecision.text), (UnansweredQuestion, UnansweredQuestion.question)):
            assert not (await s.execute(select(model).where(column.like("%charged%")))).first()
    after = json.dumps(await export_client(console.desk, ann, "test:dpo"), ensure_ascii=False)
    assert "Ann" not in after and "charged" not in after and "+371" not in after
    # The same person writing again is a new client: nothing links them back to the erased one.
    again = await console.client_writes("hello again", user="ann", name="Ann Example")
    assert await client_of(console.desk, again.ticket_id) != ann


def test_cli_refuses_clearly(config):
    assert_clean_failure(helpline("clients", "export", "999", "--config", str(config)), "no client 999")
    assert_clean_failure(helpline("clients", "erase", "999", "--config", str(config)), "--yes")
