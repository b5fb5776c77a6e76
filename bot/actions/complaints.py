"""The complaints register: register (with the client's acknowledgement), edit, and move through the life cycle.

received -> investigating -> resolved -> closed; resolving sends the resolution summary to the client,
and a resolved complaint may go back to investigating when the client is not satisfied.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from bot.access import Viewer
from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.tickets import visible_ticket, queue_outbound
from bot.config import Settings
from bot.domain import AuthorKind
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.events import ComplaintChanged
from bot.feedback import texts
from bot.feedback.access import sees_complaint, sees_register
from bot.feedback.config import SEVERITIES
from bot.feedback.words import guess_category
from bot.storage.models import AuditEvent, Client, Complaint, Counter, Operator, Queue, Ticket, operator_queues, utcnow
from bot.texts import N_

STATUSES = ("received", "investigating", "resolved", "closed")
NEXT = {"received": ("investigating", "resolved"), "investigating": ("resolved",),
        "resolved": ("closed", "investigating"), "closed": ()}
SOURCES = ("router", "operator", "survey", "bot")
MAX_TEXT = 10_000


# Whole sentences per field, so each language can say them its own way.
_EMPTY = {"the summary": N_("the summary is empty"), "the resolution summary": N_("the resolution summary is empty")}
_TOO_LONG = {"the summary": N_("the summary is {length} characters; the limit is {limit}"),
             "the resolution summary": N_("the resolution summary is {length} characters; the limit is {limit}")}


def _clean(text: str, what: str, required: bool = False) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise InvalidInput(_EMPTY[what])
    if len(text) > MAX_TEXT:
        raise InvalidInput(_TOO_LONG[what], length=len(text), limit=MAX_TEXT)
    return text


async def _queue_supervisor(s, queue_id: int) -> int | None:
    """The first active supervisor working in the queue: the default owner of its complaints."""
    return (await s.execute(
        select(Operator.id).join(operator_queues, operator_queues.c.operator_id == Operator.id)
        .where(operator_queues.c.queue_id == queue_id, Operator.role == "supervisor", Operator.active.is_(True))
        .order_by(Operator.id).limit(1))).scalar_one_or_none()


async def register_complaint(unit: Unit, settings: Settings, ticket: Ticket, *, source: str, summary: str = "",
                             category: str | None = None, severity: str | None = None, owner_id: int | None = None,
                             by: int | None = None, survey_id: int | None = None,
                             now: datetime | None = None) -> tuple[Complaint, bool]:
    """Register a complaint on a ticket in the caller's transaction and acknowledge it to the client.

    A ticket has at most one complaint that is not closed: asking again returns that one
    (``False``: nothing new, no second acknowledgement).
    """
    s, config, now = unit.session, settings.feedback.complaints, now or utcnow()
    # A write first: it serializes registrations of one ticket on SQLite (write lock) and PostgreSQL (row lock).
    await s.execute(update(Ticket).where(Ticket.id == ticket.id).values(updated_at=Ticket.updated_at)
                    .execution_options(synchronize_session=False))
    existing = (await s.execute(select(Complaint).where(Complaint.ticket_id == ticket.id, Complaint.status != "closed")
                                .order_by(Complaint.id.desc()).limit(1))).scalar_one_or_none()
    if existing is not None:
        return existing, False
    if source not in SOURCES:
        raise InvalidInput("unknown complaint source {source!r}", source=source)
    if category is not None and category not in config.categories:
        raise InvalidInput("unknown category {category!r}; use one of {choices}", category=category, choices=", ".join(config.categories))
    if severity is not None and severity not in SEVERITIES:
        raise InvalidInput("unknown severity {severity!r}; use one of {choices}", severity=severity, choices=", ".join(SEVERITIES))
    summary = _clean(summary, "the summary") or ticket.subject
    severity = severity or config.default_severity
    number = (await s.execute(update(Counter).where(Counter.name == "complaint_number")
                              .values(value=Counter.value + 1).returning(Counter.value))).scalar_one()
    client = await s.get(Client, ticket.client_id)
    complaint = Complaint(
        reference=f"C-{number}", ticket_id=ticket.id, client_id=ticket.client_id, queue_id=ticket.queue_id,
        channel=ticket.channel, language=ticket.language or client.language or settings.desk.default_language,
        category=category or guess_category(summary, config.category_keywords, config.categories),
        severity=severity, status="received", source=source,
        owner_id=owner_id or await _queue_supervisor(s, ticket.queue_id), summary=summary, survey_id=survey_id,
        due_at=now + timedelta(days=config.due_days[severity]), created_at=now, updated_at=now)
    s.add(complaint)
    await s.flush()
    due = texts.local_date(complaint.due_at, ZoneInfo(settings.desk.time_zone))
    await queue_outbound(unit, ticket, texts.text(complaint.language, "complaint_ack", reference=complaint.reference, due=due),
                         AuthorKind.SYSTEM, None)
    s.add(AuditEvent(kind="complaint_registered", ticket_id=ticket.id, operator_id=by, at=now,
                     data={"complaint_id": complaint.id, "reference": complaint.reference, "source": source,
                           "category": complaint.category, "severity": severity}))
    unit.events.append(ComplaintChanged(ticket_id=ticket.id, complaint_id=complaint.id, what="registered"))
    return complaint, True


async def mark_complaint(desk: Desk, viewer: Viewer, ticket_id: int, summary: str = "", category: str | None = None,
                         severity: str | None = None) -> str:
    """An operator marks a ticket they can see as a complaint; returns its reference."""
    async with unit_of_work(desk) as unit:
        ticket = await visible_ticket(unit, viewer, ticket_id, lock=True)
        complaint, _ = await register_complaint(unit, desk.settings, ticket, source="operator", summary=summary,
                                                category=category or None, severity=severity or None, by=viewer.id)
        return complaint.reference


async def complaint_from_desk(desk: Desk, ticket_id: int, source: str, summary: str = "") -> str | None:
    """A complaint recognized by the desk itself (the router's complaints queue, the bot); returns its reference."""
    async with unit_of_work(desk) as unit:
        ticket = (await unit.session.execute(select(Ticket).where(Ticket.id == ticket_id)
                                             .with_for_update(key_share=True))).scalar_one_or_none()
        if ticket is None:
            return None
        complaint, _ = await register_complaint(unit, desk.settings, ticket, source=source, summary=summary)
        return complaint.reference


async def complaint_from_queue(desk: Desk, ticket_id: int, queue_name: str, credit) -> str | None:
    """A ticket sitting in the complaints queue without an open complaint becomes one; ``credit`` names who
    made a move from its audit kind (None for other kinds), and the ticket's latest move gets the credit."""
    async with desk.sessions() as s:
        in_queue = (await s.execute(
            select(Ticket.id).join(Queue, Queue.id == Ticket.queue_id)
            .where(Ticket.id == ticket_id, Queue.name == queue_name))).first()
        if not in_queue:
            return None
        if (await s.execute(select(Complaint.id).where(Complaint.ticket_id == ticket_id,
                                                       Complaint.status != "closed").limit(1))).first():
            return None
        # Listeners run after the fact: credit whoever made the ticket's latest move, not the event at hand.
        kinds = (await s.execute(select(AuditEvent.kind).where(AuditEvent.ticket_id == ticket_id)
                                 .order_by(AuditEvent.id.desc()).limit(50))).scalars()
        source = next((who for who in map(credit, kinds) if who), "router")
    return await complaint_from_desk(desk, ticket_id, source)


async def _managed(unit: Unit, viewer: Viewer, reference: str) -> Complaint:
    complaint = (await unit.session.execute(select(Complaint).where(Complaint.reference == reference)
                                            .with_for_update(key_share=True))).scalar_one_or_none()
    if complaint is None or not sees_complaint(viewer, complaint.queue_id, complaint.owner_id):
        raise NotFound(f"complaint {reference} not found")
    if not (sees_register(viewer) or complaint.owner_id == viewer.id):
        raise Forbidden("only the owner, supervisors and managers change complaints")
    return complaint


async def edit_complaint(desk: Desk, viewer: Viewer, reference: str, *, category: str | None = None,
                         severity: str | None = None, owner: str | None = None, due_date: datetime | None = None,
                         summary: str | None = None) -> None:
    """Change category, severity, owner (a username, or "" for nobody), due date or summary; each change is audited."""
    config = desk.settings.feedback.complaints
    async with unit_of_work(desk) as unit:
        s = unit.session
        complaint = await _managed(unit, viewer, reference)
        changes: dict[str, list] = {}
        if category is not None and category != complaint.category:
            if category not in config.categories:
                raise InvalidInput("unknown category {category!r}; use one of {choices}", category=category, choices=", ".join(config.categories))
            changes["category"] = [complaint.category, category]
            complaint.category = category
        if severity is not None and severity != complaint.severity:
            if severity not in SEVERITIES:
                raise InvalidInput("unknown severity {severity!r}; use one of {choices}", severity=severity, choices=", ".join(SEVERITIES))
            changes["severity"] = [complaint.severity, severity]
            complaint.severity = severity
        if owner is not None:
            owner_id = None
            if owner:
                found = (await s.execute(select(Operator).where(Operator.username == owner))).scalar_one_or_none()
                if found is None or not found.active:
                    raise InvalidInput("there is no active operator {operator!r}", operator=owner)
                owner_id = found.id
            if owner_id != complaint.owner_id:
                changes["owner_id"] = [complaint.owner_id, owner_id]
                complaint.owner_id = owner_id
        if due_date is not None and due_date != complaint.due_at:
            if due_date.tzinfo is None:
                raise InvalidInput("the due date needs a time zone")
            changes["due_at"] = [complaint.due_at.isoformat(), due_date.isoformat()]
            complaint.due_at = due_date
        if summary is not None and _clean(summary, "the summary", required=True) != complaint.summary:
            changes["summary"] = [complaint.summary, _clean(summary, "the summary", required=True)]
            complaint.summary = changes["summary"][1]
        if not changes:
            return
        complaint.updated_at = utcnow()
        s.add(AuditEvent(kind="complaint_edited", ticket_id=complaint.ticket_id, operator_id=viewer.id,
                         data={"complaint_id": complaint.id, "reference": reference, "changes": changes}))
        unit.events.append(ComplaintChanged(ticket_id=complaint.ticket_id, complaint_id=complaint.id, what="edited"))


async def move_complaint(desk: Desk, viewer: Viewer, reference: str, status: str, resolution: str = "",
                         now: datetime | None = None) -> None:
    """Take the complaint to its next status; resolving sends the resolution summary to the client."""
    now = now or utcnow()
    async with unit_of_work(desk) as unit:
        s = unit.session
        complaint = await _managed(unit, viewer, reference)
        if status == complaint.status:
            return
        if status not in NEXT.get(complaint.status, ()):
            allowed = NEXT.get(complaint.status, ())
            if not allowed:
                raise InvalidInput("complaint {reference} is {status}; it cannot change any more",
                                   reference=reference, status=complaint.status)
            raise InvalidInput("complaint {reference} is {status}; it can go to {choices}",
                               reference=reference, status=complaint.status, choices=", ".join(allowed))
        if status == "resolved":
            complaint.resolution = _clean(resolution, "the resolution summary", required=True)
            complaint.resolved_at = now
            ticket = (await s.execute(select(Ticket).where(Ticket.id == complaint.ticket_id)
                                      .with_for_update(key_share=True))).scalar_one()
            await queue_outbound(unit, ticket, texts.text(complaint.language, "complaint_resolved", reference=reference,
                                                          resolution=complaint.resolution), AuthorKind.SYSTEM, viewer.id)
        elif status == "closed":
            complaint.closed_at = now
        elif status == "investigating":
            complaint.resolved_at = None
        previous, complaint.status, complaint.updated_at = complaint.status, status, now
        s.add(AuditEvent(kind="complaint_status", ticket_id=complaint.ticket_id, operator_id=viewer.id, at=now,
                         data={"complaint_id": complaint.id, "reference": reference, "from": previous, "to": status}))
        unit.events.append(ComplaintChanged(ticket_id=complaint.ticket_id, complaint_id=complaint.id, what=status))

