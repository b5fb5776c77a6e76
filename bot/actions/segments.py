"""Client segments: recomputed from history by the rules, pinned by admins (CLI, API, CSV); every change recorded."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, Unit, unit_of_work
from bot.actions.sla import sync_sla
from bot.config import Settings
from bot.errors import InvalidInput, NotFound
from bot.feedback.segments import SEGMENTS, ClientHistory, clean_tags, decide
from bot.events import TicketChanged
from bot.routing_settings import client_priority
from bot.storage import routing_queries as rq
from bot.storage.models import AuditEvent, Client, ClientSegment, Complaint, SegmentChange, Survey, Ticket, utcnow

BATCH = 500


async def routing_priority(s, settings: Settings, ticket: Ticket) -> tuple[str, str]:
    """(priority, why) the client's segment and tags give a ticket being routed (`[router.priority]`)."""
    standing = await s.get(ClientSegment, ticket.client_id)
    if standing is None:
        return ticket.priority, ""
    return client_priority(settings, ticket.priority, standing.segment, standing.tags)


async def raise_open_tickets(unit: Unit, settings: Settings, standings: dict[int, tuple[str, list[str]]],
                             now: datetime) -> int:
    """Give the open tickets of clients whose segment or tags changed the priority these now map to,
    as routing would (only ever raised); returns how many were raised.

    Each raise is audited and appended to the routing decision's reason, where the console shows why
    a ticket has its priority; its SLA clocks follow the new priority and the backlog serves it by it.
    All the clients' open tickets are locked, so a ticket being routed meanwhile is waited for (and then
    raised here) or skipped by the router until this commits (and then routed with the new standing).
    """
    config = settings.router.priority
    if not standings or not (config.segments or config.tags):
        return 0
    s, raised = unit.session, 0
    tickets = (await s.execute(select(Ticket).where(Ticket.client_id.in_(list(standings)),
                                                    Ticket.status.in_(rq.OPEN_STATUSES))
                               .order_by(Ticket.id).with_for_update(key_share=True))).scalars().all()
    for ticket in tickets:
        if ticket.routed_at is None:  # the router reads the new standing when it places the ticket
            continue
        segment, tags = standings[ticket.client_id]
        priority, why = client_priority(settings, ticket.priority, segment, tags)
        if not why:
            continue
        before, ticket.priority = ticket.priority, priority
        ticket.version += 1
        ticket.updated_at = now
        decision = await rq.latest_decision(s, ticket.id)
        if decision is not None:
            decision.reason = f"{decision.reason}; {why}" if decision.reason else why
        s.add(AuditEvent(kind="priority_raised", ticket_id=ticket.id, at=now,
                         data={"from": before, "priority": priority, "reason": why}))
        await s.flush()
        await sync_sla(unit, settings, ticket, now)  # the targets depend on the priority
        unit.events.append(TicketChanged(ticket_id=ticket.id, what="priority"))
        raised += 1
    return raised


async def _histories(s, client_ids: list[int], since: datetime, low_score: int) -> dict[int, ClientHistory]:
    tickets = {cid: (n, last) for cid, n, last in await s.execute(
        select(Ticket.client_id, func.count(Ticket.id), func.max(Ticket.last_message_at))
        .where(Ticket.client_id.in_(client_ids), Ticket.created_at >= since).group_by(Ticket.client_id))}
    last_ever = dict((await s.execute(select(Ticket.client_id, func.max(Ticket.last_message_at))
                                      .where(Ticket.client_id.in_(client_ids)).group_by(Ticket.client_id))).all())
    scores: dict[int, list[int]] = {}
    for cid, score in await s.execute(select(Survey.client_id, Survey.score).where(
            Survey.client_id.in_(client_ids), Survey.score.is_not(None), Survey.answered_at >= since)):
        scores.setdefault(cid, []).append(score)
    complaints = dict((await s.execute(select(Complaint.client_id, func.count(Complaint.id)).where(
        Complaint.client_id.in_(client_ids), Complaint.created_at >= since).group_by(Complaint.client_id))).all())
    return {cid: ClientHistory(tickets=tickets.get(cid, (0, None))[0], last_contact=last_ever.get(cid),
                               scores=tuple(scores.get(cid, ())), complaints=complaints.get(cid, 0),
                               low_scores=sum(1 for v in scores.get(cid, ()) if v <= low_score))
            for cid in client_ids}


def _record(unit: Unit, client_id: int, old: ClientSegment | None, segment: str, tags: list[str], source: str,
            operator_id: int | None, reason: str) -> None:
    unit.session.add(SegmentChange(client_id=client_id, old_segment=old.segment if old else "", new_segment=segment,
                                   old_tags=list(old.tags) if old else [], new_tags=tags, source=source,
                                   operator_id=operator_id, reason=reason[:500]))


async def recompute_segments(desk: Desk, client_ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Apply the rules to the given clients (all when None); returns how many segments changed."""
    now = now or utcnow()
    rules = desk.settings.feedback.segments
    since = now - timedelta(days=rules.window_days)
    if client_ids is None:
        async with desk.sessions() as s:
            client_ids = list((await s.execute(select(Client.id).order_by(Client.id))).scalars())
    changed = 0
    for start in range(0, len(client_ids), BATCH):
        batch = client_ids[start:start + BATCH]
        for attempt in range(2):
            try:
                changed += await _recompute_batch(desk, batch, since, now)
                break
            except IntegrityError:  # a concurrent recompute created a client's first row: read it and go on
                if attempt:
                    raise
    return changed


async def _recompute_batch(desk: Desk, batch: list[int], since: datetime, now: datetime) -> int:
    rules, changed = desk.settings.feedback.segments, 0
    async with unit_of_work(desk) as unit:
        s = unit.session
        histories = await _histories(s, batch, since, desk.settings.feedback.survey.low_score)
        current = {row.client_id: row for row in (await s.execute(
            select(ClientSegment).where(ClientSegment.client_id.in_(batch)))).scalars()}
        moved: dict[int, tuple[str, list[str]]] = {}
        for cid in batch:
            segment, reason = decide(histories[cid], rules, now)
            row = current.get(cid)
            if row is None:
                s.add(ClientSegment(client_id=cid, segment=segment, computed=segment, pinned=False, tags=[],
                                    reason=reason, updated_at=now))
                _record(unit, cid, None, segment, [], "rules", None, reason)
                moved[cid] = (segment, [])
                changed += 1
            elif row.computed != segment or (not row.pinned and row.segment != segment):
                if not row.pinned and row.segment != segment:
                    _record(unit, cid, row, segment, list(row.tags), "rules", None, reason)
                    row.segment = segment
                    moved[cid] = (segment, list(row.tags))
                    changed += 1
                row.computed, row.reason, row.updated_at = segment, reason, now
        await raise_open_tickets(unit, desk.settings, moved, now)
    return changed


async def recompute_for_ticket(desk: Desk, ticket_id: int) -> int:
    """Recompute the segment of a ticket's client (after a survey answer, a complaint or a resolution)."""
    async with desk.sessions() as s:
        client_id = (await s.execute(select(Ticket.client_id).where(Ticket.id == ticket_id))).scalar_one_or_none()
    return await recompute_segments(desk, [client_id]) if client_id is not None else 0


async def pin_segment(desk: Desk, client_id: int, *, segment: str | None = None, tags: list[str] | None = None,
                      add_tags: list[str] = (), remove_tags: list[str] = (), unpin: bool = False, source: str = "cli",
                      operator_id: int | None = None, reason: str = "") -> ClientSegment:
    """Pin a segment (or unpin back to the rules) and set, add or remove tags; the change is recorded."""
    if segment is not None and segment not in SEGMENTS:
        raise InvalidInput("unknown segment {segment!r}; use one of {choices}", segment=segment, choices=", ".join(SEGMENTS))
    async with desk.sessions() as s:
        if await s.get(ClientSegment, client_id) is None and await s.get(Client, client_id) is not None:
            await recompute_segments(desk, [client_id])  # what the rules say comes first, so an unpin has it
    async with unit_of_work(desk) as unit:
        s = unit.session
        if await s.get(Client, client_id) is None:
            raise NotFound(f"client {client_id} not found")
        row = (await s.execute(select(ClientSegment).where(ClientSegment.client_id == client_id)
                               .with_for_update(key_share=True))).scalar_one_or_none()
        if row is None:
            row = ClientSegment(client_id=client_id, segment="core", computed="", pinned=False, tags=[], reason="", updated_at=utcnow())
            s.add(row)
            before = None
        else:
            before = ClientSegment(client_id=client_id, segment=row.segment, tags=list(row.tags))
        new_tags = clean_tags(tags) if tags is not None else list(row.tags or [])
        new_tags = clean_tags([*new_tags, *add_tags])
        new_tags = [t for t in new_tags if t not in set(clean_tags(remove_tags))]
        if unpin:
            row.pinned, row.segment = False, row.computed or row.segment
        elif segment is not None:
            row.pinned, row.segment = True, segment
        row.tags, row.updated_at = new_tags, utcnow()
        if before is None or before.segment != row.segment or list(before.tags) != new_tags or unpin or segment is not None:
            why = reason or ("unpinned: back to the rules" if unpin else f"pinned by {source}" if segment else "tags changed")
            _record(unit, client_id, before, row.segment, new_tags, source, operator_id, why)
        await s.flush()
        await raise_open_tickets(unit, desk.settings, {client_id: (row.segment, new_tags)}, row.updated_at)
        return row


async def import_segments(desk: Desk, text: str, operator_id: int | None = None) -> int:
    """CSV with the header client_id,segment,tags (tags separated by ';'; an empty segment keeps it); all or nothing."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "client_id" not in reader.fieldnames or not ({"segment", "tags"} & set(reader.fieldnames)):
        raise InvalidInput("the CSV needs the header client_id,segment,tags")
    rows = []
    for line, record in enumerate(reader, start=2):
        raw_id, segment = (record.get("client_id") or "").strip(), (record.get("segment") or "").strip().lower()
        if not raw_id.isdigit():
            raise InvalidInput("line {line}: client_id {value!r} is not a number", line=line, value=raw_id)
        if segment and segment not in SEGMENTS:
            raise InvalidInput("line {line}: unknown segment {segment!r}; use one of {choices}", line=line, segment=segment,
                               choices=", ".join(SEGMENTS))
        tags = [t for t in (record.get("tags") or "").split(";") if t.strip()] if "tags" in record else None
        rows.append((int(raw_id), segment or None, tags))
    async with desk.sessions() as s:
        known = set((await s.execute(select(Client.id).where(Client.id.in_([r[0] for r in rows] or [-1])))).scalars())
    missing = sorted({r[0] for r in rows} - known)
    if missing:
        raise InvalidInput("unknown client id(s): {ids}", ids=", ".join(map(str, missing[:10])))
    for client_id, segment, tags in rows:
        await pin_segment(desk, client_id, segment=segment, tags=tags, source="import", operator_id=operator_id)
    return len(rows)
