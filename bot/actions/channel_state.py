"""Small durable state a channel keeps between runs (an IMAP mailbox's cursor, a polling offset)."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from bot.actions.context import Desk, unit_of_work
from bot.storage.models import ChannelState, utcnow


async def save_channel_state(desk: Desk, channel: str, key: str, value: dict) -> None:
    """Write (insert or replace) one state value; commits before returning."""
    for attempt in range(2):
        try:
            async with unit_of_work(desk) as unit:
                row = await unit.session.get(ChannelState, (channel, key))
                if row is None:
                    unit.session.add(ChannelState(channel=channel, key=key, value=dict(value), updated_at=utcnow()))
                else:
                    row.value = dict(value)
                    row.updated_at = utcnow()
            return
        except IntegrityError:  # another process inserted the same key first: replace its value
            if attempt:
                raise
