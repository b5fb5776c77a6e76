"""Late parts of a stored client message (an album item that came after the album was stored)."""
from __future__ import annotations

from sqlalchemy import select

from bot.actions.context import Desk, unit_of_work
from bot.actions.stored_files import save_files
from bot.domain import Attachment, Receipt
from bot.events import MessageEdited
from bot.storage.models import AuditEvent, Message, StoredAttachment, Ticket

MAX_TEXT = 100_000


async def add_message_parts(desk: Desk, channel: str, external_id: str, text: str,
                            attachments: tuple[Attachment, ...]) -> Receipt | None:
    """Add files and text to a stored inbound message; None when the channel has no message with that id.

    Idempotent, so a part delivered twice changes nothing: a file already on the message (same
    name and content) is skipped, and so is text the message already contains.
    """
    files = [a for a in attachments if a.data is not None]
    saved = list(zip(files, await save_files(desk, [(a.data, None) for a in files])))  # off the event loop
    async with unit_of_work(desk) as unit:
        s = unit.session
        row = (await s.execute(
            select(Message, Ticket.public_id, Ticket.number).join(Ticket, Ticket.id == Message.ticket_id)
            .where(Message.channel == channel, Message.external_id == external_id, Message.direction == "in")
            .with_for_update(key_share=True, of=Message))).first()
        if row is None:
            return None
        stored, public_id, number = row
        have = set((await s.execute(select(StoredAttachment.filename, StoredAttachment.storage_key)
                                    .where(StoredAttachment.message_id == stored.id))).all())
        added = []
        for attachment, key in saved:
            if (attachment.filename, key) in have:
                continue
            have.add((attachment.filename, key))
            s.add(StoredAttachment(message_id=stored.id, filename=attachment.filename,
                                   content_type=attachment.content_type, size=len(attachment.data), storage_key=key))
            added.append(attachment.filename)
        text = text.strip()
        grew = bool(text) and text not in stored.text
        if grew:
            stored.text = f"{stored.text}\n{text}".strip()[:MAX_TEXT]
        if not added and not grew:
            return Receipt(stored.id, stored.ticket_id, public_id, number, duplicate=True)
        s.add(AuditEvent(kind="message_parts_added", ticket_id=stored.ticket_id,
                         data={"message_id": stored.id, "files": added, "text_added": grew}))
        unit.events.append(MessageEdited(ticket_id=stored.ticket_id, message_id=stored.id))
        return Receipt(stored.id, stored.ticket_id, public_id, number, edited=True)
