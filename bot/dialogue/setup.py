"""Build self-service from the settings and run its worker with the application."""
from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import AsyncIterator

from aiohttp import web

from bot.config import Settings
from bot.dialogue.flow import SelfService
from bot.dialogue.forms import FieldReader, FormRule
from bot.dialogue.i18n import default_catalogs
from bot.dialogue.knowledge import load_knowledge_base
from bot.dialogue.language import LanguageDetector
from bot.dialogue.retrieval import FaqIndex
from bot.dialogue.worker import DialogueWorker
from router.hours import BusinessHours

logger = logging.getLogger(__name__)
DIALOGUE = web.AppKey("dialogue", DialogueWorker)


def build_self_service(settings: Settings, *, guess_queue=None) -> SelfService:
    """Everything the dialogue needs, read once: catalogs, the knowledge base and its index, forms, hours."""
    bot = settings.bot
    catalogs = default_catalogs()
    replies_in = frozenset(bot.languages or catalogs.languages) & frozenset(catalogs.languages) or frozenset({"en"})
    markers = {lang: t.own_words("markers") for lang, t in catalogs.translators.items()}
    faq = _index(bot.knowledge_base) if bot.knowledge_base else None
    hours = settings.router.business_hours
    return SelfService(
        catalogs=catalogs, detector=LanguageDetector(bot.detect_languages, markers), faq=faq,
        reader=FieldReader(bot.order_number_pattern),
        forms=tuple(FormRule(f.queues, f.channels, f.fields) for f in bot.forms),
        hours=BusinessHours.from_config(settings.desk.time_zone, hours.days, hours.start, hours.end, hours.holidays),
        desk_name=settings.desk.name, default_language=settings.desk.default_language, reply_languages=replies_in,
        welcome=dict(bot.welcome), threshold=bot.faq_threshold, order_example=bot.order_number_example,
        response_minutes=bot.response_minutes, extra_handoff_words=dict(bot.handoff_words), guess_queue=guess_queue)


def _index(folder) -> FaqIndex:
    kb = load_knowledge_base(folder)
    if not kb.articles:
        logger.warning("the knowledge base %s has no articles: the bot will hand every question over", folder)
    return FaqIndex(kb)


@lru_cache(maxsize=4)
def _router(queues: tuple[str, ...], triage: str, threshold: float, rules_key: str, data_dir: str, model_path: str,
            classifier=None):
    import json

    from router.factory import create_router

    return create_router(queues=queues, triage_queue=triage, confidence_threshold=threshold,
                         rules=json.loads(rules_key), data_dir=data_dir, model_path=model_path or None,
                         classifier=classifier)


def queue_guesser(settings: Settings, classifier=None):
    """(text, language) -> (queue, confidence), from the router's own rules and model (loaded once per process;
    ``classifier``: the routing worker's model, shared, so the router finds the guess's prediction remembered)."""
    import json

    r = settings.router
    router = _router(tuple(q.name for q in settings.queues), r.triage_queue or settings.desk.default_queue,
                     r.confidence_threshold, json.dumps([rule.model_dump(mode="json") for rule in r.rules]),
                     str(settings.desk.data_dir), str(r.model_path or ""), classifier)

    def guess(text: str, language: str):
        decision = router.route(text, language=language)
        return decision.queue, decision.confidence
    return guess


def setup_self_service(app: web.Application) -> None:
    """With `[bot] enabled`, run the dialogue worker beside the channels (started after them, stopped before)."""
    from bot.web import DESK

    desk = app[DESK]
    settings = desk.settings
    if not settings.bot.enabled:
        return
    service = build_self_service(settings)
    worker = DialogueWorker(desk, service)
    app[DIALOGUE] = worker

    async def run(app: web.Application) -> AsyncIterator[None]:
        # The detector's model and the router's are loaded off the event loop, before the first pass.
        await asyncio.to_thread(service.detector.warm_up)
        if settings.bot.guess_queue:
            from bot.routing_app import ROUTING

            routing = app.get(ROUTING)  # started before self-service, its model already loaded
            shared = routing.router.classifier if routing is not None and routing.router is not None else None
            try:
                service.guess_queue = await asyncio.to_thread(queue_guesser, settings, shared)
            except Exception:
                logger.exception("the router's model could not be loaded; the bot will not guess queues")
        await worker.start()
        yield
        await worker.stop()

    app.cleanup_ctx.append(run)
