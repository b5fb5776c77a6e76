"""Wire the router into the app: the model loads once at start-up (off the event loop), the worker runs."""
from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator

from aiohttp import web

from bot.actions.assignment import set_operator_routing
from bot.config import Settings
from bot.dispatch import RoutingWorker
from bot.web import DESK
from router.routing import TicketRouter

logger = logging.getLogger(__name__)
ROUTING = web.AppKey("routing_worker", RoutingWorker)


def _rules_only(settings: Settings) -> TicketRouter:
    from router.hours import BusinessHours
    from router.rules import rule_from_config

    hours = settings.router.business_hours
    calendar = BusinessHours.from_config(settings.desk.time_zone, hours.days, hours.start, hours.end, hours.holidays)
    return TicketRouter([rule_from_config(r.model_dump(), calendar) for r in settings.router.rules], None,
                        triage_queue=settings.router.triage_queue or settings.desk.default_queue,
                        queues=[q.name for q in settings.queues])


def load_router(settings: Settings) -> TicketRouter:
    """The configured TicketRouter (rules + model); without a usable model, rules only and the rest to triage."""
    if not settings.router.classify:
        return _rules_only(settings)
    from bot.cli_router import build_router
    from router.errors import RouterError

    try:
        router, path = build_router(settings)
    except RouterError as exc:
        logger.error("the router model cannot be used (%s): routing by rules only, the rest to triage", exc)
        return _rules_only(settings)
    logger.info("router model loaded from %s", path)
    return router


def setup_routing(app: web.Application, router: TicketRouter | None = None) -> RoutingWorker:
    """Add the routing worker and its console pages; `router` given (tests) skips loading the model."""
    from bot.console.live import HUB
    from bot.console.routing_pages import setup_routing_pages

    desk = app[DESK]

    def present() -> set[int]:
        hub = app.get(HUB)
        return {c.viewer.id for c in hub.connections} if hub else set()

    worker = RoutingWorker(desk, router, present)
    app[ROUTING] = worker

    async def run(app: web.Application) -> AsyncIterator[None]:
        for op in desk.settings.demo_operators:  # capacity and levels of the demo's operators, as configured
            if op.capacity or op.levels:
                await set_operator_routing(desk, op.username, capacity=dict(op.capacity) or None, levels=dict(op.levels))
        if worker.router is None:
            worker.router = await asyncio.to_thread(load_router, desk.settings)
        await worker.start()
        yield
        await worker.stop()

    app.cleanup_ctx.append(run)
    setup_routing_pages(app)
    return worker
