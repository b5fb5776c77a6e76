"""The ticket page: the client's history across channels, notes, the reply box and the ticket's controls."""
from __future__ import annotations

from aiohttp import web

from bot.access import Viewer
from bot.actions import audit
from bot.console.auth import Visit, operator_page
from bot.console.layout import ROUTING_HEADER, not_found, page
from bot.console.live import HUB
from bot.console.language import translator
from bot.console.present import ACTIVE, Shown, message_fields, note_fields, ticket_dict
from bot.console.routing_header import header, ticket_routing
from bot.dialogue.state import DialogueState
from bot.dialogue.summary import summary_note
from bot.feedback.config import SEVERITIES
from bot.storage import ticket_reads
from bot.storage.history import client_history_rows
from bot.storage.models import utcnow
from bot.web import DESK


HISTORY_SHOWN = 200  # messages a ticket page shows by default; the rest behind a link
HISTORY_LIMIT = 2000  # with ?history=all


Entry = Shown  # a timeline entry


def _fold_bot_parts(entries: list[dict], bot_parts: dict[int, tuple[int, int | None]]) -> list[dict]:
    """Each ticket's conversation with the bot, up to its hand-off, folded into one entry; the summary marked."""
    if not bot_parts:
        return entries
    folded: list[dict] = []
    summaries = {note for _, note in bot_parts.values() if note}
    for entry in entries:
        part = bot_parts.get(entry.get("ticket_id"))
        if entry["kind"] == "message" and part and entry["id"] <= part[0]:
            if folded and folded[-1]["kind"] == "botpart" and folded[-1]["ticket_id"] == entry["ticket_id"]:
                folded[-1]["messages"].append(entry)
                continue
            folded.append(Entry(kind="botpart", ticket_id=entry["ticket_id"], messages=[entry]))
            continue
        if entry["kind"] == "note" and entry["id"] in summaries:
            entry = Entry(entry, summary=True)
        folded.append(entry)
    return folded


def _timeline(messages, notes, tickets, current_id: int, client_name: str, zone,
              bot_parts: dict[int, tuple[int, int | None]] | None = None, files=None) -> list[dict]:
    """Messages (history rows, their attachments in `files` by message id) and notes in time order, with a
    divider wherever the ticket changes."""
    files = files or {}
    numbers = {t.id: t for t in tickets}
    items = [(m.created_at, 0, m.id, m.ticket_id, "message", m) for m in messages]
    items += [(n.created_at, 1, n.id, n.ticket_id, "note", n) for n in notes]
    entries, last_ticket = [], None if len(tickets) > 1 else current_id  # one ticket needs no divider
    for _, _, _, ticket_id, kind, item in sorted(items, key=lambda i: i[:3]):
        t = numbers[ticket_id]
        if ticket_id != last_ticket:
            entries.append(Entry(kind="divider", number=t.number, channel=t.channel, status=t.status,
                                 current=ticket_id == current_id))
            last_ticket = ticket_id
        if kind == "message":
            data = message_fields(item, item.operator_name, files.get(item.id, ()), t.number, client_name, zone)
        else:
            data = note_fields(item, item.operator_name, t.number, zone)
        entries.append(Entry(data, kind=kind, ticket_id=ticket_id))
    return _fold_bot_parts(entries, bot_parts or {})


def _summaries_in_viewers_language(timeline: list[dict], summaries: dict, t) -> None:
    """The bot's hand-off summaries written again in the viewer's language (the stored note is in the desk's)."""
    if not summaries:
        return
    for entry in timeline:
        found = summaries.get(entry.get("id")) if entry.get("summary") else None
        if found and found[1]:
            state, reason, count = found
            entry["text"] = summary_note(DialogueState.from_json(state), t, reason=reason, bot_messages=count)


def _canned(settings, language: str) -> list:
    """Canned responses in the ticket's language first, then English ones."""
    wanted = [language or settings.desk.default_language, "en"]
    return sorted((c for c in settings.canned_responses if c.language in wanted),
                  key=lambda c: (wanted.index(c.language), c.title))


def can_take(viewer: Viewer, assignee_id: int | None) -> bool:
    return assignee_id != viewer.id and (assignee_id is None or viewer.can_assign_others())


async def show_ticket(request: web.Request, visit: Visit, number: int, *, status: int = 200, error: str = "",
                      draft: str = "", note_draft: str = "") -> web.Response:
    """Render the page of a ticket the viewer may see; anything else is the same 404.

    One session and about ten statements (bot/storage/ticket_reads.py), the routing header's among them.
    """
    viewer, desk = visit.viewer, request.app[DESK]
    # The newest messages only, unless asked for the whole history: a page of thousands renders slowly.
    everything = request.query.get("history") == "all"
    async with desk.sessions() as s:
        all_tickets, facts = await ticket_reads.client_tickets_by_number(s, number)
        row = next((t for t in all_tickets if t.number == number), None)
        details = None
        if row is not None and viewer.can_see_ticket(row.queue_id, row.assignee_id):
            details = await ticket_reads.ticket_details(s, row.id, viewer.id, audit.READ,
                                                        audit.utcnow() - audit.READ_WINDOW)
        if details is None:
            if ROUTING_HEADER not in request:  # the middleware leaves a ticket page's header to the page
                found = await ticket_reads.viewer_header(s, viewer.id)
                if found is not None:
                    request[ROUTING_HEADER] = header(found[0], found[1], request.path_qs)
        else:
            identities = await ticket_reads.identities(s, row.client_id)
            # The history shows only tickets the viewer may see: other queues' tickets stay closed to them.
            tickets = [t for t in all_tickets if viewer.can_see_ticket(t.queue_id, t.assignee_id)]
            ids = sorted(t.id for t in tickets)
            history, files = await client_history_rows(s, row.client_id,
                                                       limit=HISTORY_LIMIT if everything else HISTORY_SHOWN)
            shown = set(ids)
            messages = [m for m in history if m.ticket_id in shown]
            notes = await ticket_reads.notes(s, [i for i in ids if facts[i][1]])
            handoffs = await ticket_reads.handoffs(s, [i for i in ids if facts[i][2]])
            queue_names, operators = await ticket_reads.transfer_choices(s)
            complaints, follow_ups = await ticket_reads.complaints_and_follow_ups(s, details, row.id)
    if details is None:
        return not_found(request, visit)
    if not details.read_recorded:
        # Checked again under the write lock there; most views fall in an hour already recorded, and
        # spare their write transaction (and, on SQLite, the wait for the process's writer turn).
        await audit.record_read(desk, viewer.id, "console", ticket_id=row.id)
    zone = request.app[HUB].zone
    tr = translator(request, desk.settings.desk.default_language)
    bot_parts = {tid: (last, (state or {}).get("summary_note_id")) for tid, last, _, state, _ in handoffs}
    summaries = {(state or {})["summary_note_id"]: (state, reason, count)
                 for _, _, reason, state, count in handoffs if (state or {}).get("summary_note_id")}
    timeline = _timeline(messages, notes, tickets, row.id, row.client_name, zone, bot_parts, files)
    _summaries_in_viewers_language(timeline, summaries, tr)
    routing = request.get(ROUTING_HEADER)
    if routing is None and details.viewer_status is not None:
        routing = header(details.viewer_status, details.viewer_unread, request.path_qs)
    if routing is not None:
        routing = {**routing, "ticket": ticket_routing(details, row.status, row.assignee_id, viewer.id, utcnow(),
                                                       tr.gettext)}
    client = Shown(display_name=details.client_display_name, email=details.client_email, phone=details.client_phone,
                   language=details.client_language)
    return page(
        request, visit, "ticket.html", status, routing=routing,
        ticket=ticket_dict(row, zone), client=client, identities=identities,
        timeline=timeline,
        other_tickets=[ticket_dict(t, zone) for t in tickets if t.id != row.id],
        hidden_tickets=len(all_tickets) - len(tickets), canned=_canned(desk.settings, row.language or client.language),
        queues=queue_names, operators=operators, can_take=can_take(viewer, row.assignee_id),
        is_active=row.status in ACTIVE, can_reply=row.status != "closed",
        error=error, draft=draft, note_draft=note_draft,
        feedback=_feedback(desk.settings, details, complaints, follow_ups),
        links={"previous": details.previous, "mentioned": details.mentioned},
        earlier=0 if everything else sum(facts[i][0] for i in ids) - len(messages))


def _feedback(settings, details, complaints: list, follow_ups: list) -> dict:
    """The feedback card's context, as bot/feedback/console_pages.ticket_feedback builds it (survey and
    segment from the details row)."""
    survey = Shown(status=details.survey_status, score=details.survey_score, comment=details.survey_comment,
                   skip_reason=details.survey_skip_reason) if details.survey_id is not None else None
    segment = Shown(segment=details.segment, pinned=details.segment_pinned, tags=details.segment_tags) \
        if details.segment is not None else None
    return {"survey": survey, "complaints": complaints, "follow_ups": follow_ups, "segment": segment,
            "categories": settings.feedback.complaints.categories, "severities": SEVERITIES}


@operator_page
async def ticket_view(request: web.Request, visit: Visit) -> web.Response:
    return await show_ticket(request, visit, int(request.match_info["number"]))
