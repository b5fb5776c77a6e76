"""Wire feedback into the app: the worker, the listeners, the survey page and the managers' console pages."""
from __future__ import annotations

from pathlib import Path
from typing import AsyncIterator

from aiohttp import web

from bot.events import ComplaintChanged, SurveyAnswered, TicketChanged, TicketResolved
from bot.feedback.console_pages import console_routes
from bot.feedback.listeners import complaints_queue_listener, segment_listener
from bot.feedback.survey_page import STATIC, survey_routes
from bot.feedback.worker import DigestMail, FeedbackWorker, SegmentSweep
from bot.web import DESK, PUBLIC_URL

FEEDBACK = web.AppKey("feedback_worker", FeedbackWorker)
STATIC_DIR = Path(__file__).resolve().parent / "static"


def setup_feedback(app: web.Application) -> None:
    """Call after the storage and channel contexts are registered: the worker needs a migrated database."""
    desk = app[DESK]
    worker = FeedbackWorker(desk, app[PUBLIC_URL], passes=(SegmentSweep(), DigestMail(app[PUBLIC_URL])))
    app[FEEDBACK] = worker
    listeners = [(TicketChanged, complaints_queue_listener(desk))]
    on_feedback = segment_listener(desk)
    listeners += [(kind, on_feedback) for kind in (SurveyAnswered, ComplaintChanged, TicketResolved)]

    async def run(app: web.Application) -> AsyncIterator[None]:
        for kind, listener in listeners:
            desk.bus.subscribe(kind, listener)
        await worker.start()
        yield
        await worker.stop()
        for kind, listener in listeners:
            desk.bus.unsubscribe(kind, listener)

    app.cleanup_ctx.append(run)
    app.router.add_routes(survey_routes())
    app.router.add_routes(console_routes())
    app.router.add_static("/feedback/static", STATIC_DIR, name=STATIC, append_version=True)
