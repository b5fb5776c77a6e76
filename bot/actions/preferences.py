"""An operator's own console settings: the language the console speaks to them."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from bot.actions.context import Desk, unit_of_work
from bot.errors import InvalidInput
from bot.storage.models import Operator

LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(?:_[A-Z]{2})?$")


async def console_language_of(desk: Desk, username: str) -> str:
    """An operator's stored console language by username; "" when they never chose or do not exist."""
    async with desk.sessions() as s:
        return (await s.execute(select(Operator.console_language).where(Operator.username == username))).scalar_one_or_none() or ""


async def set_console_language(desk: Desk, operator_id: int, language: str, available: list[str]) -> None:
    """Store the operator's console language; "" forgets the choice. Only languages with a catalog are accepted."""
    if language and (not LANGUAGE_CODE.match(language) or language not in available):
        raise InvalidInput("there is no console language {language!r}; choose one of {choices}", language=language[:20],
                           choices=", ".join(available))
    async with unit_of_work(desk) as unit:
        await unit.session.execute(update(Operator).where(Operator.id == operator_id).values(console_language=language))
