"""Helpers for routing tests: a desk with router settings, operators at work, tickets through the inbox."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import count

from sqlalchemy import func, select

from bot.actions.assignment import set_operator_routing, set_operator_status
from bot.actions.context import Desk
from bot.actions.inbox import receive_message
from bot.actions.operators import create_operator
from bot.actions.setup import sync_queues
from bot.domain import InboundMessage
from bot.events import EventBus
from bot.storage.engine import create_engine, session_factory
from bot.storage.files import AttachmentStore
from bot.storage.migrate import upgrade
from bot.storage.models import AuditEvent, Operator, Ticket
from router.classifier import Prediction
from router.routing import TicketRouter
from tests.conftest import make_settings

QUEUES = ["general", "billing", "delivery", "returns", "complaints"]
_ids = count(1)


@dataclass
class FixedClassifier:
    queue: str = "delivery"
    confidence: float = 0.9

    def predict(self, text: str, folded: str | None = None) -> Prediction:
        return Prediction(self.queue, self.confidence)

    def predict_many(self, texts):
        return [self.predict(t) for t in texts]


def fixed_router(queue: str = "delivery") -> TicketRouter:
    return TicketRouter([], FixedClassifier(queue), triage_queue="general", queues=QUEUES)


async def open_desk(tmp_path, database_url: str, **overrides) -> Desk:
    settings = make_settings(tmp_path, database_url, queues=[{"name": q} for q in QUEUES], **overrides)
    engine = create_engine(settings.database_url)
    await upgrade(engine)
    desk = Desk(session_factory(engine), EventBus(), settings,
                AttachmentStore(settings.attachments_dir, settings.attachments.max_bytes, settings.attachments.allowed_types))
    await sync_queues(desk)
    return desk


async def close_desk(desk: Desk) -> None:
    await desk.bus.drain()
    await desk.sessions.kw["bind"].dispose()


async def add_operator(desk: Desk, name: str, queues=("delivery",), languages=("en",), *, role="operator",
                       capacity=None, levels=None, status="online", now: datetime | None = None) -> int:
    op_id = await create_operator(desk, name, name.title(), "password-123", role, list(queues), list(languages))
    await set_operator_routing(desk, name, capacity=capacity or {"webchat": 2, "telegram": 2, "email": 5}, levels=levels)
    if status != "offline":
        await set_operator_status(desk, op_id, status, now)
    return op_id


async def client_writes(desk: Desk, text: str = "Where is my parcel?", *, user: str | None = None,
                        channel: str = "webchat", language: str = "en") -> int:
    user = user or f"client-{next(_ids)}"
    receipt = await receive_message(desk, InboundMessage(
        channel=channel, user_id=user, chat_id=user, message_id=f"{user}:{next(_ids)}", text=text,
        sent_at=datetime.now(timezone.utc), locale_hint=language))
    return receipt.ticket_id


async def ticket(desk: Desk, ticket_id: int) -> Ticket:
    async with desk.sessions() as s:
        return await s.get(Ticket, ticket_id)


async def username_of(desk: Desk, operator_id: int | None) -> str | None:
    if operator_id is None:
        return None
    async with desk.sessions() as s:
        return (await s.get(Operator, operator_id)).username


async def audits(desk: Desk, kind: str, ticket_id: int | None = None) -> int:
    async with desk.sessions() as s:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == kind)
        if ticket_id is not None:
            query = query.where(AuditEvent.ticket_id == ticket_id)
        return (await s.execute(query)).scalar_one()
