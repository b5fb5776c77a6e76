"""Plain dicts of tickets, messages and notes: the same shape for templates and websocket frames."""
from __future__ import annotations

import re
from datetime import datetime, tzinfo

from bot.storage.models import Message, Note
from bot.storage.queries import TicketRow
from bot.texts import N_

ACTIVE = ("new", "open", "waiting")
# How the survey listener words a follow-up's detail (bot/actions/surveys.py): "score 2" or "score 2: comment".
_SCORED = re.compile(r"^score ([1-5])(?:: (.*))?$", re.S)
SCORE = N_("score {score}")


class Shown(dict):
    """A dict a template reads as attributes (`e.text`) from its keys.

    Jinja looks `e.text` up with getattr first and falls back to the key only after an
    AttributeError, whose message it formats every time: on a 200-row ticket list a third of the
    page. (An instance whose __dict__ is itself reads faster, but each one is a reference cycle
    left to the collector, and hundreds a page made its slow full passes come often.)
    """

    __slots__ = ()

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def follow_up_parts(detail: str) -> tuple[int | None, str]:
    """A follow-up's score and the client's comment, or (None, the detail as stored) when it is worded otherwise."""
    match = _SCORED.match(detail or "")
    return (int(match.group(1)), match.group(2) or "") if match else (None, detail or "")


def follow_up_detail(detail: str, gettext) -> str:
    """A follow-up's detail with its wording in the reader's language; the client's comment as they wrote it."""
    score, comment = follow_up_parts(detail)
    if score is None:
        return comment
    said = gettext(SCORE, score=score)
    return f"{said}: {comment}" if comment else said


def when(moment: datetime | None, zone: tzinfo) -> str:
    """A time in the desk's zone, to the minute."""
    if not moment:
        return ""
    local = moment.astimezone(zone)  # formatted by hand: strftime was three quarters of this, 200 times a page
    return "%04d-%02d-%02d %02d:%02d" % (local.year, local.month, local.day, local.hour, local.minute)


def ticket_dict(row: TicketRow, zone: tzinfo) -> dict:
    """A ticket as the console shows it; never the client's public id (it opens their chat).

    A missing subject or client name is "": the page or script shows its own word for it, in the viewer's language.
    """
    return {
        "number": row.number, "subject": row.subject or "", "status": row.status,
        "priority": row.priority, "language": row.language, "channel": row.channel, "queue": row.queue,
        "assignee": row.assignee or "", "assignee_id": row.assignee_id, "client": row.client_name or "",
        "created": when(row.created_at, zone), "last": when(row.last_message_at, zone),
        "last_iso": row.last_message_at.isoformat(),
    }


def message_dict(m: Message, number: int, client_name: str, zone: tzinfo) -> dict:
    """One message of the history; outbound ones carry their delivery status and its reason."""
    operator_name = m.operator.display_name if m.operator is not None else ""
    return message_fields(m, operator_name, [(a.id, a.filename, a.size) for a in m.attachments], number, client_name,
                          zone)


def message_fields(m, operator_name: str, attachments, number: int, client_name: str, zone: tzinfo) -> dict:
    """`message_dict` of a Message or of a history row (bot/storage/history.py: the same attribute names),
    its author's name and its attachments as (id, filename, size)."""
    outbound = m.direction == "out"
    # "" where the console names the author itself (the bot, the desk, an unnamed client), in the viewer's language.
    author_name = (client_name or "") if m.author_kind == "client" else (operator_name or "")
    return {
        "id": m.id, "ticket": number, "author": m.author_kind, "author_name": author_name, "channel": m.channel,
        "outbound": outbound, "text": m.text, "at": when(m.created_at, zone),
        "delivery": m.delivery_status if outbound else "", "error": m.delivery_error if outbound else "",
        "attachments": [{"id": i, "name": name, "size": size} for i, name, size in attachments],
        "folded": m.folded_text, "automated": m.automated, "original": bool(m.raw_key or m.html_key),
        "edited": when(m.edited_at, zone),  # when the client last changed it; "" if never
    }


def note_dict(n: Note, number: int, zone: tzinfo) -> dict:
    return note_fields(n, n.operator.display_name if n.operator else "", number, zone)


def note_fields(n, operator_name: str | None, number: int, zone: tzinfo) -> dict:
    """`note_dict` of a Note or of a row with its id, text and created_at, and its author's name."""
    return {"id": n.id, "ticket": number, "author_name": operator_name or "", "text": n.text,
            "at": when(n.created_at, zone)}


def is_mine(row: TicketRow, viewer) -> bool:
    """Whether a ticket belongs on the viewer's "My tickets": assigned to them, or unassigned in their queues."""
    return row.assignee_id == viewer.id or (row.assignee_id is None and row.queue_id in viewer.queue_ids)
