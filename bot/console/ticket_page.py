"""The ticket page: the client's history across channels, notes, the reply box and the ticket's controls."""
from __future__ import annotations

from aiohttp import web

from bot.access import Viewer
from bot.actions.audit import record_read
from bot.console.auth import Visit, operator_page
from bot.console.layout import not_found, page
from bot.console.live import HUB
from bot.console.language import translator
from bot.console.present import ACTIVE, Shown, message_fields, note_dict, ticket_dict
from bot.dialogue.state import DialogueState
from bot.dialogue.summary import summary_note
from bot.feedback.console_pages import ticket_feedback
from bot.storage import queries
from bot.storage.history import client_history_rows
from bot.web import DESK


HISTORY_SHOWN = 200  # messages a ticket page shows by default; the rest behind a link
HISTORY_LIMIT = 2000  # with ?history=all


Entry = Shown  # a timeline entry


def _fold_bot_parts(entries: list[dict], bot_parts: dict[int, tuple[int, int | None]]) -> list[dict]:
    """Each ticket's conversation with the bot, up to its hand-off, folded into one entry; the summary marked."""
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
            data = note_dict(item, t.number, zone)
        entries.append(Entry(data, kind=kind, ticket_id=ticket_id))
    return _fold_bot_parts(entries, bot_parts or {})


def _summaries_in_viewers_language(timeline: list[dict], summaries: dict, t) -> None:
    """The bot's hand-off summaries written again in the viewer's language (the stored note is in the desk's)."""
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
    """Render the page of a ticket the viewer may see; anything else is the same 404."""
    viewer, desk = visit.viewer, request.app[DESK]
    async with desk.sessions() as s:
        row = await queries.ticket_row_by_number(s, number)
        if row is None or not viewer.can_see_ticket(row.queue_id, row.assignee_id):
            return not_found(request, visit)
        client, identities = await queries.client_card(s, row.client_id)
        all_tickets = await queries.client_ticket_rows(s, row.client_id)
        # The history shows only tickets the viewer may see: other queues' tickets stay closed to them.
        tickets = [t for t in all_tickets if viewer.can_see_ticket(t.queue_id, t.assignee_id)]
        ids = {t.id for t in tickets}
        # The newest messages only, unless asked for the whole history: a page of thousands renders slowly.
        everything = request.query.get("history") == "all"
        history, files = await client_history_rows(s, row.client_id, limit=HISTORY_LIMIT if everything else HISTORY_SHOWN)
        messages = [m for m in history if m.ticket_id in ids]
        earlier = 0 if everything else await queries.count_messages(s, sorted(ids)) - len(messages)
        notes = await queries.notes_of_tickets(s, sorted(ids))
        bot_parts = await queries.bot_parts(s, sorted(ids))
        summaries = await queries.bot_summaries(s, sorted(ids))
        queue_names = await queries.queue_names(s)
        links = await queries.ticket_links(s, row.id)
        operators = await queries.operators_for_transfer(s)
        feedback = await ticket_feedback(s, desk.settings, row.id, row.client_id)
    await record_read(desk, viewer.id, "console", ticket_id=row.id)
    zone = request.app[HUB].zone
    timeline = _timeline(messages, notes, tickets, row.id, row.client_name, zone, bot_parts, files)
    _summaries_in_viewers_language(timeline, summaries, translator(request, desk.settings.desk.default_language))
    return page(
        request, visit, "ticket.html", status,
        ticket=ticket_dict(row, zone), client=client, identities=identities,
        timeline=timeline,
        other_tickets=[ticket_dict(t, zone) for t in tickets if t.id != row.id],
        hidden_tickets=len(all_tickets) - len(tickets), canned=_canned(desk.settings, row.language or client.language),
        queues=queue_names, operators=operators, can_take=can_take(viewer, row.assignee_id),
        is_active=row.status in ACTIVE, can_reply=row.status != "closed",
        error=error, draft=draft, note_draft=note_draft, feedback=feedback, links=links, earlier=earlier)


@operator_page
async def ticket_view(request: web.Request, visit: Visit) -> web.Response:
    return await show_ticket(request, visit, int(request.match_info["number"]))
