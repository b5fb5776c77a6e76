"""Wire feedback into the app: the worker, the listeners, the survey page and the managers' console pages."""
from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from bot.events import TicketChanged
from bot.feedback.console_pages import console_routes
from bot.feedback.listeners import complaints_queue_listener
from bot.feedback.survey_page import STATIC, survey_routes
from bot.feedback.worker import FeedbackWorker
from bot.web import DESK, PUBLIC_URL

FEEDBACK = web.AppKey("feedback_worker", FeedbackWorker)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def setup_feedback(app: web.Application) -> None:
    """Call after the storage and channel contexts are registered: the worker needs a migrated database."""
    desk = app[DESK]
    worker = FeedbackWorker(desk, app[PUBLIC_URL])
    app[FEEDBACK] = worker
    on_ticket_changed = complaints_queue_listener(desk)

    async def run(app: web.Application) -> AsyncIterator[None]:
        desk.bus.subscribe(TicketChanged, on_ticket_changed)
        await worker.start()
        yield
        await worker.stop()
        desk.bus.unsubscribe(TicketChanged, on_ticket_changed)

    app.cleanup_ctx.append(run)
    app.router.add_routes(survey_routes())
    app.router.add_routes(console_routes())
    app.router.add_static("/feedback/static", STATIC_DIR, name=STATIC, append_version=True)
