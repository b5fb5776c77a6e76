"""The ticket page's forms: each parses its fields, calls one action and redirects back (POST/redirect/GET)."""
from __future__ import annotations

from typing import Awaitable, Callable

from aiohttp import web

from bot.actions import tickets as actions
from bot.console.auth import Visit, operator_page
from bot.console.layout import error_page, error_text, not_found
from bot.console.login import see_other
from bot.console.ticket_page import show_ticket
from bot.domain import Attachment
from bot.errors import Forbidden, InvalidInput, NotFound
from bot.storage import queries
from bot.domain import safe_filename
from bot.web import DESK

MAX_FILES = 10
Act = Callable[[int], Awaitable[object]]


async def _run(request: web.Request, visit: Visit, act: Act, *, draft: str = "", note_draft: str = "") -> web.Response:
    """Find the visible ticket by number, run the action, and answer the way every form here does."""
    number = int(request.match_info["number"])
    desk = request.app[DESK]
    async with desk.sessions() as s:
        row = await queries.ticket_row_by_number(s, number)
    if row is None or not visit.viewer.can_see_ticket(row.queue_id, row.assignee_id):
        return not_found(request, visit)
    try:
        await act(row.id)
    except NotFound:
        return not_found(request, visit)
    except Forbidden as exc:
        return error_page(request, visit, 403, error_text(request, exc))
    except InvalidInput as exc:
        return await show_ticket(request, visit, number, status=400, error=error_text(request, exc), draft=draft, note_draft=note_draft)
    async with desk.sessions() as s:
        still = await queries.ticket_row_by_id(s, row.id)
    # A transfer can move the ticket out of the viewer's sight: back to the list then.
    if still is None or not visit.viewer.can_see_ticket(still.queue_id, still.assignee_id):
        return see_other("/console")
    return see_other(f"/console/tickets/{number}")


def _files(form, desk) -> tuple[Attachment, ...]:
    """Uploaded files, checked against the desk's size and type limits."""
    uploads = [f for f in form.getall("files", []) if isinstance(f, web.FileField) and f.filename]
    if len(uploads) > MAX_FILES:
        raise InvalidInput("attach at most {limit} files to one reply", limit=MAX_FILES)
    attachments = []
    for upload in uploads:
        data = upload.file.read()
        desk.files.check(upload.filename, upload.content_type, len(data))
        attachments.append(Attachment(safe_filename(upload.filename), upload.content_type, len(data), data=data))
    return tuple(attachments)


@operator_page
async def reply(request: web.Request, visit: Visit) -> web.Response:
    """Queue a reply to the client; replying to an unassigned ticket assigns it to the replier."""
    form = await request.post()
    text = str(form.get("text", ""))
    desk = request.app[DESK]

    async def act(ticket_id: int) -> None:
        await actions.reply_to_ticket(desk, visit.viewer, ticket_id, text, _files(form, desk))

    return await _run(request, visit, act, draft=text)


@operator_page
async def note(request: web.Request, visit: Visit) -> web.Response:
    text = str((await request.post()).get("text", ""))
    return await _run(request, visit, lambda tid: actions.add_note(request.app[DESK], visit.viewer, tid, text),
                      note_draft=text)


@operator_page
async def take(request: web.Request, visit: Visit) -> web.Response:
    return await _run(request, visit, lambda tid: actions.take_ticket(request.app[DESK], visit.viewer, tid))


@operator_page
async def resolve(request: web.Request, visit: Visit) -> web.Response:
    return await _run(request, visit, lambda tid: actions.resolve_ticket(request.app[DESK], visit.viewer, tid))


@operator_page
async def reopen(request: web.Request, visit: Visit) -> web.Response:
    return await _run(request, visit, lambda tid: actions.reopen_ticket(request.app[DESK], visit.viewer, tid))


@operator_page
async def transfer(request: web.Request, visit: Visit) -> web.Response:
    """Move the ticket to another queue and/or operator, with a note for whoever picks it up."""
    form = await request.post()
    queue = str(form.get("queue", "")).strip() or None
    operator = str(form.get("operator", "")).strip() or None
    text = str(form.get("note", ""))
    return await _run(request, visit, lambda tid: actions.transfer_ticket(
        request.app[DESK], visit.viewer, tid, queue=queue, operator=operator, note=text), note_draft="")
