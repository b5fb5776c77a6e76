"""Bring the database in line with the configuration: queues, and the demo's operators."""
from __future__ import annotations

from sqlalchemy import select

from bot.actions.context import Desk, unit_of_work
from bot.actions.operators import create_operator
from bot.storage.models import Operator, Queue


async def sync_queues(desk: Desk) -> None:
    """Create configured queues that are missing and update their titles (queues are never dropped)."""
    async with unit_of_work(desk) as unit:
        existing = {q.name: q for q in (await unit.session.execute(select(Queue))).scalars()}
        for configured in desk.settings.queues:
            title = configured.title or configured.name.title()
            if configured.name in existing:
                existing[configured.name].title = title
            else:
                unit.session.add(Queue(name=configured.name, title=title))


async def seed_demo_operators(desk: Desk) -> list[str]:
    """Create the configured demo operators that do not exist yet; returns the usernames created."""
    created = []
    for op in desk.settings.demo_operators:
        async with desk.sessions() as s:
            if (await s.execute(select(Operator.id).where(Operator.username == op.username))).first():
                continue
        await create_operator(desk, op.username, op.display_name, op.password, op.role, list(op.queues), list(op.languages))
        created.append(op.username)
    return created
